#include "engines/onnxruntime/ort_c_api.hpp"

namespace parakeet_trt {
namespace ort {
namespace {

template <typename F>
void slot(const void* table, size_t index, F& function) {
  // The OrtApi table is an array of function pointers (POSIX: function and object pointers convert).
  function = reinterpret_cast<F>(static_cast<void* const*>(table)[index]);
}

}  // namespace

Api bind_api(const void* table) {
  Api a{};
  slot(table, kGetErrorCode, a.GetErrorCode);
  slot(table, kGetErrorMessage, a.GetErrorMessage);
  slot(table, kCreateEnv, a.CreateEnv);
  slot(table, kCreateSession, a.CreateSession);
  slot(table, kRun, a.Run);
  slot(table, kCreateSessionOptions, a.CreateSessionOptions);
  slot(table, kSetSessionLogSeverityLevel, a.SetSessionLogSeverityLevel);
  slot(table, kSetSessionGraphOptimizationLevel, a.SetSessionGraphOptimizationLevel);
  slot(table, kSetIntraOpNumThreads, a.SetIntraOpNumThreads);
  slot(table, kSessionGetInputCount, a.SessionGetInputCount);
  slot(table, kSessionGetOutputCount, a.SessionGetOutputCount);
  slot(table, kSessionGetInputTypeInfo, a.SessionGetInputTypeInfo);
  slot(table, kSessionGetOutputTypeInfo, a.SessionGetOutputTypeInfo);
  slot(table, kSessionGetInputName, a.SessionGetInputName);
  slot(table, kSessionGetOutputName, a.SessionGetOutputName);
  slot(table, kCreateTensorWithDataAsOrtValue, a.CreateTensorWithDataAsOrtValue);
  slot(table, kCastTypeInfoToTensorInfo, a.CastTypeInfoToTensorInfo);
  slot(table, kGetTensorElementType, a.GetTensorElementType);
  slot(table, kGetDimensionsCount, a.GetDimensionsCount);
  slot(table, kGetDimensions, a.GetDimensions);
  slot(table, kGetTensorTypeAndShape, a.GetTensorTypeAndShape);
  slot(table, kCreateCpuMemoryInfo, a.CreateCpuMemoryInfo);
  slot(table, kAllocatorFree, a.AllocatorFree);
  slot(table, kGetAllocatorWithDefaultOptions, a.GetAllocatorWithDefaultOptions);
  slot(table, kReleaseStatus, a.ReleaseStatus);
  slot(table, kReleaseMemoryInfo, a.ReleaseMemoryInfo);
  slot(table, kReleaseSession, a.ReleaseSession);
  slot(table, kReleaseValue, a.ReleaseValue);
  slot(table, kReleaseTypeInfo, a.ReleaseTypeInfo);
  slot(table, kReleaseTensorTypeAndShapeInfo, a.ReleaseTensorTypeAndShapeInfo);
  slot(table, kReleaseSessionOptions, a.ReleaseSessionOptions);
  slot(table, kGetAvailableProviders, a.GetAvailableProviders);
  slot(table, kReleaseAvailableProviders, a.ReleaseAvailableProviders);
  slot(table, kAddSessionConfigEntry, a.AddSessionConfigEntry);
  slot(table, kSessionOptionsAppendExecutionProvider_CUDA_V2, a.SessionOptionsAppendExecutionProvider_CUDA_V2);
  slot(table, kCreateCUDAProviderOptions, a.CreateCUDAProviderOptions);
  slot(table, kUpdateCUDAProviderOptions, a.UpdateCUDAProviderOptions);
  slot(table, kReleaseCUDAProviderOptions, a.ReleaseCUDAProviderOptions);
  return a;
}

}  // namespace ort
}  // namespace parakeet_trt
