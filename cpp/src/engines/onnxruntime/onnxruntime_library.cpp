#include "engines/onnxruntime/onnxruntime_library.hpp"

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

constexpr const char* kEnvironmentVariable = "PTRT_ONNXRUNTIME_LIBRARY";
constexpr const char* kHowToFix =
    "install ONNX Runtime (pip install onnxruntime, or onnxruntime-gpu for CUDA) or set PTRT_ONNXRUNTIME_LIBRARY "
    "(EngineOptions::onnxruntime_library) to the path of libonnxruntime.so";

// One place looked: what the message says, and the file to dlopen there ("" when the folder has none).
struct Place {
  std::string looked;
  std::string file;
};

std::string real_path(const std::string& path) {
  char buffer[PATH_MAX];
  return realpath(path.c_str(), buffer) ? std::string(buffer) : path;
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// libonnxruntime.so* files in `folder`, sorted (libonnxruntime.so before .so.1 before .so.1.32.0).
std::vector<std::string> libraries_in(const std::string& folder) {
  std::vector<std::string> names;
  if (DIR* dir = opendir(folder.c_str())) {
    const std::string prefix = "libonnxruntime.so";
    while (const dirent* entry = readdir(dir))
      if (std::string(entry->d_name).compare(0, prefix.size(), prefix) == 0) names.push_back(entry->d_name);
    closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The folder of the shared object (or executable) holding this code.
std::string own_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&onnxruntime_library_candidates), &info) == 0 || !info.dli_fname) return "";
  return parent_of(real_path(info.dli_fname));
}

std::vector<Place> places(const std::string& explicit_path) {
  if (!explicit_path.empty()) return {{explicit_path + " (EngineOptions::onnxruntime_library)", explicit_path}};
  const char* from_environment = std::getenv(kEnvironmentVariable);
  if (from_environment && *from_environment)
    return {{std::string(from_environment) + " ($" + kEnvironmentVariable + ")", from_environment}};
  std::vector<Place> out;
  const std::string own = own_folder();
  if (!own.empty())
    for (const char* relative : {"/../onnxruntime/capi", "/../../onnxruntime/capi"}) {
      const std::string folder = real_path(own + relative);
      const std::vector<std::string> names = libraries_in(folder);
      if (names.empty()) out.push_back({folder + "/libonnxruntime.so* (the onnxruntime Python package)", ""});
      for (const std::string& name : names) out.push_back({folder + "/" + name, folder + "/" + name});
    }
  for (const char* name : {"libonnxruntime.so.1", "libonnxruntime.so"})
    out.push_back({std::string(name) + " (the dynamic loader's search path)", name});
  return out;
}

}  // namespace

std::vector<std::string> onnxruntime_library_candidates(const std::string& explicit_path) {
  std::vector<std::string> out;
  for (const Place& place : places(explicit_path)) out.push_back(place.looked);
  return out;
}

bool OnnxRuntimeLibrary::has_provider(const std::string& name) const {
  return std::find(providers_.begin(), providers_.end(), name) != providers_.end();
}

std::string OnnxRuntimeLibrary::take_message(ort::Status status) const {
  if (!status) return "";
  const char* message = api_.GetErrorMessage(status);
  std::string text = message ? message : "(no message)";
  api_.ReleaseStatus(status);
  return text;
}

void OnnxRuntimeLibrary::check(ort::Status status, const std::string& context) const {
  if (status) throw EngineError(context + ": " + take_message(status));
}

void OnnxRuntimeLibrary::initialize(void* handle, const std::string& path) {
  path_ = path;
  auto get_api_base = reinterpret_cast<ort::GetApiBaseFunction>(dlsym(handle, ort::kGetApiBaseSymbol));
  if (!get_api_base)
    throw Error(ErrorCode::kUnavailable, path + " is not ONNX Runtime: it has no symbol OrtGetApiBase; " + kHowToFix);
  const ort::ApiBase* base = get_api_base();
  version_ = base && base->GetVersionString ? base->GetVersionString() : "unknown";
  const void* table = base && base->GetApi ? base->GetApi(ort::kApiVersion) : nullptr;
  if (!table)
    throw Error(ErrorCode::kUnavailable,
                "ONNX Runtime " + version_ + " (" + path + ") does not offer C API version " +
                    std::to_string(ort::kApiVersion) + "; parakeet_trt needs ONNX Runtime 1." +
                    std::to_string(ort::kApiVersion) + " or newer (pip install -U onnxruntime)");
  api_ = ort::bind_api(table);
  check(api_.CreateEnv(ort::LoggingLevel::kWarning, "parakeet_trt", &env_), "ONNX Runtime CreateEnv");
  check(api_.CreateCpuMemoryInfo(ort::AllocatorType::kArena, ort::MemType::kDefault, &cpu_memory_),
        "ONNX Runtime CreateCpuMemoryInfo");
  char** names = nullptr;
  int count = 0;
  check(api_.GetAvailableProviders(&names, &count), "ONNX Runtime GetAvailableProviders");
  for (int i = 0; i < count; ++i) providers_.emplace_back(names[i]);
  take_message(api_.ReleaseAvailableProviders(names, count));
}

const OnnxRuntimeLibrary& OnnxRuntimeLibrary::load(const std::string& explicit_path) {
  // Libraries by file, and what each request resolved to: never destroyed, so engines destroyed during static
  // destruction still find their library, and the env and memory info stay reachable (not leaks) at exit.
  static std::mutex& mutex = *new std::mutex;
  static auto& by_file = *new std::map<std::string, std::unique_ptr<OnnxRuntimeLibrary>>;
  static auto& by_request = *new std::map<std::string, const OnnxRuntimeLibrary*>;
  const char* from_environment = std::getenv(kEnvironmentVariable);
  const std::string request = explicit_path + '\n' + (from_environment ? from_environment : "");
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = by_request.find(request); it != by_request.end()) return *it->second;

  std::string tried;
  for (const Place& place : places(explicit_path)) {
    if (place.file.empty()) {
      tried += "\n  " + place.looked + ": not there";
      continue;
    }
    void* handle = dlopen(place.file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      tried += "\n  " + place.looked + ": " + (why ? why : "cannot be opened");
      continue;
    }
    // The file actually opened (a bare name resolves through the loader's search path).
    std::string file = place.file;
    Dl_info info{};
    if (void* symbol = dlsym(handle, ort::kGetApiBaseSymbol); symbol && dladdr(symbol, &info) && info.dli_fname)
      file = info.dli_fname;
    file = real_path(file);
    auto& library = by_file[file];
    if (!library) {
      std::unique_ptr<OnnxRuntimeLibrary> fresh(new OnnxRuntimeLibrary());
      fresh->initialize(handle, file);  // throws kUnavailable / EngineError: nothing is recorded
      library = std::move(fresh);
    }
    by_request[request] = library.get();
    return *library;
  }
  throw Error(ErrorCode::kUnavailable, "cannot load ONNX Runtime (libonnxruntime.so); looked in:" + tried +
                                           "\nTo fix: " + kHowToFix);
}

}  // namespace parakeet_trt
