// The part of ONNX Runtime's C API that the onnxruntime engine calls, declared here (internal).
//
// PyPI's onnxruntime wheels ship libonnxruntime.so (exporting OrtGetApiBase) but no headers, so the
// library is opened with dlopen and nothing is compiled against ONNX Runtime. OrtGetApiBase returns
// {GetApi, GetVersionString}; GetApi(version) returns the OrtApi table: an append-only array of function
// pointers whose order never changes between releases. Each function used here is read from its slot by
// index (ApiSlot below); the indices were counted from onnxruntime_c_api.h (ORT_API_VERSION 13) and agree
// with the "Size of version N API cannot change" static_asserts in onnxruntime_c_api.cc (101, 118, 124,
// 126, 149, 157, 161, 169). test_onnxruntime_engine checks them against the real library (version string,
// input/output names and providers equal to Python onnxruntime's, outputs equal to its run).
#pragma once

#include <cstddef>
#include <cstdint>

namespace parakeet_trt {
namespace ort {

// Opaque ONNX Runtime objects.
struct OrtStatus;
struct OrtEnv;
struct OrtSession;
struct OrtSessionOptions;
struct OrtValue;
struct OrtMemoryInfo;
struct OrtTypeInfo;
struct OrtTensorTypeAndShapeInfo;
struct OrtAllocator;
struct OrtRunOptions;
struct OrtCUDAProviderOptionsV2;

// Enumerations passed by value (C enums: int-sized), only the values used.
enum class ErrorCode : int { kOk = 0 };
enum class LoggingLevel : int { kWarning = 2 };
enum class GraphOptimizationLevel : int { kEnableAll = 99 };
enum class AllocatorType : int { kDevice = 0, kArena = 1 };
enum class MemType : int { kDefault = 0 };
// ONNXTensorElementDataType: FLOAT = 1, INT32 = 6, INT64 = 7.
enum class ElementType : int { kUndefined = 0, kFloat = 1, kInt32 = 6, kInt64 = 7 };

struct ApiBase {
  const void* (*GetApi)(uint32_t version) noexcept;  // the OrtApi table, or null when `version` is too new
  const char* (*GetVersionString)() noexcept;          // "1.32.0"
};
using GetApiBaseFunction = const ApiBase* (*)() noexcept;
constexpr const char* kGetApiBaseSymbol = "OrtGetApiBase";

// The OrtApi version requested: 11 (ONNX Runtime 1.11) is the first with every slot below (the CUDA
// provider options V2 functions). GetApi returns the same table for every version up to the library's own.
constexpr uint32_t kApiVersion = 11;

// Slot of each function in the OrtApi table, and the API version that added it.
enum ApiSlot : size_t {
  kGetErrorCode = 1,                      // v1  OrtErrorCode GetErrorCode(const OrtStatus*)
  kGetErrorMessage = 2,                   // v1  const char* GetErrorMessage(const OrtStatus*)
  kCreateEnv = 3,                         // v1  CreateEnv(OrtLoggingLevel, const char* logid, OrtEnv**)
  kCreateSession = 7,                     // v1  CreateSession(env, path, options, OrtSession**)
  kRun = 9,                               // v1  Run(session, run_options, in names, in values, n, out names, n, out values)
  kCreateSessionOptions = 10,             // v1  CreateSessionOptions(OrtSessionOptions**)
  kSetSessionLogSeverityLevel = 22,       // v1  SetSessionLogSeverityLevel(options, int)
  kSetSessionGraphOptimizationLevel = 23, // v1  SetSessionGraphOptimizationLevel(options, GraphOptimizationLevel)
  kSetIntraOpNumThreads = 24,             // v1  SetIntraOpNumThreads(options, int)
  kSessionGetInputCount = 30,             // v1  SessionGetInputCount(session, size_t*)
  kSessionGetOutputCount = 31,            // v1  SessionGetOutputCount(session, size_t*)
  kSessionGetInputTypeInfo = 33,          // v1  SessionGetInputTypeInfo(session, index, OrtTypeInfo**)
  kSessionGetOutputTypeInfo = 34,         // v1  SessionGetOutputTypeInfo(session, index, OrtTypeInfo**)
  kSessionGetInputName = 36,              // v1  SessionGetInputName(session, index, allocator, char**)
  kSessionGetOutputName = 37,             // v1  SessionGetOutputName(session, index, allocator, char**)
  kCreateTensorWithDataAsOrtValue = 49,   // v1  CreateTensorWithDataAsOrtValue(info, data, bytes, shape, rank, type, OrtValue**)
  kCastTypeInfoToTensorInfo = 55,         // v1  CastTypeInfoToTensorInfo(type_info, const OrtTensorTypeAndShapeInfo**)
  kGetTensorElementType = 60,             // v1  GetTensorElementType(info, ONNXTensorElementDataType*)
  kGetDimensionsCount = 61,               // v1  GetDimensionsCount(info, size_t*)
  kGetDimensions = 62,                    // v1  GetDimensions(info, int64_t*, size_t)
  kGetTensorTypeAndShape = 65,            // v1  GetTensorTypeAndShape(value, OrtTensorTypeAndShapeInfo**)
  kCreateCpuMemoryInfo = 69,              // v1  CreateCpuMemoryInfo(OrtAllocatorType, OrtMemType, OrtMemoryInfo**)
  kAllocatorFree = 76,                    // v1  AllocatorFree(allocator, void*)
  kGetAllocatorWithDefaultOptions = 78,   // v1  GetAllocatorWithDefaultOptions(OrtAllocator**)
  kReleaseStatus = 93,                    // v1  void ReleaseStatus(OrtStatus*)
  kReleaseMemoryInfo = 94,                // v1  void ReleaseMemoryInfo(OrtMemoryInfo*)
  kReleaseSession = 95,                   // v1  void ReleaseSession(OrtSession*)
  kReleaseValue = 96,                     // v1  void ReleaseValue(OrtValue*)
  kReleaseTypeInfo = 98,                  // v1  void ReleaseTypeInfo(OrtTypeInfo*)
  kReleaseTensorTypeAndShapeInfo = 99,    // v1  void ReleaseTensorTypeAndShapeInfo(OrtTensorTypeAndShapeInfo*)
  kReleaseSessionOptions = 100,           // v1  void ReleaseSessionOptions(OrtSessionOptions*)
  kGetAvailableProviders = 125,           // v4  GetAvailableProviders(char***, int*)
  kReleaseAvailableProviders = 126,       // v4  ReleaseAvailableProviders(char**, int)
  kAddSessionConfigEntry = 130,           // v5  AddSessionConfigEntry(options, const char* key, const char* value)
  kSessionOptionsAppendExecutionProvider_CUDA_V2 = 204,  // v11 (options, const OrtCUDAProviderOptionsV2*)
  kCreateCUDAProviderOptions = 205,       // v11 CreateCUDAProviderOptions(OrtCUDAProviderOptionsV2**)
  kUpdateCUDAProviderOptions = 206,       // v11 UpdateCUDAProviderOptions(options, keys, values, n)
  kReleaseCUDAProviderOptions = 208,      // v11 void ReleaseCUDAProviderOptions(OrtCUDAProviderOptionsV2*)
};

// A null OrtStatus* is success; any other must be released with ReleaseStatus.
using Status = OrtStatus*;

// The functions above with their C signatures, read from the table's slots.
struct Api {
  ErrorCode (*GetErrorCode)(const OrtStatus*) noexcept;
  const char* (*GetErrorMessage)(const OrtStatus*) noexcept;
  Status (*CreateEnv)(LoggingLevel, const char*, OrtEnv**) noexcept;
  Status (*CreateSession)(const OrtEnv*, const char*, const OrtSessionOptions*, OrtSession**) noexcept;
  Status (*Run)(OrtSession*, const OrtRunOptions*, const char* const*, const OrtValue* const*, size_t,
                const char* const*, size_t, OrtValue**) noexcept;
  Status (*CreateSessionOptions)(OrtSessionOptions**) noexcept;
  Status (*SetSessionLogSeverityLevel)(OrtSessionOptions*, int) noexcept;
  Status (*SetSessionGraphOptimizationLevel)(OrtSessionOptions*, GraphOptimizationLevel) noexcept;
  Status (*SetIntraOpNumThreads)(OrtSessionOptions*, int) noexcept;
  Status (*SessionGetInputCount)(const OrtSession*, size_t*) noexcept;
  Status (*SessionGetOutputCount)(const OrtSession*, size_t*) noexcept;
  Status (*SessionGetInputTypeInfo)(const OrtSession*, size_t, OrtTypeInfo**) noexcept;
  Status (*SessionGetOutputTypeInfo)(const OrtSession*, size_t, OrtTypeInfo**) noexcept;
  Status (*SessionGetInputName)(const OrtSession*, size_t, OrtAllocator*, char**) noexcept;
  Status (*SessionGetOutputName)(const OrtSession*, size_t, OrtAllocator*, char**) noexcept;
  Status (*CreateTensorWithDataAsOrtValue)(const OrtMemoryInfo*, void*, size_t, const int64_t*, size_t, ElementType,
                                           OrtValue**) noexcept;
  Status (*CastTypeInfoToTensorInfo)(const OrtTypeInfo*, const OrtTensorTypeAndShapeInfo**) noexcept;
  Status (*GetTensorElementType)(const OrtTensorTypeAndShapeInfo*, ElementType*) noexcept;
  Status (*GetDimensionsCount)(const OrtTensorTypeAndShapeInfo*, size_t*) noexcept;
  Status (*GetDimensions)(const OrtTensorTypeAndShapeInfo*, int64_t*, size_t) noexcept;
  Status (*GetTensorTypeAndShape)(const OrtValue*, OrtTensorTypeAndShapeInfo**) noexcept;
  Status (*CreateCpuMemoryInfo)(AllocatorType, MemType, OrtMemoryInfo**) noexcept;
  Status (*AllocatorFree)(OrtAllocator*, void*) noexcept;
  Status (*GetAllocatorWithDefaultOptions)(OrtAllocator**) noexcept;
  void (*ReleaseStatus)(OrtStatus*) noexcept;
  void (*ReleaseMemoryInfo)(OrtMemoryInfo*) noexcept;
  void (*ReleaseSession)(OrtSession*) noexcept;
  void (*ReleaseValue)(OrtValue*) noexcept;
  void (*ReleaseTypeInfo)(OrtTypeInfo*) noexcept;
  void (*ReleaseTensorTypeAndShapeInfo)(OrtTensorTypeAndShapeInfo*) noexcept;
  void (*ReleaseSessionOptions)(OrtSessionOptions*) noexcept;
  Status (*GetAvailableProviders)(char***, int*) noexcept;
  Status (*ReleaseAvailableProviders)(char**, int) noexcept;
  Status (*AddSessionConfigEntry)(OrtSessionOptions*, const char*, const char*) noexcept;
  Status (*SessionOptionsAppendExecutionProvider_CUDA_V2)(OrtSessionOptions*, const OrtCUDAProviderOptionsV2*) noexcept;
  Status (*CreateCUDAProviderOptions)(OrtCUDAProviderOptionsV2**) noexcept;
  Status (*UpdateCUDAProviderOptions)(OrtCUDAProviderOptionsV2*, const char* const*, const char* const*,
                                      size_t) noexcept;
  void (*ReleaseCUDAProviderOptions)(OrtCUDAProviderOptionsV2*) noexcept;
};

// Reads every function of Api from `table` (what GetApi returned). A null slot stays null.
Api bind_api(const void* table);

}  // namespace ort
}  // namespace parakeet_trt
