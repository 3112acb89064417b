#include "core/verified_stamps.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/sha256.hpp"

namespace parakeet_trt {
namespace fs = std::filesystem;

namespace {

thread_local bool g_last_stamped = false;

// CONTRACT: a stamp stands for a hash only while every field of the file's identity is unchanged.
// SOURCE: stat(2): st_dev, st_ino, st_size, st_mtim, st_ctim (ctime is set by the kernel on every
// write and every utime/utimensat call, and cannot be set by the caller).
// WHY: skip re-hashing unchanged multi-GB graphs without letting an edited file pass unhashed.
std::string identity_line(const struct stat& st, const std::string& canonical) {
  std::ostringstream os;
  os << "ptrt-verified-stamp 1\n"
     << "path " << canonical << "\n"
     << "dev " << static_cast<unsigned long long>(st.st_dev) << "\n"
     << "ino " << static_cast<unsigned long long>(st.st_ino) << "\n"
     << "size " << static_cast<long long>(st.st_size) << "\n"
     << "mtime_ns " << static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec << "\n"
     << "ctime_ns " << static_cast<long long>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec << "\n";
  return os.str();
}

std::string stamp_path(const std::string& folder, const std::string& canonical) {
  Sha256 digest;
  digest.update(canonical.data(), canonical.size());
  return folder + "/" + digest.hex_digest() + ".stamp";
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

void write_stamp(const std::string& folder, const std::string& file, const std::string& text) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) return;
  const std::string staged = file + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(staged, std::ios::binary | std::ios::trunc);
    if (!out) return;
    out << text;
    if (!out) {
      out.close();
      std::remove(staged.c_str());
      return;
    }
  }
  if (std::rename(staged.c_str(), file.c_str()) != 0) std::remove(staged.c_str());
}

const char* non_empty_env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

}  // namespace

std::string stamp_folder() {
  if (const char* v = non_empty_env("PARAKEET_TRT_STAMPS")) return std::string(v) == "off" ? std::string() : v;
  if (const char* v = non_empty_env("PARAKEET_TRT_CACHE")) return std::string(v) + "/verified";
  if (const char* v = non_empty_env("XDG_CACHE_HOME")) return std::string(v) + "/parakeet_trt/verified";
  if (const char* v = non_empty_env("HOME")) return std::string(v) + "/.cache/parakeet_trt/verified";
  return {};
}

bool last_hash_was_stamped() { return g_last_stamped; }

std::string stamped_sha256(const std::string& path, const std::string& expected, bool trust_stamps) {
  g_last_stamped = false;
  const std::string folder = stamp_folder();
  std::error_code error;
  const std::string canonical = fs::canonical(path, error).string();
  struct stat before {};
  if (folder.empty() || error || ::stat(path.c_str(), &before) != 0) {
    // The folder or the file's identity cannot be named: hash in full and remember nothing.
    return sha256_file(path);
  }
  const std::string stamp_file = stamp_path(folder, canonical);
  const std::string identity = identity_line(before, canonical);
  const std::string stamp = read_small_file(stamp_file);
  if (trust_stamps && !expected.empty() && stamp == identity + "sha256 " + expected + "\n") {
    g_last_stamped = true;
    return expected;
  }
  const std::string actual = sha256_file(path);
  struct stat after {};
  // Stamp only a hash that matched and a file that did not change while it was read.
  if (actual == expected && ::stat(path.c_str(), &after) == 0 && identity_line(after, canonical) == identity) {
    write_stamp(folder, stamp_file, identity + "sha256 " + actual + "\n");
  }
  return actual;
}

}  // namespace parakeet_trt
