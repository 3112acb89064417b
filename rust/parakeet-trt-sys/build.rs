//! Finds libparakeet_trt and tells rustc to link it, with an rpath so that tests and examples
//! run without LD_LIBRARY_PATH.
//!
//! Search order (the first folder holding the shared library wins):
//!  1. `PARAKEET_TRT_LIB_DIR`;
//!  2. the installed Python package's `lib/` folder, asked of `python3` and then of the repo's
//!     `.venv/bin/python` (skipped when `PARAKEET_TRT_BUILD_FROM_SOURCE` is set, for developers
//!     whose C++ is newer than their installed wheel);
//!  3. a CMake build of this repository into `rust/target/cmake` (target `parakeet_trt` only).
//!
//! Dependent build scripts receive the folder as `DEP_PARAKEET_TRT_LIB_DIR` and the header folder
//! as `DEP_PARAKEET_TRT_INCLUDE` (cargo's `links` metadata).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn target_os() -> String {
    // cfg!(target_os) in a build script describes the host, not the target.
    env::var("CARGO_CFG_TARGET_OS").unwrap_or_default()
}

fn library_file_name() -> &'static str {
    match target_os().as_str() {
        "macos" => "libparakeet_trt.dylib",
        "windows" => "parakeet_trt.dll",
        _ => "libparakeet_trt.so",
    }
}

fn has_library(dir: &Path) -> bool {
    dir.join(library_file_name()).is_file()
}

/// `<package>/lib` of the parakeet_trt Python package importable by `python`, if any.
fn python_package_lib_dir(python: &Path) -> Option<PathBuf> {
    let output = Command::new(python)
        .args(["-c", "import parakeet_trt, os; print(os.path.dirname(parakeet_trt.__file__))"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let package_dir = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    let lib_dir = package_dir.join("lib");
    has_library(&lib_dir).then_some(lib_dir)
}

fn cmake_build(repo: &Path, build_dir: &Path) -> PathBuf {
    let run = |command: &mut Command| {
        let status = command.status().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        if !status.success() {
            panic!(
                "{command:?} failed ({status}). Set PARAKEET_TRT_LIB_DIR to a folder holding {} instead.",
                library_file_name()
            );
        }
    };
    run(Command::new("cmake")
        .arg("-S")
        .arg(repo)
        .arg("-B")
        .arg(build_dir)
        .args(["-DPARAKEET_TRT_BUILD_PYTHON=OFF", "-DPARAKEET_TRT_BUILD_TESTS=OFF", "-DCMAKE_BUILD_TYPE=Release"]));
    let jobs = env::var("NUM_JOBS").unwrap_or_else(|_| "2".to_string());
    run(Command::new("cmake")
        .arg("--build")
        .arg(build_dir)
        .args(["--target", "parakeet_trt", "--parallel", &jobs]));
    build_dir.to_path_buf()
}

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace_dir = manifest_dir.parent().unwrap().to_path_buf(); // rust/
    let repo = workspace_dir.parent().unwrap().to_path_buf();
    let include_dir = repo.join("cpp").join("include");

    println!("cargo:rerun-if-env-changed=PARAKEET_TRT_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PARAKEET_TRT_BUILD_FROM_SOURCE");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", include_dir.join("parakeet_trt/parakeet_trt.h").display());

    let lib_dir = if let Some(dir) = env::var_os("PARAKEET_TRT_LIB_DIR") {
        let dir = PathBuf::from(dir);
        if !has_library(&dir) {
            panic!("PARAKEET_TRT_LIB_DIR={} holds no {}", dir.display(), library_file_name());
        }
        dir
    } else {
        let from_python = if env::var_os("PARAKEET_TRT_BUILD_FROM_SOURCE").is_some() {
            None
        } else {
            python_package_lib_dir(Path::new("python3"))
                .or_else(|| python_package_lib_dir(&repo.join(".venv").join("bin").join("python")))
        };
        match from_python {
            Some(dir) => dir,
            None => {
                // Rebuilt (incrementally) whenever the C++ sources change.
                println!("cargo:rerun-if-changed={}", repo.join("cpp").join("src").display());
                println!("cargo:rerun-if-changed={}", repo.join("CMakeLists.txt").display());
                cmake_build(&repo, &workspace_dir.join("target").join("cmake"))
            }
        }
    };
    let lib_dir = lib_dir.canonicalize().unwrap_or(lib_dir);

    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib=parakeet_trt");
    // Only this package's own tests get this rpath; dependents read DEP_PARAKEET_TRT_LIB_DIR.
    if target_os() != "windows" {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    }
    println!("cargo:lib_dir={}", lib_dir.display());
    println!("cargo:include={}", include_dir.display());
    println!("cargo:rustc-env=PARAKEET_TRT_LINKED_LIB_DIR={}", lib_dir.display());
    println!("cargo:rustc-env=PARAKEET_TRT_INCLUDE_DIR={}", include_dir.display());
}
