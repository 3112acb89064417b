#pragma once
// Documented ranges of the numbers in a model folder (model_meta.json and the contract), checked
// at load so that a corrupt or hostile folder is refused with a ModelError naming the field
// instead of allocating gigabytes, overflowing or spinning later. The feature front end's ranges
// live in FeatureConfig::validate. Table: docs/RELIABILITY.md "Model folder limits".

#include <cstdint>
#include <string>

namespace parakeet_trt {

struct Contract;
struct ModelMeta;

constexpr int64_t kMaxModelWidth = 65536;           // d_model, pred_hidden, joint_hidden, encoder_dim
constexpr int64_t kMaxSubsamplingFactor = 64;        // encoder.subsampling_factor (a power of two >= 2)
constexpr int64_t kMaxEncoderFrames = 10'000'000;   // positional table rows (9.3 days at 80 ms)
constexpr double kMinEncoderFrameS = 0.001;         // one encoder frame: 1 ms ...
constexpr double kMaxEncoderFrameS = 10.0;          // ... to 10 s
constexpr int64_t kMaxVocabSize = 1'000'000;         // decoding.vocab_size
constexpr int64_t kMaxSymbolsPerFrame = 1000;        // decoding.max_symbols
constexpr int64_t kMaxDurations = 64;                 // entries of decoding.durations
constexpr int64_t kMaxDuration = 1000;                // each of decoding.durations (frames)
constexpr int64_t kMaxRnnLayers = 64;                 // decoder.pred_rnn_layers
constexpr int64_t kMaxStreamingFrames = 100'000;    // streaming window / cache sizes, in frames
constexpr int64_t kMaxStreamingCacheFloats = int64_t{1} << 28;  // each streaming cache tensor (1 GiB)
constexpr int64_t kMaxStreamingLayers = 1024;        // streaming.n_layers

// ModelError "<field> = <value> is out of range [lo, hi]" unless lo <= value <= hi.
void check_range(const std::string& field, int64_t value, int64_t lo, int64_t hi);

// The encoder, decoding and decoder numbers of model_meta.json; frame_stride_s must also equal
// hop_length * subsampling_factor / sample_rate_hz (what one encoder frame is).
void check_meta_limits(const ModelMeta& meta);
void check_decoder_limits(int64_t pred_hidden, int64_t pred_rnn_layers, int64_t joint_hidden);
// The contract's streaming section.
void check_contract_limits(const Contract& contract);

}  // namespace parakeet_trt
