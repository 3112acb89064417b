// Tests of the core's audio input: the windowed-sinc resampler against analytic sines (frequency,
// amplitude, no aliasing, identity at equal rates) and the WAV reader on every accepted encoding
// and on malformed files (each refused with InvalidAudio naming the problem, nothing huge allocated).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "audio/resampler.hpp"
#include "audio/wav_reader.hpp"
#include "parakeet_trt/errors.hpp"
#include "test_support.hpp"

using parakeet_trt::InvalidAudio;
using parakeet_trt::Resampler;
using parakeet_trt::WavAudio;

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<float> sine(int32_t rate, double freq, double amplitude, double seconds, double phase = 0.0) {
  std::vector<float> x(static_cast<size_t>(rate * seconds));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(amplitude * std::sin(2 * kPi * freq * i / rate + phase));
  return x;
}

// Max |resampled - analytic sine| over the output, away from the edges (where zero padding counts).
double sine_error(int32_t from, int32_t to, double freq, double amplitude = 0.5) {
  const Resampler r(from, to);
  const std::vector<float> x = sine(from, freq, amplitude, 1.0, 0.3);
  const std::vector<float> y = r.process(x.data(), static_cast<int64_t>(x.size()));
  const size_t margin = static_cast<size_t>(0.02 * to);  // 20 ms, beyond the filter's reach
  double worst = 0.0;
  for (size_t n = margin; n + margin < y.size(); ++n) {
    const double expected = amplitude * std::sin(2 * kPi * freq * n / to + 0.3);
    worst = std::max(worst, std::fabs(y[n] - expected));
  }
  std::printf("    %d -> %d Hz, %.0f Hz sine (amplitude %.2f): max error %.3g (%.1f dB re amplitude)\n", from, to, freq,
              amplitude, worst, 20 * std::log10(worst / amplitude + 1e-30));
  return worst;
}

double rms_after(int32_t from, int32_t to, double freq) {
  const Resampler r(from, to);
  const std::vector<float> x = sine(from, freq, 0.5, 1.0);
  const std::vector<float> y = r.process(x.data(), static_cast<int64_t>(x.size()));
  const size_t margin = static_cast<size_t>(0.02 * to);
  double sum = 0.0;
  size_t count = 0;
  for (size_t n = margin; n + margin < y.size(); ++n, ++count) sum += double(y[n]) * y[n];
  const double rms = std::sqrt(sum / count);
  std::printf("    %d -> %d Hz, %.0f Hz sine above the new Nyquist: output RMS %.3g (%.1f dB re input RMS)\n", from, to,
              freq, rms, 20 * std::log10(rms / (0.5 / std::sqrt(2.0)) + 1e-30));
  return rms;
}

void test_downsampling_keeps_frequency_and_amplitude() {
  // Passband: flat to 0.9 of the new Nyquist (7.2 kHz at 16 kHz); errors below -94 dB re the amplitude.
  for (double f : {100.0, 1000.0, 3400.0, 7000.0}) PTRT_CHECK(sine_error(48000, 16000, f) < 1e-5);
  for (double f : {440.0, 1000.0, 5000.0}) PTRT_CHECK(sine_error(44100, 16000, f) < 1e-5);
  for (double f : {1000.0, 3000.0}) PTRT_CHECK(sine_error(22050, 16000, f) < 1e-5);
}

void test_upsampling_and_odd_rates() {
  for (double f : {300.0, 1000.0, 3500.0}) PTRT_CHECK(sine_error(8000, 16000, f) < 1e-5);
  // 44,099 Hz: 16,000 phases, more than are tabulated: the nearest phase is used.
  PTRT_CHECK(sine_error(44099, 16000, 1000.0) < 1e-4);
  PTRT_CHECK(sine_error(44099, 16000, 6000.0) < 1e-4);
}

void test_no_aliasing() {
  // Above the new Nyquist: would fold back to 7 kHz / 4 kHz / 3.1 kHz without the filter.
  PTRT_CHECK(rms_after(48000, 16000, 9000.0) < 1e-5);
  PTRT_CHECK(rms_after(48000, 16000, 12000.0) < 1e-5);
  PTRT_CHECK(rms_after(44100, 16000, 12900.0) < 1e-5);
}

void test_identity_and_lengths() {
  const std::vector<float> x = sine(16000, 440.0, 0.7, 0.5);
  const Resampler same(16000, 16000);
  const std::vector<float> y = same.process(x.data(), static_cast<int64_t>(x.size()));
  PTRT_CHECK(y == x);
  const Resampler down(48000, 16000);
  PTRT_CHECK_EQ(down.output_length(48000), 16000);
  PTRT_CHECK_EQ(down.output_length(48001), 16001);  // ceil
  PTRT_CHECK_EQ(Resampler(44100, 16000).output_length(44100), 16000);
  PTRT_CHECK_EQ(Resampler(44100, 16000).output_length(1), 1);
  PTRT_CHECK_EQ(down.output_length(0), 0);
  // DC passes at unit gain (every phase normalized).
  const std::vector<float> dc(44100, 0.25f);
  const std::vector<float> z = Resampler(44100, 16000).process(dc.data(), 44100);
  PTRT_CHECK_NEAR(z[8000], 0.25, 1e-6);
  PTRT_CHECK_THROWS(Resampler(0, 16000), std::invalid_argument, "from_rate_hz 0 Hz is outside");
  PTRT_CHECK_THROWS(Resampler(16000, 10000000), std::invalid_argument, "to_rate_hz");
}

// --- WAV ------------------------------------------------------------------------------------------

void put16(std::string& s, uint32_t v) {
  s.push_back(static_cast<char>(v & 0xFF));
  s.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void put32(std::string& s, uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}

std::string fmt_chunk(uint16_t tag, uint16_t channels, uint32_t rate, uint16_t bits, bool extensible = false) {
  std::string s = "fmt ";
  put32(s, extensible ? 40 : 16);
  put16(s, extensible ? 0xFFFE : tag);
  put16(s, channels);
  put32(s, rate);
  put32(s, rate * channels * (bits / 8));
  put16(s, static_cast<uint16_t>(channels * (bits / 8)));
  put16(s, bits);
  if (extensible) {
    put16(s, 22);
    put16(s, bits);
    put32(s, 0);
    put16(s, tag);
    s.append("\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71", 14);
  }
  return s;
}

std::string wav(const std::string& chunks) {
  std::string s = "RIFF";
  put32(s, static_cast<uint32_t>(4 + chunks.size()));
  return s + "WAVE" + chunks;
}

std::string data_chunk(const std::string& payload, uint32_t declared = 0xFFFFFFFEu) {
  std::string s = "data";
  put32(s, declared == 0xFFFFFFFEu ? static_cast<uint32_t>(payload.size()) : declared);
  s += payload;
  if (payload.size() & 1) s.push_back('\0');
  return s;
}

WavAudio parse(const std::string& bytes) {
  std::istringstream in(bytes);
  return parakeet_trt::parse_wav(in, bytes.size(), "test.wav");
}

void test_wav_encodings() {
  std::string pcm16;
  for (int16_t v : {0, 16384, -32768, 32767}) put16(pcm16, static_cast<uint16_t>(v));
  // A LIST chunk before fmt (odd size, padded) is skipped.
  std::string list = "LIST";
  put32(list, 3);
  list += "abc";
  list.push_back('\0');
  WavAudio a = parse(wav(list + fmt_chunk(1, 1, 16000, 16) + data_chunk(pcm16)));
  PTRT_CHECK_EQ(a.sample_rate_hz, 16000);
  PTRT_CHECK_EQ(a.samples.size(), 4u);
  PTRT_CHECK_EQ(a.samples[1], 0.5f);
  PTRT_CHECK_EQ(a.samples[2], -1.0f);
  PTRT_CHECK_NEAR(a.samples[3], 32767.0 / 32768.0, 1e-9);

  // Stereo 16-bit: averaged.
  std::string stereo;
  for (int16_t v : {16384, 0, -16384, -16384}) put16(stereo, static_cast<uint16_t>(v));
  WavAudio b = parse(wav(fmt_chunk(1, 2, 48000, 16) + data_chunk(stereo)));
  PTRT_CHECK_EQ(b.channels, 2);
  PTRT_CHECK_EQ(b.samples.size(), 2u);
  PTRT_CHECK_EQ(b.samples[0], 0.25f);
  PTRT_CHECK_EQ(b.samples[1], -0.5f);

  // 24-bit, 3 channels, extensible header.
  std::string pcm24;
  for (int32_t v : {4194304, -8388608, 0}) {
    pcm24.push_back(static_cast<char>(v & 0xFF));
    pcm24.push_back(static_cast<char>((v >> 8) & 0xFF));
    pcm24.push_back(static_cast<char>((v >> 16) & 0xFF));
  }
  WavAudio c = parse(wav(fmt_chunk(1, 3, 44100, 24, true) + data_chunk(pcm24)));
  PTRT_CHECK_EQ(c.samples.size(), 1u);
  PTRT_CHECK_NEAR(c.samples[0], (0.5 - 1.0 + 0.0) / 3.0, 1e-7);

  // 32-bit int and 32-bit float.
  std::string pcm32;
  put32(pcm32, 0x40000000u);
  WavAudio d = parse(wav(fmt_chunk(1, 1, 8000, 32) + data_chunk(pcm32)));
  PTRT_CHECK_EQ(d.samples[0], 0.5f);
  std::string f32(4, '\0');
  const float quarter = -0.25f;
  std::memcpy(&f32[0], &quarter, 4);
  WavAudio e = parse(wav(fmt_chunk(3, 1, 22050, 32) + data_chunk(f32)));
  PTRT_CHECK(e.is_float);
  PTRT_CHECK_EQ(e.samples[0], -0.25f);
  std::string u8 = "\xC0";
  WavAudio f = parse(wav(fmt_chunk(1, 1, 8000, 8) + data_chunk(u8)));
  PTRT_CHECK_EQ(f.samples[0], 0.5f);
}

void test_malformed_wav_is_refused() {
  std::string pcm16;
  put16(pcm16, 1000);
  put16(pcm16, 2000);
  const std::string fmt = fmt_chunk(1, 1, 16000, 16);
  PTRT_CHECK_THROWS(parse("hello world, not audio"), InvalidAudio, "test.wav: not a RIFF/WAVE file");
  PTRT_CHECK_THROWS(parse("RIFF"), InvalidAudio, "not a RIFF/WAVE file (4 bytes)");
  PTRT_CHECK_THROWS(parse(wav(data_chunk(pcm16) + fmt)), InvalidAudio, "data chunk comes before the fmt chunk");
  PTRT_CHECK_THROWS(parse(wav(fmt)), InvalidAudio, "no data chunk");
  PTRT_CHECK_THROWS(parse(wav("")), InvalidAudio, "no fmt chunk");
  // Truncated copy, and an absurd declared size: refused before any allocation of that size.
  PTRT_CHECK_THROWS(parse(wav(fmt + data_chunk(pcm16, 400))), InvalidAudio,
                    "truncated: the data chunk declares 400 bytes but the file holds 4");
  PTRT_CHECK_THROWS(parse(wav(fmt + data_chunk(pcm16, 0xFFFFFF00u))), InvalidAudio, "truncated");
  PTRT_CHECK_THROWS(parse(wav(fmt.substr(0, 20))), InvalidAudio, "truncated: the file ends inside the fmt chunk");
  PTRT_CHECK_THROWS(parse(wav(fmt_chunk(2, 1, 16000, 16) + data_chunk(pcm16))), InvalidAudio,
                    "encoding 0x0002 is not supported");
  PTRT_CHECK_THROWS(parse(wav(fmt_chunk(1, 1, 16000, 12) + data_chunk(pcm16))), InvalidAudio,
                    "12-bit PCM is not supported");
  PTRT_CHECK_THROWS(parse(wav(fmt_chunk(3, 1, 16000, 16) + data_chunk(pcm16))), InvalidAudio,
                    "16-bit float is not supported");
  PTRT_CHECK_THROWS(parse(wav(fmt_chunk(1, 0, 16000, 16) + data_chunk(pcm16))), InvalidAudio, "0 channels");
  PTRT_CHECK_THROWS(parse(wav(fmt_chunk(1, 1, 0, 16) + data_chunk(pcm16))), InvalidAudio, "sample rate 0 Hz");
  std::string bad_align = fmt;
  bad_align[20] = 7;  // block align
  PTRT_CHECK_THROWS(parse(wav(bad_align + data_chunk(pcm16))), InvalidAudio, "block align 7");
  PTRT_CHECK_THROWS(parse(wav(fmt + data_chunk(""))), InvalidAudio, "holds no samples");
  std::string nan(4, '\0');
  const float q = std::nanf("");
  std::memcpy(&nan[0], &q, 4);
  PTRT_CHECK_THROWS(parse(wav(fmt_chunk(3, 1, 16000, 32) + data_chunk(nan))), InvalidAudio, "sample 0 (channel 0) is NaN");
  // Longer than 4 hours (1 kHz, 8-bit: 14.4 MB of real data).
  const std::string long_data(static_cast<size_t>(4 * 3600 * 1000 + 1000), '\x80');
  PTRT_CHECK_THROWS(parse(wav(fmt_chunk(1, 1, 1000, 8) + data_chunk(long_data))), InvalidAudio,
                    "the longest accepted is 4.0");
  PTRT_CHECK_THROWS(parakeet_trt::read_wav("/nonexistent/audio.wav"), InvalidAudio, "cannot open audio file /nonexistent/audio.wav");
  PTRT_CHECK_THROWS(parakeet_trt::read_wav(PTRT_SOURCE_DIR), InvalidAudio, "is a directory");
}

void test_packaged_demo_wav() {
  const std::string path = std::string(PTRT_SOURCE_DIR) + "/python/parakeet_trt/samples/demo.wav";
  const WavAudio a = parakeet_trt::read_wav(path);
  PTRT_CHECK_EQ(a.sample_rate_hz, 16000);
  PTRT_CHECK_EQ(a.bits_per_sample, 16);
  PTRT_CHECK_EQ(a.samples.size(), 192595u);
  const std::vector<float> same = parakeet_trt::load_wav(path, 16000);
  PTRT_CHECK(same == a.samples);
  const std::vector<float> up = parakeet_trt::load_wav(path, 48000);
  PTRT_CHECK_EQ(up.size(), 3 * a.samples.size());
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"downsampling_keeps_frequency_and_amplitude", &test_downsampling_keeps_frequency_and_amplitude},
      {"upsampling_and_odd_rates", &test_upsampling_and_odd_rates},
      {"no_aliasing", &test_no_aliasing},
      {"identity_and_lengths", &test_identity_and_lengths},
      {"wav_encodings", &test_wav_encodings},
      {"malformed_wav_is_refused", &test_malformed_wav_is_refused},
      {"packaged_demo_wav", &test_packaged_demo_wav},
  });
}
