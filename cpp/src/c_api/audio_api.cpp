// The C ABI's audio files: ptrt_audio_load_wav, ptrt_audio_resample, ptrt_audio_free.
#include <cstdlib>

#include "audio/resampler.hpp"
#include "audio/wav_reader.hpp"
#include "c_api/c_api_support.hpp"

using namespace parakeet_trt;
using namespace parakeet_trt::c_api;

namespace {

// Hands a vector to the caller as a malloc'd buffer (released by ptrt_audio_free).
ptrt_status give_samples(const std::vector<float>& samples, float** out_samples, int64_t* out_num_samples) {
  float* buffer = static_cast<float*>(std::malloc(std::max<size_t>(1, samples.size()) * sizeof(float)));
  if (!buffer) return fail(PTRT_ERROR_INTERNAL, "out of memory");
  std::copy(samples.begin(), samples.end(), buffer);
  *out_samples = buffer;
  *out_num_samples = static_cast<int64_t>(samples.size());
  return PTRT_OK;
}

}  // namespace

extern "C" {

ptrt_status ptrt_audio_load_wav(const char* path, int32_t target_rate_hz, float** out_samples,
                                int64_t* out_num_samples) {
  PTRT_REQUIRE(out_samples && out_num_samples, "ptrt_audio_load_wav: out_samples and out_num_samples must not be NULL");
  *out_samples = nullptr;
  *out_num_samples = 0;
  PTRT_REQUIRE(path, "ptrt_audio_load_wav: path must not be NULL");
  return guarded([&] {
    const Resampler check_target(target_rate_hz, target_rate_hz);  // refuses a rate outside the range
    return give_samples(load_wav(path, target_rate_hz), out_samples, out_num_samples);
  });
}

ptrt_status ptrt_audio_resample(const float* samples, int64_t num_samples, int32_t from_rate_hz, int32_t to_rate_hz,
                                float** out_samples, int64_t* out_num_samples) {
  PTRT_REQUIRE(out_samples && out_num_samples, "ptrt_audio_resample: out_samples and out_num_samples must not be NULL");
  *out_samples = nullptr;
  *out_num_samples = 0;
  PTRT_REQUIRE(samples || num_samples == 0, "ptrt_audio_resample: samples is NULL with num_samples > 0");
  PTRT_REQUIRE(num_samples >= 0, "ptrt_audio_resample: num_samples must be >= 0");
  return guarded([&] {
    const Resampler resampler(from_rate_hz, to_rate_hz);
    return give_samples(resampler.process(samples, num_samples), out_samples, out_num_samples);
  });
}

void ptrt_audio_free(float* samples) { std::free(samples); }

}  // extern "C"
