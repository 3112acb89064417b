#include "parakeet_trt/contract.hpp"

#include <algorithm>
#include <cmath>

#include "core/contract_json.hpp"
#include "core/model_limits.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/model.hpp"

namespace parakeet_trt {
namespace {

EngineContract parse_engine(const std::string& name, const Json& e) {
  const std::string path = "engines." + name;
  EngineContract c;
  c.name = name;
  c.file = e.at("file", path).as_string(path + ".file");
  for (const auto& kv : e.at("sha256", path).items(path + ".sha256")) {
    c.sha256[kv.first] = kv.second.as_string(path + ".sha256." + kv.first);
  }
  if (e.has("inputs")) c.inputs = json_tensor_specs(e.at("inputs"), path + ".inputs");
  if (e.has("outputs")) c.outputs = json_tensor_specs(e.at("outputs"), path + ".outputs");
  if (e.has("precision")) c.precision = check_graph_precision(e.at("precision").as_string(path + ".precision"), path + ".precision");
  return c;
}

StreamingContract parse_streaming(const Json& s) {
  auto get = [&](const char* key) { return s.at(key, "streaming").as_int(std::string("streaming.") + key); };
  StreamingContract c;
  c.present = true;
  c.profile = s.at("profile", "streaming").as_string("streaming.profile");
  if (c.profile != "chunk_isolated" && c.profile != "cache_aware") {
    throw ModelError("streaming.profile '" + c.profile + "' is not chunk_isolated or cache_aware");
  }
  c.window_frames = get("window_frames");
  c.new_frames_per_call = get("new_frames_per_call");
  c.advance_frames_per_call = get("advance_frames_per_call");
  c.pre_encode_cache_size = get("pre_encode_cache_size");
  c.drop_extra_pre_encoded = get("drop_extra_pre_encoded");
  c.valid_out_len = get("valid_out_len");
  c.output_frames_per_call = get("output_frames_per_call");
  c.cache_drop_size = get("cache_drop_size");
  c.cache_size = get("last_channel_cache_size");
  c.cache_keep_per_call = get("cache_keep_per_call");
  c.n_layers = get("n_layers");
  c.d_model = get("d_model");
  c.conv_cache_size = get("conv_cache_size");
  c.subsampling_factor = static_cast<int>(get("subsampling_factor"));
  c.min_length = s.at("invariants", "streaming").at("min_length", "streaming.invariants").as_int("min_length");
  if (c.window_frames <= 0 || c.output_frames_per_call <= 0 || c.cache_size <= 0 || c.n_layers <= 0 ||
      c.d_model <= 0 || c.subsampling_factor < 2 || c.min_length < 1 || c.min_length > c.window_frames) {
    throw ModelError("streaming section holds a non-positive size");
  }
  // CONTRACT: chunk_isolated never keeps a frame in the attention cache (cache_keep_size == 0).
  // SOURCE: NeMo conformer_encoder.py forward_internal (cache_keep_size); docs/CONTRACT_SOURCES.md.
  // WHY: that is what defines the profile; a contract saying otherwise describes another profile.
  if (c.profile == "chunk_isolated" && (c.cache_keep_per_call != 0 || c.output_frames_per_call != 1)) {
    throw ContractViolation("streaming.chunk_isolated", "cache_keep_per_call 0 and 1 output frame",
                            std::to_string(c.cache_keep_per_call) + " and " + std::to_string(c.output_frames_per_call));
  }
  return c;
}

template <typename T>
std::string str(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) return v;
  else return std::to_string(v);
}

template <typename T>
void require_equal(const std::string& field, const T& contract_value, const T& actual) {
  if (!(contract_value == actual)) throw ContractViolation(field, str(contract_value), str(actual));
}

std::string list_string(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

void check_tensors(const std::string& path, const std::vector<TensorSpec>& contract,
                   const std::vector<TensorSpec>& actual) {
  if (contract.size() != actual.size()) {
    throw ContractViolation(path + " count", std::to_string(contract.size()), std::to_string(actual.size()));
  }
  for (size_t i = 0; i < contract.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    require_equal(p + ".name", contract[i].name, actual[i].name);
    require_equal(p + " '" + contract[i].name + "'.dtype", contract[i].dtype, actual[i].dtype);
    if (contract[i].shape != actual[i].shape) {
      throw ContractViolation(p + " '" + contract[i].name + "'.shape", shape_string(contract[i].shape),
                              shape_string(actual[i].shape));
    }
  }
}

void check_graph(const Contract& c, const std::string& name, const GraphSpec& graph,
                 const std::map<std::string, std::string>& artifacts) {
  if (graph.file.empty()) {
    if (c.has_engine(name)) throw ContractViolation("graphs." + name, "present (the contract lists it)", "absent");
    return;
  }
  const EngineContract& e = c.engine(name);
  require_equal("engines." + name + ".file", e.file, graph.file);
  // CONTRACT: the graph's precision (fp32 / int8 / fp16) is the one its contract was written for.
  // SOURCE: `parakeet-trt export --precision`; model_meta.json graphs.<name>.precision.
  // WHY: an int8 graph behind an fp32 contract (or the reverse) changes the numbers the contract's
  // tolerances and the reports were measured with.
  require_equal("engines." + name + ".precision", e.precision, graph.precision);
  check_tensors("engines." + name + ".inputs", e.inputs, graph.inputs);
  check_tensors("engines." + name + ".outputs", e.outputs, graph.outputs);
  std::vector<std::string> files = graph.external_data;
  files.insert(files.begin(), graph.file);
  for (const std::string& f : files) {
    auto it = e.sha256.find(f);
    auto art = artifacts.find(f);
    const std::string field = "engines." + name + "." + f + " sha256";
    if (it == e.sha256.end()) throw ContractViolation(field, "listed", "absent");
    require_equal(field, it->second,
                  art == artifacts.end() ? std::string("(not in model_meta.json artifacts)") : art->second);
  }
}

}  // namespace

const std::string& check_graph_precision(const std::string& value, const std::string& field) {
  if (value != "fp32" && value != "int8" && value != "fp16") {
    throw ModelError(field + " '" + value + "' is not a graph precision (fp32, int8, fp16)");
  }
  return value;
}

const TensorSpec& EngineContract::input(const std::string& n) const {
  return find_tensor_spec(inputs, n, "engines." + name + " input");
}
const TensorSpec& EngineContract::output(const std::string& n) const {
  return find_tensor_spec(outputs, n, "engines." + name + " output");
}

int64_t StreamingContract::expected_encoded_length(int64_t length) const {
  int64_t n = length;
  for (int f = subsampling_factor; f > 1; f /= 2) n = (n - 1 >= 0 ? (n - 1) / 2 : -((2 - n) / 2)) + 1;
  n -= drop_extra_pre_encoded;
  return std::max<int64_t>(0, std::min(n, valid_out_len));
}

int64_t StreamingContract::next_cache_len(int64_t cache_len) const {
  return std::min(cache_len + cache_keep_per_call, cache_size);
}

const EngineContract& Contract::engine(const std::string& name) const {
  auto it = engines.find(name);
  if (it == engines.end()) throw ContractViolation("engines." + name, "present", "absent from the contract");
  return it->second;
}

Contract Contract::parse(const std::string& json_text) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const std::exception& e) {
    throw ModelError(std::string("contract is not valid JSON: ") + e.what());
  }
  try {
    Contract c;
    c.version = json_int32(root.at("contract_version"), "contract_version");
    if (c.version != 1) {
      throw ModelError("contract_version " + std::to_string(c.version) + " is not supported (this runtime reads 1)");
    }
    c.model_name = root.at("model_name").as_string("model_name");
    const Json& f = root.at("features");
    c.sample_rate_hz = json_int32(f.at("sample_rate_hz", "features"), "features.sample_rate_hz");
    c.n_fft = json_int32(f.at("n_fft", "features"), "features.n_fft");
    c.win_length = json_int32(f.at("win_length", "features"), "features.win_length");
    c.hop_length = json_int32(f.at("hop_length", "features"), "features.hop_length");
    c.n_mels = json_int32(f.at("n_mels", "features"), "features.n_mels");
    const Json& enc = root.at("encoder");
    c.d_model = json_int32(enc.at("d_model", "encoder"), "encoder.d_model");
    c.subsampling_factor = json_int32(enc.at("subsampling_factor", "encoder"), "encoder.subsampling_factor");
    c.frame_stride_s = enc.at("frame_stride_s", "encoder").as_number("encoder.frame_stride_s");
    c.max_encoder_frames = enc.at("max_encoder_frames", "encoder").as_int("encoder.max_encoder_frames");
    const Json& dec = root.at("decoding");
    c.vocab_size = json_int32(dec.at("vocab_size", "decoding"), "decoding.vocab_size");
    c.blank_id = json_int32(dec.at("blank_id", "decoding"), "decoding.blank_id");
    c.max_symbols = json_int32(dec.at("max_symbols", "decoding"), "decoding.max_symbols");
    c.num_outputs = json_int32(dec.at("num_outputs", "decoding"), "decoding.num_outputs");
    const Json& durations = dec.at("durations", "decoding");
    for (size_t i = 0; i < durations.size(); ++i) c.durations.push_back(json_int32(durations.at(i), "decoding.durations"));
    const Json& vocab = root.at("vocabulary");
    c.vocabulary_file = vocab.at("file", "vocabulary").as_string("vocabulary.file");
    c.vocabulary_sha256 = vocab.at("sha256", "vocabulary").as_string("vocabulary.sha256");
    for (const auto& kv : root.at("engines").items("engines")) c.engines[kv.first] = parse_engine(kv.first, kv.second);
    if (root.has("streaming")) c.streaming = parse_streaming(root.at("streaming"));
    if (c.has_engine("encoder_streaming") != c.streaming.present) {
      throw ModelError("contract: engines.encoder_streaming and the streaming section must come together");
    }
    check_contract_limits(c);
    return c;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw ModelError(std::string("contract: ") + e.what());
  }
}

void Contract::check_meta(const ModelMeta& meta) const {
  require_equal("model_name", model_name, meta.model_name);
  require_equal("features.sample_rate_hz", sample_rate_hz, meta.features.sample_rate_hz);
  require_equal("features.n_fft", n_fft, meta.features.n_fft);
  require_equal("features.win_length", win_length, meta.features.win_length);
  require_equal("features.hop_length", hop_length, meta.features.hop_length);
  require_equal("features.n_mels", n_mels, meta.features.n_mels);
  require_equal("encoder.feat_in", n_mels, meta.encoder.feat_in);
  require_equal("encoder.d_model", d_model, meta.encoder.d_model);
  require_equal("encoder.subsampling_factor", subsampling_factor, meta.encoder.subsampling_factor);
  require_equal("encoder.max_encoder_frames", max_encoder_frames, meta.encoder.max_encoder_frames);
  if (std::fabs(frame_stride_s - meta.encoder.frame_stride_s) > 1e-12) {
    throw ContractViolation("encoder.frame_stride_s", std::to_string(frame_stride_s),
                            std::to_string(meta.encoder.frame_stride_s));
  }
  require_equal("decoding.vocab_size", vocab_size, meta.decoding.vocab_size);
  require_equal("decoding.blank_id", blank_id, meta.decoding.blank_id);
  require_equal("decoding.max_symbols", max_symbols, meta.decoding.max_symbols);
  if (durations != meta.decoding.durations) {
    throw ContractViolation("decoding.durations", list_string(durations), list_string(meta.decoding.durations));
  }
  const int64_t layout_outputs = static_cast<int64_t>(vocab_size) + 1 + static_cast<int64_t>(durations.size());
  require_equal<int64_t>("decoding.num_outputs (vocab_size + blank + durations)", num_outputs, layout_outputs);
  check_graph(*this, "encoder", meta.encoder_graph, meta.artifact_sha256);
  check_graph(*this, "decoder_joint", meta.decoder_joint_graph, meta.artifact_sha256);
  check_graph(*this, "encoder_streaming", meta.encoder_streaming_graph, meta.artifact_sha256);
  // CONTRACT: the encoder graphs take n_mels features and return d_model channels.
  // SOURCE: config preprocessor.features / encoder.feat_in / encoder.d_model; export graph I/O.
  // WHY: a graph from a model with another front end or width must not load.
  if (has_engine("encoder")) {
    require_equal<int64_t>("engines.encoder.audio_signal.shape[1]", n_mels, engine("encoder").input("audio_signal").shape.at(1));
    require_equal<int64_t>("engines.encoder.outputs.shape[1]", d_model, engine("encoder").output("outputs").shape.at(1));
  }
  if (streaming.present) {
    const EngineContract& e = engine("encoder_streaming");
    const std::vector<int64_t> want_in{-1, n_mels, streaming.window_frames};
    const std::vector<int64_t> want_out{-1, d_model, streaming.output_frames_per_call};
    const std::vector<int64_t> want_cc{-1, streaming.n_layers, streaming.cache_size, streaming.d_model};
    const std::vector<int64_t> want_ct{-1, streaming.n_layers, streaming.d_model, streaming.conv_cache_size};
    auto same = [](const std::string& field, const std::vector<int64_t>& want, const std::vector<int64_t>& got) {
      if (want != got) throw ContractViolation(field, shape_string(want), shape_string(got));
    };
    same("engines.encoder_streaming.audio_signal.shape", want_in, e.input("audio_signal").shape);
    same("engines.encoder_streaming.outputs.shape", want_out, e.output("outputs").shape);
    same("engines.encoder_streaming.cache_last_channel.shape", want_cc, e.input("cache_last_channel").shape);
    same("engines.encoder_streaming.cache_last_channel_next.shape", want_cc, e.output("cache_last_channel_next").shape);
    same("engines.encoder_streaming.cache_last_time.shape", want_ct, e.input("cache_last_time").shape);
    same("engines.encoder_streaming.cache_last_time_next.shape", want_ct, e.output("cache_last_time_next").shape);
    require_equal<int64_t>("streaming.d_model", d_model, streaming.d_model);
    require_equal<int64_t>("streaming.subsampling_factor", subsampling_factor, streaming.subsampling_factor);
  }
}

}  // namespace parakeet_trt
