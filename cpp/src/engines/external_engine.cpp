#include "engines/external_engine.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {

static_assert(sizeof(TensorView) == sizeof(ptrt_tensor), "TensorView must mirror ptrt_tensor");
static_assert(offsetof(TensorView, data) == offsetof(ptrt_tensor, data), "TensorView must mirror ptrt_tensor");
static_assert(offsetof(TensorView, shape) == offsetof(ptrt_tensor, shape), "TensorView must mirror ptrt_tensor");
static_assert(kMaxTensorRank == PTRT_MAX_TENSOR_RANK, "rank limits must agree");

namespace {

// The caller's vtable as far as its struct_size reaches (a shorter struct is a smaller allocation: nothing
// past struct_size is read); fields it does not cover stay null.
ptrt_engine_vtable covered_prefix(const ptrt_engine_vtable& given) {
  ptrt_engine_vtable copy{};
  std::memcpy(&copy, &given, std::min(given.struct_size, sizeof(ptrt_engine_vtable)));
  return copy;
}

}  // namespace

ExternalEngine::ExternalEngine(const ptrt_engine_vtable& vtable) : vtable_(covered_prefix(vtable)) {
  if (vtable_.struct_size < sizeof(ptrt_engine_vtable) || vtable_.run == nullptr) {
    // destroy is null unless struct_size covers it (parakeet_trt.h: then it is never read).
    if (vtable_.destroy) vtable_.destroy(vtable_.self);
    throw Error(ErrorCode::kInvalidArgument,
                "engine vtable is incomplete: struct_size must be sizeof(ptrt_engine_vtable) (" +
                    std::to_string(sizeof(ptrt_engine_vtable)) + "), got " + std::to_string(vtable.struct_size) +
                    ", and run must be set");
  }
}

ExternalEngine::~ExternalEngine() {
  if (vtable_.destroy) vtable_.destroy(vtable_.self);
}

void ExternalEngine::run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) {
  char message[512] = {0};
  ptrt_status status = vtable_.run(vtable_.self, reinterpret_cast<const ptrt_tensor*>(inputs), num_inputs,
                                   reinterpret_cast<ptrt_tensor*>(outputs), num_outputs, message, sizeof(message));
  message[sizeof(message) - 1] = '\0';
  if (status != PTRT_OK) {
    std::string text = message[0] ? message : "no message";
    if (status == PTRT_ERROR_CONTRACT_VIOLATION) {
      throw Error(ErrorCode::kContractViolation, "external engine: " + text);
    }
    throw EngineError("external engine returned status " + std::to_string(static_cast<int>(status)) + ": " + text);
  }
}

}  // namespace parakeet_trt
