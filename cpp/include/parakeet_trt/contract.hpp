// The model contract (`<model>.contract.json`, written by the exporter beside the artifacts).
//
// It is what the runtime may assume about an exported model: every engine's I/O names, dtypes and
// shapes, the graphs' SHA-256, the vocabulary, decoding and feature settings, and for a streaming
// export the profile's parameters and per-call invariants. Model::load checks the folder against
// it (ContractViolation on any difference); the encoder runners assert its per-call rules.
// docs/CONTRACT_SOURCES.md gives the source of every value.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace parakeet_trt {

struct ModelMeta;

// One input or output of an exported graph. Symbolic dimensions ("batch", "time") are -1.
struct TensorSpec {
  std::string name;
  std::string dtype;  // "float32", "int64", "int32"
  std::vector<int64_t> shape;
};

// Precisions an exported graph may have (`parakeet-trt export --precision`); anything else is a ModelError.
// Returns the value, or throws ModelError naming `field`.
const std::string& check_graph_precision(const std::string& value, const std::string& field);

struct EngineContract {
  std::string name;                           // "encoder", "decoder_joint", "encoder_streaming"
  std::string file;                           // graph file in the model folder
  std::map<std::string, std::string> sha256;  // graph file and its external-data files
  std::vector<TensorSpec> inputs;             // symbolic dimensions are -1
  std::vector<TensorSpec> outputs;
  std::string precision = "fp32";             // "fp32" | "int8" | "fp16" (absent in older contracts: fp32)
  const TensorSpec& input(const std::string& name) const;  // ContractViolation if absent
  const TensorSpec& output(const std::string& name) const;
};

// The streaming profile of an `encoder_streaming` export and the rules every call must satisfy.
// Units: feature frames for window/length, encoder frames for everything after subsampling.
struct StreamingContract {
  bool present = false;
  std::string profile;  // "chunk_isolated" | "cache_aware"
  int64_t window_frames = 0;            // audio_signal time size of every call (pre-encode cache + new)
  int64_t new_frames_per_call = 0;      // feature frames of new audio per call
  int64_t advance_frames_per_call = 0;  // feature frames the window moves per call
  int64_t pre_encode_cache_size = 0;
  int64_t min_length = 0;               // shortest `length` that still yields one encoder frame
  int64_t drop_extra_pre_encoded = 0;
  int64_t valid_out_len = 0;
  int64_t output_frames_per_call = 0;   // outputs time size
  int64_t cache_drop_size = 0;
  int64_t cache_size = 0;               // last_channel_cache_size
  int64_t cache_keep_per_call = 0;      // growth of cache_last_channel_len per call
  int64_t n_layers = 0;
  int64_t d_model = 0;
  int64_t conv_cache_size = 0;
  int subsampling_factor = 0;

  // encoded_lengths for a window whose first `length` frames are valid.
  int64_t expected_encoded_length(int64_t length) const;
  // cache_last_channel_next_len after a call that received `cache_len` (NeMo: no lower clamp).
  int64_t next_cache_len(int64_t cache_len) const;
};

struct Contract {
  int version = 0;
  std::string model_name;
  // features
  int sample_rate_hz = 0, n_fft = 0, win_length = 0, hop_length = 0, n_mels = 0;
  // encoder
  int d_model = 0, subsampling_factor = 0;
  double frame_stride_s = 0.0;
  int64_t max_encoder_frames = 0;
  // decoding
  int vocab_size = 0, blank_id = 0, max_symbols = 0, num_outputs = 0;
  std::vector<int> durations;
  std::string vocabulary_file, vocabulary_sha256;
  std::map<std::string, EngineContract> engines;
  StreamingContract streaming;

  // Parses contract JSON text; throws ModelError naming the key.
  static Contract parse(const std::string& json_text);
  bool has_engine(const std::string& name) const { return engines.count(name) != 0; }
  const EngineContract& engine(const std::string& name) const;  // ContractViolation if absent

  // Every difference between the contract and model_meta.json is a ContractViolation naming the
  // field: model name, feature settings, encoder geometry, vocabulary, durations, max_symbols,
  // joint width, each graph's file, I/O names, dtypes, shapes and hashes.
  void check_meta(const ModelMeta& meta) const;
};

}  // namespace parakeet_trt
