#include "parakeet_trt/model.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/contract_json.hpp"
#include "core/folder_paths.hpp"
#include "core/json.hpp"
#include "core/model_limits.hpp"
#include "core/sha256.hpp"
#include "core/verified_stamps.hpp"
#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

// Settings our front end does not implement must stop the load, not silently change features.
template <typename T>
void require_setting(const Json& features, const char* key, const T& supported, const std::string& shown) {
  if (!features.has(key)) return;
  const Json& v = features.at(key);
  bool ok;
  if constexpr (std::is_same_v<T, bool>) ok = v.type() == Json::Type::kBool && v.as_bool() == supported;
  else if constexpr (std::is_arithmetic_v<T>) ok = v.type() == Json::Type::kNumber && v.as_number() == supported;
  else ok = v.type() == Json::Type::kString && v.as_string() == supported;
  if (!ok) {
    throw ModelError(std::string("unsupported feature setting features.") + key + " (the runtime implements " +
                     shown + " only)");
  }
}

FeatureConfig parse_features(const Json& f) {
  require_setting(f, "log", true, "log=true");
  require_setting(f, "log_zero_guard_type", std::string("add"), "log_zero_guard_type='add'");
  require_setting(f, "mel_norm", std::string("slaney"), "mel_norm='slaney'");
  require_setting(f, "window", std::string("hann"), "window='hann'");
  require_setting(f, "stft_pad_mode", std::string("constant"), "stft_pad_mode='constant' (NeMo >= 2.5)");
  require_setting(f, "frame_splicing", 1.0, "frame_splicing=1");
  require_setting(f, "exact_pad", false, "exact_pad=false");
  require_setting(f, "pad_to", 0.0, "pad_to=0");
  FeatureConfig c;
  c.sample_rate_hz = json_int32(f.at("sample_rate_hz", "features"), "features.sample_rate_hz");
  c.n_fft = json_int32(f.at("n_fft", "features"), "features.n_fft");
  c.win_length = json_int32(f.at("win_length", "features"), "features.win_length");
  c.hop_length = json_int32(f.at("hop_length", "features"), "features.hop_length");
  c.n_mels = json_int32(f.at("n_mels", "features"), "features.n_mels");
  // NeMo allows preemph: null (no pre-emphasis); we store that as 0.
  const Json& preemph = f.at("preemph", "features");
  c.preemph = preemph.is_null() ? 0.0f : static_cast<float>(preemph.as_number("features.preemph"));
  c.log_zero_guard_value =
      static_cast<float>(f.at("log_zero_guard_value", "features").as_number("features.log_zero_guard_value"));
  c.lowfreq_hz = static_cast<float>(f.at("lowfreq_hz", "features").as_number("features.lowfreq_hz"));
  c.highfreq_hz = static_cast<float>(f.at("highfreq_hz", "features").as_number("features.highfreq_hz"));
  c.mag_power = static_cast<float>(f.at("mag_power", "features").as_number("features.mag_power"));
  c.pad_value = static_cast<float>(f.at("pad_value", "features").as_number("features.pad_value"));
  const Json& normalize_value = f.at("normalize", "features");
  const std::string normalize = normalize_value.is_null() ? "None" : normalize_value.as_string("features.normalize");
  if (normalize == "per_feature") c.normalize_per_feature = true;
  else if (normalize == "None" || normalize == "none") c.normalize_per_feature = false;
  else throw ModelError("unsupported feature setting features.normalize='" + normalize +
                        "' (the runtime implements 'per_feature' and 'None')");
  try {
    c.validate();
  } catch (const std::exception& e) {
    throw ModelError(std::string("model_meta.json features: ") + e.what());
  }
  return c;
}

GraphSpec parse_graph(const Json& g, const std::string& path) {
  GraphSpec spec;
  spec.file = g.at("file", path).as_string(path + ".file");
  if (g.has("external_data")) {
    const Json& ext = g.at("external_data");
    for (size_t i = 0; i < ext.size(); ++i) spec.external_data.push_back(ext.at(i).as_string(path + ".external_data"));
  }
  spec.inputs = json_tensor_specs(g.at("inputs", path), path + ".inputs");
  spec.outputs = json_tensor_specs(g.at("outputs", path), path + ".outputs");
  if (g.has("precision")) {
    spec.precision = check_graph_precision(g.at("precision").as_string(path + ".precision"), path + ".precision");
  }
  return spec;
}

// Copies one named tensor out of decoder_step.bin after checking its declared shape.
std::vector<float> take_tensor(const Json& tensors, const std::string& blob, const std::string& name,
                               const std::vector<int64_t>& expected_shape) {
  std::string path = "decoder_step.tensors." + name;
  if (!tensors.has(name)) throw ModelError("decoder_step.bin index has no tensor '" + name + "'");
  const Json& t = tensors.at(name);
  std::vector<int64_t> shape = json_shape(t.at("shape", path), path + ".shape");
  if (shape != expected_shape) {
    throw ContractViolation(path + ".shape", shape_string(expected_shape), shape_string(shape));
  }
  int64_t offset = t.at("offset", path).as_int(path + ".offset");
  int64_t count = 1;
  for (int64_t d : shape) count *= d;  // shape equals expected_shape, whose product fits
  if (offset < 0 || offset > static_cast<int64_t>(blob.size()) ||
      count > (static_cast<int64_t>(blob.size()) - offset) / 4) {
    throw ModelError("decoder_step.bin is truncated: tensor '" + name + "' needs bytes [" + std::to_string(offset) +
                     ", " + std::to_string(offset + count * 4) + ") but the file has " + std::to_string(blob.size()));
  }
  std::vector<float> values(static_cast<size_t>(count));
  std::memcpy(values.data(), blob.data() + offset, static_cast<size_t>(count) * 4);
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw ModelError("decoder_step.bin tensor '" + name + "' holds a non-finite value at element " + std::to_string(i));
    }
  }
  return values;
}

// Checks `file` against `expected` (a stamp may stand for the hash, see verified_stamps.hpp) and
// records how it was checked.
void check_file_hash(const std::string& directory, const std::string& file, const std::string& expected,
                     const std::string& field, const ModelLoadOptions& options,
                     std::map<std::string, std::string>& checks) {
  std::string actual = stamped_sha256(directory + "/" + file, expected, !options.full_verify);
  if (actual != expected) throw ContractViolation(field, expected, actual);
  const bool stamped = last_hash_was_stamped();
  auto it = checks.find(file);
  if (it == checks.end() || !stamped) checks[file] = stamped ? "stamped" : "hashed";
}

void verify_hash(const ModelMeta& meta, const std::string& directory, const std::string& file,
                 const ModelLoadOptions& options, std::map<std::string, std::string>& checks) {
  auto it = meta.artifact_sha256.find(file);
  if (it == meta.artifact_sha256.end()) {
    throw ModelError("model_meta.json lists no sha256 for '" + file + "' under 'artifacts'");
  }
  check_file_hash(directory, file, it->second, "artifacts." + file + " sha256", options, checks);
}

}  // namespace

const TensorSpec& GraphSpec::input(const std::string& name) const { return find_tensor_spec(inputs, name, file + " input"); }
const TensorSpec& GraphSpec::output(const std::string& name) const { return find_tensor_spec(outputs, name, file + " output"); }

int64_t EncoderSpec::encoded_length(int64_t feature_frames) const {
  int64_t length = feature_frames;
  for (int factor = subsampling_factor; factor > 1; factor /= 2) {
    // floor((L + 2*padding - kernel) / stride + 1) with kernel 3, stride 2, padding 1.
    int64_t numerator = length - 1;
    length = (numerator >= 0 ? numerator / 2 : -((-numerator + 1) / 2)) + 1;
  }
  return length;
}

ModelMeta ModelMeta::parse(const std::string& json_text) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const std::exception& e) {
    throw ModelError(std::string("model_meta.json is not valid JSON: ") + e.what());
  }
  try {
    ModelMeta meta;
    meta.format_version = static_cast<int>(root.at("format_version").as_int("format_version"));
    if (meta.format_version != 1) {
      throw ModelError("model_meta.json format_version " + std::to_string(meta.format_version) +
                       " is not supported (this runtime reads version 1)");
    }
    meta.model_name = root.at("model_name").as_string("model_name");
    meta.features = parse_features(root.at("features"));

    const Json& enc = root.at("encoder");
    meta.encoder.d_model = json_int32(enc.at("d_model", "encoder"), "encoder.d_model");
    meta.encoder.subsampling_factor =
        json_int32(enc.at("subsampling_factor", "encoder"), "encoder.subsampling_factor");
    meta.encoder.max_encoder_frames = enc.at("max_encoder_frames", "encoder").as_int("encoder.max_encoder_frames");
    meta.encoder.frame_stride_s = enc.at("frame_stride_s", "encoder").as_number("encoder.frame_stride_s");
    meta.encoder.feat_in = json_int32(enc.at("feat_in", "encoder"), "encoder.feat_in");
    if (meta.encoder.max_encoder_frames <= 0) {
      throw ModelError("encoder.max_encoder_frames must be > 0, got " + std::to_string(meta.encoder.max_encoder_frames));
    }
    if (!(meta.encoder.frame_stride_s > 0.0)) {
      throw ModelError("encoder.frame_stride_s must be > 0, got " + std::to_string(meta.encoder.frame_stride_s));
    }
    int f = meta.encoder.subsampling_factor;
    if (f < 2 || (f & (f - 1)) != 0) {
      throw ModelError("encoder.subsampling_factor " + std::to_string(f) + " is not a power of two >= 2");
    }
    if (meta.encoder.feat_in != meta.features.n_mels) {
      throw ContractViolation("encoder.feat_in", std::to_string(meta.features.n_mels) + " (features.n_mels)",
                              std::to_string(meta.encoder.feat_in));
    }

    const Json& dec = root.at("decoding");
    meta.decoding.vocab_size = json_int32(dec.at("vocab_size", "decoding"), "decoding.vocab_size");
    meta.decoding.blank_id = json_int32(dec.at("blank_id", "decoding"), "decoding.blank_id");
    meta.decoding.max_symbols = json_int32(dec.at("max_symbols", "decoding"), "decoding.max_symbols");
    const Json& durations = dec.at("durations", "decoding");
    for (size_t i = 0; i < durations.size(); ++i) {
      meta.decoding.durations.push_back(json_int32(durations.at(i), "decoding.durations"));
    }
    meta.decoding.validate();

    const Json& graphs = root.at("graphs");
    // An export holds the offline encoder, the streaming encoder or both; decoder_joint.onnx is
    // optional (the native decoder step reads decoder_step.bin instead).
    if (!graphs.has("encoder") && !graphs.has("encoder_streaming")) {
      throw ModelError("model_meta.json 'graphs' has neither 'encoder' nor 'encoder_streaming'");
    }
    if (graphs.has("encoder")) meta.encoder_graph = parse_graph(graphs.at("encoder"), "graphs.encoder");
    if (graphs.has("decoder_joint")) {
      meta.decoder_joint_graph = parse_graph(graphs.at("decoder_joint"), "graphs.decoder_joint");
    }
    if (graphs.has("encoder_streaming")) {
      meta.encoder_streaming_graph = parse_graph(graphs.at("encoder_streaming"), "graphs.encoder_streaming");
    }
    if (root.has("contract")) {
      const Json& c = root.at("contract");
      meta.contract_file = c.at("file", "contract").as_string("contract.file");
      meta.contract_sha256 = c.at("sha256", "contract").as_string("contract.sha256");
    }
    for (const auto& kv : root.at("artifacts").items("artifacts")) {
      meta.artifact_sha256[kv.first] = kv.second.as_string("artifacts." + kv.first);
    }
    check_meta_limits(meta);
    return meta;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw ModelError(std::string("model_meta.json: ") + e.what());
  }
}

std::shared_ptr<const Model> Model::load(const std::string& directory, const ModelLoadOptions& options) {
  std::shared_ptr<Model> model(new Model());
  model->directory_ = directory;
  std::string meta_text = read_model_file(directory, "model_meta.json", "model_meta.json", kMaxModelJsonBytes);
  model->meta_ = ModelMeta::parse(meta_text);
  const ModelMeta& meta = model->meta_;

  // CONTRACT: every model folder carries the contract its exporter wrote; the folder must match it.
  // SOURCE: DESIGN.md "The contract"; docs/DECISION_LOG.md "Contract" (no contract-less folders).
  // WHY: an engine or artifact that does not match its model must be refused at load, loudly.
  if (meta.contract_file.empty()) {
    throw ModelError("model folder '" + directory + "' has no contract (model_meta.json lists none); "
                     "re-export it with this version of parakeet-trt export");
  }
  std::string contract_text = read_model_file(directory, meta.contract_file, "contract.file", kMaxModelJsonBytes);
  if (options.verify_hashes) {
    Sha256 digest;
    digest.update(contract_text.data(), contract_text.size());
    std::string actual = digest.hex_digest();
    if (actual != meta.contract_sha256) {
      throw ContractViolation("contract." + meta.contract_file + " sha256", meta.contract_sha256, actual);
    }
  }
  model->contract_ = Contract::parse(contract_text);
  check_graph_paths(directory, meta, model->contract_);
  model->contract_.check_meta(meta);
  if (options.verify_hashes && options.verify_graph_hashes) {
    for (const auto& kv : model->contract_.engines) {
      for (const auto& file_hash : kv.second.sha256) {
        check_file_hash(directory, file_hash.first, file_hash.second,
                        "engines." + kv.first + "." + file_hash.first + " sha256", options, model->hash_checks_);
      }
    }
  }

  Json root = Json::parse(meta_text);
  try {
    const Json& vocab = root.at("vocabulary");
    std::string vocab_file = vocab.at("file", "vocabulary").as_string("vocabulary.file");
    model_file_path(directory, vocab_file, "vocabulary.file", kMaxVocabularyBytes);
    if (options.verify_hashes) verify_hash(meta, directory, vocab_file, options, model->hash_checks_);
    auto id_list = [&](const char* key) {
      std::vector<int> ids;
      if (vocab.has(key)) {
        const Json& list = vocab.at(key);
        for (size_t i = 0; i < list.size(); ++i) ids.push_back(json_int32(list.at(i), std::string("vocabulary.") + key));
      }
      return ids;
    };
    model->vocabulary_ = Vocabulary::load(directory + "/" + vocab_file, id_list("unknown_ids"), id_list("control_ids"));
    int64_t declared = vocab.at("size", "vocabulary").as_int("vocabulary.size");
    if (static_cast<int64_t>(model->vocabulary_.size()) != declared) {
      throw ContractViolation("vocabulary.size (" + vocab_file + " lines)", std::to_string(declared),
                              std::to_string(model->vocabulary_.size()));
    }
    if (options.verify_hashes) {
      check_file_hash(directory, vocab_file, model->contract_.vocabulary_sha256, "vocabulary.sha256", options,
                      model->hash_checks_);
    }
    if (declared != meta.decoding.vocab_size) {
      throw ContractViolation("vocabulary.size", std::to_string(meta.decoding.vocab_size) + " (decoding.vocab_size)",
                              std::to_string(declared));
    }

    const Json& dec = root.at("decoder");
    const Json& step = root.at("decoder_step");
    std::string step_file = step.at("file", "decoder_step").as_string("decoder_step.file");
    model_file_path(directory, step_file, "decoder_step.file", kMaxDecoderStepBytes);
    if (options.verify_hashes) verify_hash(meta, directory, step_file, options, model->hash_checks_);
    std::string blob = read_model_file(directory, step_file, "decoder_step.file", kMaxDecoderStepBytes);
    const Json& tensors = step.at("tensors", "decoder_step");

    DecoderStepWeights w;
    w.vocab_size = meta.decoding.vocab_size;
    w.pred_hidden = json_int32(dec.at("pred_hidden", "decoder"), "decoder.pred_hidden");
    w.pred_rnn_layers = json_int32(dec.at("pred_rnn_layers", "decoder"), "decoder.pred_rnn_layers");
    w.joint_hidden = json_int32(dec.at("joint_hidden", "decoder"), "decoder.joint_hidden");
    w.num_outputs = json_int32(dec.at("num_outputs", "decoder"), "decoder.num_outputs");
    w.encoder_dim = json_int32(dec.at("encoder_dim", "decoder"), "decoder.encoder_dim");
    check_decoder_limits(w.pred_hidden, w.pred_rnn_layers, w.joint_hidden);
    int64_t expected_outputs = meta.decoding.vocab_size + 1 + static_cast<int64_t>(meta.decoding.durations.size());
    if (w.num_outputs != expected_outputs) {
      throw ContractViolation("decoder.num_outputs", std::to_string(expected_outputs) +
                              " (vocab_size + blank + durations)", std::to_string(w.num_outputs));
    }
    if (w.encoder_dim != meta.encoder.d_model) {
      throw ContractViolation("decoder.encoder_dim", std::to_string(meta.encoder.d_model) + " (encoder.d_model)",
                              std::to_string(w.encoder_dim));
    }
    const int64_t V1 = w.vocab_size + 1, H = w.pred_hidden, J = w.joint_hidden, C = w.num_outputs, D = w.encoder_dim;
    w.embedding = take_tensor(tensors, blob, "embedding", {V1, H});
    for (int layer = 0; layer < w.pred_rnn_layers; ++layer) {
      std::string p = "lstm." + std::to_string(layer) + ".";
      DecoderStepWeights::LstmLayer l;
      l.w_ih = take_tensor(tensors, blob, p + "w_ih", {4 * H, H});
      l.w_hh = take_tensor(tensors, blob, p + "w_hh", {4 * H, H});
      l.b_ih = take_tensor(tensors, blob, p + "b_ih", {4 * H});
      l.b_hh = take_tensor(tensors, blob, p + "b_hh", {4 * H});
      w.lstm.push_back(std::move(l));
    }
    w.enc_weight = take_tensor(tensors, blob, "joint.enc.weight", {J, D});
    w.enc_bias = take_tensor(tensors, blob, "joint.enc.bias", {J});
    w.pred_weight = take_tensor(tensors, blob, "joint.pred.weight", {J, H});
    w.pred_bias = take_tensor(tensors, blob, "joint.pred.bias", {J});
    w.out_weight = take_tensor(tensors, blob, "joint.out.weight", {C, J});
    w.out_bias = take_tensor(tensors, blob, "joint.out.bias", {C});
    std::string().swap(blob);  // the raw bytes are not kept: the transposed weights below are the one copy
    model->decoder_weights_ = std::make_shared<const NativeDecoderWeights>(std::move(w));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw ModelError("model folder '" + directory + "': " + e.what());
  }
  return model;
}

}  // namespace parakeet_trt
