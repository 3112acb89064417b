// RIFF/WAVE files: read, downmix to mono, resample to the model's rate.
//
// Accepted: PCM integer 8 (unsigned), 16, 24 and 32 bit; IEEE float 32 and 64 bit; plain or
// WAVE_FORMAT_EXTENSIBLE headers; any channel count (averaged to mono); any rate in
// [Resampler::kMinRateHz, Resampler::kMaxRateHz]. Integers are scaled to [-1, 1) by 2^(bits-1)
// (as libsndfile does). Refused, with InvalidAudio naming the file and the problem: a missing,
// unreadable or non-RIFF file, a data chunk before the fmt chunk or missing, a data chunk that
// declares more bytes than the file holds (a truncated copy), other encodings, NaN/Inf samples,
// no samples, more than kMaxDurationS of audio. Memory is bounded by the file's size (a header
// that declares absurd sizes allocates nothing beyond what the file holds) and kMaxDurationS.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace parakeet_trt {

struct WavAudio {
  std::vector<float> samples;  // mono
  int32_t sample_rate_hz = 0;
  int32_t channels = 0;
  int32_t bits_per_sample = 0;
  bool is_float = false;
};

constexpr double kMaxWavDurationS = 4.0 * 3600.0;

// `name` labels errors (the path). size: bytes the stream holds from its current position.
WavAudio parse_wav(std::istream& in, uint64_t size, const std::string& name);
WavAudio read_wav(const std::string& path);

// read_wav, then resampled to target_rate_hz (Resampler; the identity at the file's own rate).
std::vector<float> load_wav(const std::string& path, int32_t target_rate_hz);

}  // namespace parakeet_trt
