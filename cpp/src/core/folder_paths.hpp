#pragma once
// Files named by a model folder's metadata (model_meta.json, the contract) are read only from
// inside that folder: no absolute paths, no '..', no symbolic links that leave it, regular files
// only (not /dev/zero or a FIFO), and each kind of file under a size cap. A path that breaks a
// rule is a ModelError naming the field that gave it. Rules and caps: docs/RELIABILITY.md.

#include <cstdint>
#include <string>

namespace parakeet_trt {

struct Contract;
struct ModelMeta;

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kMaxModelJsonBytes = 64 * kMiB;        // model_meta.json and the contract
constexpr int64_t kMaxVocabularyBytes = 64 * kMiB;       // vocabulary.file
constexpr int64_t kMaxDecoderStepBytes = 2048 * kMiB;    // decoder_step.file (read into memory)
constexpr int64_t kMaxGraphBytes = int64_t{64} * 1024 * kMiB;  // graphs and external data (hashed, not read whole)

// Checks `relative` (the value of `field`) and returns directory + "/" + relative. With
// must_exist false a missing file passes (the engine that opens it reports it); the name is
// still checked.
std::string model_file_path(const std::string& directory, const std::string& relative, const std::string& field,
                            int64_t max_bytes, bool must_exist = true);

// model_file_path, then the file's bytes (never more than max_bytes, whatever the file does).
std::string read_model_file(const std::string& directory, const std::string& relative, const std::string& field,
                            int64_t max_bytes);

// Every graph and external-data file named by model_meta.json's graphs and the contract's engines
// (their file and their sha256 keys), and the contract's vocabulary.file. A graph that is absent
// passes here: the engine that needs it says so.
void check_graph_paths(const std::string& directory, const ModelMeta& meta, const Contract& contract);

}  // namespace parakeet_trt
