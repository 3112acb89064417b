// The sys crate's rpath reaches only its own tests, so this package's tests and examples get
// the folder of libparakeet_trt from the sys crate's `links` metadata.
fn main() {
    if let Ok(dir) = std::env::var("DEP_PARAKEET_TRT_LIB_DIR") {
        if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
        println!("cargo:rustc-env=PARAKEET_TRT_LINKED_LIB_DIR={dir}");
    }
}
