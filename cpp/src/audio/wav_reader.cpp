#include "audio/wav_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "audio/resampler.hpp"
#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatFloat = 3;
constexpr uint16_t kFormatExtensible = 0xFFFE;
// The KSDATAFORMAT_SUBTYPE GUID tail shared by PCM and IEEE float (after the 2-byte format tag).
constexpr uint8_t kSubformatTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                        0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

class Reader {
 public:
  Reader(std::istream& in, uint64_t size, const std::string& name) : in_(in), size_(size), name_(name) {
    origin_ = in_.tellg();
  }
  uint64_t size() const { return size_; }
  // Reads exactly n bytes at offset, or throws naming what was being read.
  void read(uint64_t offset, void* out, uint64_t n, const char* what) {
    if (offset > size_ || n > size_ - offset) fail(std::string("truncated: the file ends inside the ") + what);
    in_.clear();
    in_.seekg(origin_ + static_cast<std::streamoff>(offset));
    in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
    if (!in_ || static_cast<uint64_t>(in_.gcount()) != n) fail(std::string("cannot read the ") + what);
  }
  [[noreturn]] void fail(const std::string& problem) const { throw InvalidAudio(name_ + ": " + problem); }

 private:
  std::istream& in_;
  std::streampos origin_;
  uint64_t size_;
  const std::string& name_;
};

struct Format {
  uint16_t tag = 0;  // kFormatPcm or kFormatFloat after resolving EXTENSIBLE
  uint16_t channels = 0;
  uint32_t rate = 0;
  uint16_t block_align = 0;
  uint16_t bits = 0;
};

Format parse_format(Reader& r, uint64_t offset, uint32_t chunk_size) {
  if (chunk_size < 16) r.fail("the fmt chunk has " + std::to_string(chunk_size) + " bytes, fewer than 16");
  uint8_t b[40] = {0};
  const uint32_t n = std::min<uint32_t>(chunk_size, sizeof(b));
  r.read(offset, b, n, "fmt chunk");
  Format f;
  f.tag = u16(b);
  f.channels = u16(b + 2);
  f.rate = u32(b + 4);
  f.block_align = u16(b + 12);
  f.bits = u16(b + 14);
  if (f.tag == kFormatExtensible) {
    if (n < 40) r.fail("the WAVE_FORMAT_EXTENSIBLE fmt chunk has " + std::to_string(chunk_size) + " bytes, fewer than 40");
    f.tag = u16(b + 24);
    if (std::memcmp(b + 26, kSubformatTail, sizeof(kSubformatTail)) != 0) r.fail("unknown WAVE_FORMAT_EXTENSIBLE subformat");
  }
  char tag_text[8];
  std::snprintf(tag_text, sizeof(tag_text), "0x%04X", static_cast<unsigned>(f.tag));
  if (f.tag != kFormatPcm && f.tag != kFormatFloat) {
    r.fail(std::string("encoding ") + tag_text + " is not supported (PCM integer or IEEE float only)");
  }
  const bool bits_ok = f.tag == kFormatPcm ? (f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32)
                                           : (f.bits == 32 || f.bits == 64);
  if (!bits_ok) {
    r.fail(std::to_string(f.bits) + "-bit " + (f.tag == kFormatPcm ? "PCM" : "float") +
           " is not supported (PCM 8/16/24/32-bit, float 32/64-bit)");
  }
  if (f.channels == 0) r.fail("the fmt chunk declares 0 channels");
  if (f.rate < static_cast<uint32_t>(Resampler::kMinRateHz) || f.rate > static_cast<uint32_t>(Resampler::kMaxRateHz)) {
    r.fail("sample rate " + std::to_string(f.rate) + " Hz is outside [" + std::to_string(Resampler::kMinRateHz) +
           ", " + std::to_string(Resampler::kMaxRateHz) + "] Hz");
  }
  if (f.block_align != static_cast<uint32_t>(f.channels) * (f.bits / 8)) {
    r.fail("block align " + std::to_string(f.block_align) + " is not channels x bytes per sample (" +
           std::to_string(f.channels) + " x " + std::to_string(f.bits / 8) + ")");
  }
  return f;
}

double sample_at(const uint8_t* p, const Format& f) {
  if (f.tag == kFormatFloat) {
    if (f.bits == 32) {
      float v;
      std::memcpy(&v, p, 4);  // little-endian hosts only (x86-64, aarch64)
      return v;
    }
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  switch (f.bits) {
    case 8: return (static_cast<int>(p[0]) - 128) / 128.0;
    case 16: return static_cast<int16_t>(u16(p)) / 32768.0;
    case 24: {
      int32_t v = static_cast<int32_t>(p[0] | (p[1] << 8) | (p[2] << 16));
      if (v & 0x800000) v -= 0x1000000;
      return v / 8388608.0;
    }
    default: return static_cast<int32_t>(u32(p)) / 2147483648.0;
  }
}

}  // namespace

WavAudio parse_wav(std::istream& in, uint64_t size, const std::string& name) {
  Reader r(in, size, name);
  uint8_t header[12];
  if (size < 12) r.fail("not a RIFF/WAVE file (" + std::to_string(size) + " bytes)");
  r.read(0, header, 12, "RIFF header");
  if (std::memcmp(header, "RIFF", 4) != 0 || std::memcmp(header + 8, "WAVE", 4) != 0) {
    r.fail("not a RIFF/WAVE file (no RIFF....WAVE header)");
  }
  Format format;
  bool have_format = false;
  uint64_t position = 12;
  while (true) {
    if (position + 8 > size) r.fail(have_format ? "no data chunk" : "no fmt chunk");
    uint8_t chunk[8];
    r.read(position, chunk, 8, "chunk header");
    const uint32_t chunk_size = u32(chunk + 4);
    const uint64_t body = position + 8;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      format = parse_format(r, body, chunk_size);
      have_format = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!have_format) r.fail("the data chunk comes before the fmt chunk");
      const uint64_t available = size - body;
      // 0xFFFFFFFF: a writer that streamed and never patched the size; the data runs to the end.
      uint64_t bytes = chunk_size == 0xFFFFFFFFu ? available : chunk_size;
      if (bytes > available) {
        r.fail("truncated: the data chunk declares " + std::to_string(chunk_size) + " bytes but the file holds " +
               std::to_string(available));
      }
      const uint64_t frames = bytes / format.block_align;
      if (frames == 0) r.fail("the data chunk holds no samples");
      const double duration_s = static_cast<double>(frames) / format.rate;
      if (duration_s > kMaxWavDurationS) {
        r.fail("holds " + std::to_string(duration_s / 3600.0) + " h of audio; the longest accepted is " +
               std::to_string(kMaxWavDurationS / 3600.0) + " h");
      }
      WavAudio audio;
      audio.sample_rate_hz = static_cast<int32_t>(format.rate);
      audio.channels = format.channels;
      audio.bits_per_sample = format.bits;
      audio.is_float = format.tag == kFormatFloat;
      audio.samples.resize(static_cast<size_t>(frames));
      // Read in blocks of whole frames: memory beyond the output is one block.
      const uint64_t frames_per_block = std::max<uint64_t>(1, (1u << 20) / format.block_align);
      std::vector<uint8_t> block;
      const int bytes_per_sample = format.bits / 8;
      for (uint64_t first = 0; first < frames; first += frames_per_block) {
        const uint64_t count = std::min(frames_per_block, frames - first);
        block.resize(static_cast<size_t>(count * format.block_align));
        r.read(body + first * format.block_align, block.data(), block.size(), "data chunk");
        for (uint64_t i = 0; i < count; ++i) {
          const uint8_t* frame = block.data() + i * format.block_align;
          double sum = 0.0;
          for (int c = 0; c < format.channels; ++c) {
            const double v = sample_at(frame + c * bytes_per_sample, format);
            if (!std::isfinite(v)) {
              r.fail("sample " + std::to_string(first + i) + " (channel " + std::to_string(c) + ") is " +
                     (std::isnan(v) ? "NaN" : "infinite"));
            }
            sum += v;
          }
          audio.samples[static_cast<size_t>(first + i)] = static_cast<float>(sum / format.channels);
        }
      }
      return audio;
    }
    position = body + chunk_size + (chunk_size & 1u);
  }
}

WavAudio read_wav(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw InvalidAudio("audio path is a directory, not a file: " + path);
  std::ifstream file(path, std::ios::binary);
  if (!file) throw InvalidAudio("cannot open audio file " + path + ": " + std::strerror(errno));
  file.seekg(0, std::ios::end);
  const std::streamoff size = file.tellg();
  if (size < 0) throw InvalidAudio("cannot read audio file " + path);
  file.seekg(0, std::ios::beg);
  return parse_wav(file, static_cast<uint64_t>(size), path);
}

std::vector<float> load_wav(const std::string& path, int32_t target_rate_hz) {
  WavAudio audio = read_wav(path);
  if (audio.sample_rate_hz == target_rate_hz) return std::move(audio.samples);
  const Resampler resampler(audio.sample_rate_hz, target_rate_hz);
  return resampler.process(audio.samples.data(), static_cast<int64_t>(audio.samples.size()));
}

}  // namespace parakeet_trt
