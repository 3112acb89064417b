// The external engine (a caller's C vtable): an exact-size short vtable is refused without reading past
// its struct_size (issue 18 item 4: the constructor used to copy sizeof(ptrt_engine_vtable) bytes and call
// destroy from beyond the caller's allocation; run this test under ASan to see the over-read); a complete
// vtable runs and is destroyed exactly once; a longer (newer) vtable is read up to what this ABI knows.
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "engines/external_engine.hpp"
#include "parakeet_trt/errors.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

int g_destroyed = 0;
int g_runs = 0;

ptrt_status run_doubling(void*, const ptrt_tensor* inputs, size_t, ptrt_tensor* outputs, size_t, char*, size_t) {
  ++g_runs;
  const float* in = static_cast<const float*>(inputs[0].data);
  float* out = static_cast<float*>(outputs[0].data);
  for (int64_t i = 0; i < inputs[0].shape[0]; ++i) out[i] = 2.f * in[i];
  return PTRT_OK;
}

ptrt_status run_failing(void*, const ptrt_tensor*, size_t, ptrt_tensor*, size_t, char* message, size_t capacity) {
  std::strncpy(message, "shape of outputs is wrong", capacity);
  return PTRT_ERROR_CONTRACT_VIOLATION;
}

void destroy_counting(void*) { ++g_destroyed; }

void test_short_vtable_is_refused_without_reading_past_it() {
  // Exactly the bytes up to destroy, as an older or careless caller would allocate: under ASan any read of
  // destroy (or any copy of the whole struct) is a heap-buffer-overflow.
  const size_t short_size = offsetof(ptrt_engine_vtable, destroy);
  auto* vtable = static_cast<ptrt_engine_vtable*>(std::malloc(short_size));
  vtable->struct_size = short_size;
  vtable->self = nullptr;
  vtable->run = &run_doubling;
  g_destroyed = 0;
  PTRT_CHECK_THROWS(ExternalEngine engine(*vtable), Error, "struct_size must be sizeof(ptrt_engine_vtable)");
  PTRT_CHECK_EQ(g_destroyed, 0);  // destroy is not covered by struct_size: never read, never called
  std::free(vtable);

  // Only struct_size itself.
  auto* tiny = static_cast<ptrt_engine_vtable*>(std::malloc(sizeof(size_t)));
  tiny->struct_size = sizeof(size_t);
  PTRT_CHECK_THROWS(ExternalEngine engine(*tiny), Error, "got " + std::to_string(sizeof(size_t)));
  std::free(tiny);
}

void test_complete_vtable_without_run_is_destroyed_once() {
  ptrt_engine_vtable vtable{sizeof(ptrt_engine_vtable), nullptr, nullptr, &destroy_counting};
  g_destroyed = 0;
  PTRT_CHECK_THROWS(ExternalEngine engine(vtable), Error, "run must be set");
  PTRT_CHECK_EQ(g_destroyed, 1);
}

void test_complete_vtable_runs_and_is_destroyed_once() {
  ptrt_engine_vtable vtable{sizeof(ptrt_engine_vtable), nullptr, &run_doubling, &destroy_counting};
  g_destroyed = g_runs = 0;
  {
    ExternalEngine engine(vtable);
    float in[3] = {1.f, 2.f, 3.f}, out[3] = {};
    TensorView input{"x", DType::kFloat32, 1, {3}, in};
    TensorView output{"y", DType::kFloat32, 1, {3}, out};
    engine.run(&input, 1, &output, 1);
    PTRT_CHECK_EQ(out[2], 6.f);
    PTRT_CHECK_EQ(g_runs, 1);
    PTRT_CHECK_EQ(g_destroyed, 0);
  }
  PTRT_CHECK_EQ(g_destroyed, 1);
}

void test_failure_status_and_message() {
  ptrt_engine_vtable vtable{sizeof(ptrt_engine_vtable), nullptr, &run_failing, nullptr};
  ExternalEngine engine(vtable);
  float x = 0.f;
  TensorView t{"x", DType::kFloat32, 1, {1}, &x};
  PTRT_CHECK_THROWS(engine.run(&t, 1, &t, 1), Error, "external engine: shape of outputs is wrong");
  try {
    engine.run(&t, 1, &t, 1);
  } catch (const Error& e) {
    PTRT_CHECK_EQ(static_cast<int>(e.code()), static_cast<int>(ErrorCode::kContractViolation));
  }
}

void test_longer_vtable_reads_known_prefix() {
  // A newer caller's vtable with a field this ABI does not know yet.
  struct Longer {
    ptrt_engine_vtable known;
    void* future;
  };
  auto* longer = static_cast<Longer*>(std::malloc(sizeof(Longer)));
  longer->known = {sizeof(Longer), nullptr, &run_doubling, &destroy_counting};
  longer->future = nullptr;
  g_destroyed = 0;
  { ExternalEngine engine(longer->known); }
  PTRT_CHECK_EQ(g_destroyed, 1);
  std::free(longer);
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"short_vtable_is_refused_without_reading_past_it", &test_short_vtable_is_refused_without_reading_past_it},
      {"complete_vtable_without_run_is_destroyed_once", &test_complete_vtable_without_run_is_destroyed_once},
      {"complete_vtable_runs_and_is_destroyed_once", &test_complete_vtable_runs_and_is_destroyed_once},
      {"failure_status_and_message", &test_failure_status_and_message},
      {"longer_vtable_reads_known_prefix", &test_longer_vtable_reads_known_prefix},
  });
}
