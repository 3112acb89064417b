// A loaded model folder: what `parakeet-trt export` writes (model_meta.json, vocab.txt,
// decoder_step.bin, the ONNX graphs). Immutable once loaded and shareable across sessions.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "parakeet_trt/contract.hpp"
#include "parakeet_trt/decoder_step.hpp"
#include "parakeet_trt/engine_factory.hpp"
#include "parakeet_trt/features.hpp"
#include "parakeet_trt/tdt_decoder.hpp"
#include "parakeet_trt/vocabulary.hpp"

namespace parakeet_trt {

struct GraphSpec {
  std::string file;
  std::vector<std::string> external_data;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Numeric precision of the graph's weights and arithmetic: "fp32" (absent in older exports),
  // "int8" (ONNX Runtime dynamic quantization), "fp16" (GPU engines). See kGraphPrecisions.
  std::string precision = "fp32";
  const TensorSpec& input(const std::string& name) const;   // throws ContractViolation if absent
  const TensorSpec& output(const std::string& name) const;
};

struct EncoderSpec {
  int d_model = 0;
  int subsampling_factor = 0;       // 8 for Parakeet: three stride-2 convolutions
  int64_t max_encoder_frames = 0;   // positional-table limit baked into the exported graph
  double frame_stride_s = 0.0;      // hop * subsampling / sample rate = 0.08 s
  int feat_in = 0;

  // Encoder frames for a feature length, as NeMo's calc_length for kernel 3, stride 2, padding 1.
  int64_t encoded_length(int64_t feature_frames) const;
};

struct ModelMeta {
  int format_version = 0;
  std::string model_name;
  FeatureConfig features;
  EncoderSpec encoder;
  TdtDecodingConfig decoding;
  GraphSpec encoder_graph;            // empty file: not exported (a streaming-only folder)
  GraphSpec decoder_joint_graph;      // empty file: not exported
  GraphSpec encoder_streaming_graph;  // empty file: not exported
  std::map<std::string, std::string> artifact_sha256;
  std::string contract_file;    // "<model>.contract.json"
  std::string contract_sha256;  // of the contract file, as the exporter wrote it

  // Parses and validates model_meta.json text; throws ModelError naming the key.
  static ModelMeta parse(const std::string& json_text);
};

struct ModelLoadOptions {
  // Hash every artifact the core reads (vocabulary, decoder weights, the contract) against
  // model_meta.json and the contract.
  bool verify_hashes = true;
  // Also hash every graph file against the contract (a graph from another model is refused at
  // load). Engines that load the graph may hash it again; this makes the C ABI check it too.
  bool verify_graph_hashes = true;
  // Hash every file in full, ignoring verified stamps (`parakeet-trt verify`). Off: a file whose
  // stamp matches its identity and expected hash is not re-hashed (core/verified_stamps.hpp says
  // what a stamp does and does not see). PARAKEET_TRT_STAMPS=off turns stamps off everywhere.
  bool full_verify = false;
};

class Model {
 public:
  // Loads `directory`; throws ModelError (missing/corrupt files, no contract), ContractViolation
  // (artifacts that disagree with model_meta.json or the contract: vocabulary, durations, tensor
  // shapes, graph I/O, hashes). A folder without a contract is refused (DECISION_LOG, Contract).
  static std::shared_ptr<const Model> load(const std::string& directory, const ModelLoadOptions& options = {});

  const std::string& directory() const { return directory_; }
  const ModelMeta& meta() const { return meta_; }
  const Contract& contract() const { return contract_; }
  const Vocabulary& vocabulary() const { return vocabulary_; }
  // The prediction network and joint, transposed once at load and shared by every decoder step of
  // every session and stream on this model (never copied per stream).
  const std::shared_ptr<const NativeDecoderWeights>& native_decoder_weights() const { return decoder_weights_; }
  std::string path_of(const std::string& file) const { return directory_ + "/" + file; }
  // How each file's hash was checked at load: "hashed" (in full) or "stamped" (a verified stamp).
  const std::map<std::string, std::string>& hash_checks() const { return hash_checks_; }

  // The engine running `graph` with `options`, shared: every session and stream that asks for the same
  // graph and options (EngineOptions::key) while one is alive gets the same engine (one ONNX Runtime
  // session, one copy of the encoder's weights). Made on first use by make_engine; thread-safe.
  std::shared_ptr<Engine> engine(const std::string& graph, const EngineOptions& options) const;

 private:
  Model() = default;
  std::string directory_;
  ModelMeta meta_;
  Contract contract_;
  Vocabulary vocabulary_;
  std::shared_ptr<const NativeDecoderWeights> decoder_weights_;
  std::map<std::string, std::string> hash_checks_;
  // Engines by graph + options key: weak, so an engine lives as long as a session or stream uses it.
  mutable std::mutex engines_mutex_;
  mutable std::map<std::string, std::weak_ptr<Engine>> engines_;
};

}  // namespace parakeet_trt
