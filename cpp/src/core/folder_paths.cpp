#include "core/folder_paths.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "parakeet_trt/contract.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/model.hpp"

namespace parakeet_trt {
namespace fs = std::filesystem;

namespace {

std::string quoted(const std::string& field, const std::string& relative) { return field + " = '" + relative + "'"; }

// True when `inner` (canonical) is `outer` (canonical) or below it.
bool is_inside(const fs::path& outer, const fs::path& inner) {
  auto o = outer.begin(), i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *o != *i) return false;
  }
  return true;
}

}  // namespace

std::string model_file_path(const std::string& directory, const std::string& relative, const std::string& field,
                            int64_t max_bytes, bool must_exist) {
  if (relative.empty()) throw ModelError(field + " is empty; it must name a file in the model folder");
  if (relative.find('\0') != std::string::npos) throw ModelError(field + " holds a NUL character");
  const fs::path rel(relative);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory()) {
    throw ModelError(quoted(field, relative) + " is an absolute path; files must be named relative to the model folder");
  }
  for (const fs::path& part : rel) {
    if (part == "..") throw ModelError(quoted(field, relative) + " leaves the model folder ('..')");
  }
  const std::string joined = directory + "/" + relative;
  std::error_code error;
  const fs::path folder = fs::canonical(directory, error);
  if (error) throw ModelError("cannot open '" + joined + "': the model folder: " + error.message());
  const fs::path target = fs::canonical(joined, error);
  if (error) {
    if (!must_exist && !fs::exists(fs::symlink_status(joined, error))) return joined;
    throw ModelError("cannot open '" + joined + "' (" + field + "): " + error.message());
  }
  if (!is_inside(folder, target)) {
    throw ModelError(quoted(field, relative) + " resolves to '" + target.string() +
                     "', outside the model folder (a symbolic link leaves it)");
  }
  const fs::file_status status = fs::status(target, error);
  if (error || !fs::is_regular_file(status)) {
    throw ModelError(quoted(field, relative) + " is not a regular file (a directory, device, FIFO or socket)");
  }
  const uintmax_t size = fs::file_size(target, error);
  if (error) throw ModelError("cannot read the size of '" + joined + "' (" + field + "): " + error.message());
  if (size > static_cast<uintmax_t>(max_bytes)) {
    throw ModelError(quoted(field, relative) + " is " + std::to_string(size) + " bytes, over the cap of " +
                     std::to_string(max_bytes) + " bytes for this file");
  }
  return joined;
}

std::string read_model_file(const std::string& directory, const std::string& relative, const std::string& field,
                            int64_t max_bytes) {
  const std::string path = model_file_path(directory, relative, field, max_bytes);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("cannot open '" + path + "'");
  std::string bytes;
  char chunk[1 << 16];
  while (in) {
    in.read(chunk, sizeof(chunk));
    bytes.append(chunk, static_cast<size_t>(in.gcount()));
    if (static_cast<int64_t>(bytes.size()) > max_bytes) {  // the file grew after the check
      throw ModelError(quoted(field, relative) + " is over the cap of " + std::to_string(max_bytes) + " bytes");
    }
  }
  if (in.bad()) throw ModelError("read error on '" + path + "'");
  return bytes;
}

void check_graph_paths(const std::string& directory, const ModelMeta& meta, const Contract& contract) {
  auto check = [&](const std::string& field, const std::string& file) {
    model_file_path(directory, file, field, kMaxGraphBytes, /*must_exist=*/false);
  };
  const std::pair<const char*, const GraphSpec*> graphs[] = {{"graphs.encoder", &meta.encoder_graph},
                                                             {"graphs.decoder_joint", &meta.decoder_joint_graph},
                                                             {"graphs.encoder_streaming", &meta.encoder_streaming_graph}};
  for (const auto& [name, graph] : graphs) {
    if (graph->file.empty()) continue;
    check(std::string(name) + ".file", graph->file);
    for (const std::string& f : graph->external_data) check(std::string(name) + ".external_data", f);
  }
  for (const auto& [name, engine] : contract.engines) {
    check("engines." + name + ".file", engine.file);
    for (const auto& file_hash : engine.sha256) check("engines." + name + ".sha256 key", file_hash.first);
  }
  model_file_path(directory, contract.vocabulary_file, "contract vocabulary.file", kMaxVocabularyBytes, false);
}

}  // namespace parakeet_trt
