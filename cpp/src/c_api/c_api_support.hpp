// What the C ABI's translation units share: the handle of a model, errors to statuses, versioned
// structs read as a prefix, engine and stream options converted to C++, borrowed event views.
// Conversion only: the logic lives in the core.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "engines/external_engine.hpp"
#include "parakeet_trt/engine_factory.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/live_stream.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/parakeet_trt.h"
#include "parakeet_trt/transcript.hpp"

struct ptrt_model {
  std::shared_ptr<const parakeet_trt::Model> model;
};

namespace parakeet_trt::c_api {

// The calling thread's last error message (ptrt_last_error).
inline std::string& last_error() {
  thread_local std::string message;
  return message;
}

inline ptrt_status fail(ptrt_status status, const std::string& message) {
  last_error() = message;
  return status;
}

// The header's prefix rule: a versioned struct must hold at least struct_size and its first field.
#define PTRT_PREFIX_MIN(type, first_field) (offsetof(type, first_field) + sizeof(((type*)nullptr)->first_field))

inline ptrt_status struct_size_too_small(const char* fn, const char* what, size_t size, size_t minimum,
                                         const char* init_name) {
  return fail(PTRT_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + what + ".struct_size is " + std::to_string(size) +
                                               ", below the minimum " + std::to_string(minimum) + "; call " +
                                               init_name + " first");
}

// The caller's versioned options read as a prefix over init's defaults (an older, shorter struct
// gets the defaults for the fields it lacks); init's defaults alone when options is NULL.
template <typename Options>
ptrt_status read_prefix(const char* fn, const Options* options, void (*init)(Options*), const char* init_name,
                        size_t minimum, Options& out) {
  init(&out);
  if (!options) return PTRT_OK;
  if (options->struct_size < minimum) return struct_size_too_small(fn, "options", options->struct_size, minimum, init_name);
  std::memcpy(static_cast<void*>(&out), options, std::min(options->struct_size, sizeof(Options)));
  out.struct_size = sizeof(Options);
  return PTRT_OK;
}

#define PTRT_READ_OPTIONS(fn, options, type, first_field, out) \
  ::parakeet_trt::c_api::read_prefix(fn, options, type##_init, #type "_init", PTRT_PREFIX_MIN(type, first_field), out)

// A struct the library fills for the caller, written as the prefix the caller's struct_size covers
// (its struct_size kept). Refuses a struct_size below the minimum, naming init.
template <typename Out>
ptrt_status write_prefix(const char* fn, const char* what, const Out& full, size_t minimum, const char* init_name,
                         Out* out) {
  const size_t size = out->struct_size;
  if (size < minimum) return struct_size_too_small(fn, what, size, minimum, init_name);
  std::memcpy(static_cast<void*>(out), &full, std::min(size, sizeof(Out)));
  out->struct_size = size;
  return PTRT_OK;
}

// Runs body, mapping every exception to a status and the thread's last error.
template <typename Body>
ptrt_status guarded(Body&& body) {
  try {
    last_error().clear();
    return body();
  } catch (const Error& e) {
    return fail(static_cast<ptrt_status>(static_cast<int>(e.code())), e.what());
  } catch (const std::bad_alloc&) {
    return fail(PTRT_ERROR_INTERNAL, "out of memory");
  } catch (const std::invalid_argument& e) {
    return fail(PTRT_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const std::exception& e) {
    return fail(PTRT_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail(PTRT_ERROR_INTERNAL, "unknown error");
  }
}

#define PTRT_REQUIRE(cond, what) \
  if (!(cond)) return ::parakeet_trt::c_api::fail(PTRT_ERROR_INVALID_ARGUMENT, what)

inline std::string text_or(const char* text, const std::string& fallback) { return text && *text ? text : fallback; }

// Takes ownership of the caller's engine for a *_create call: on every failure the engine's
// destroy() has run exactly once when this returns (unless the vtable is too small to hold it).
ptrt_status adopt_engine(const char* function, const ptrt_model* model, const ptrt_engine_vtable* encoder, bool has_out,
                         std::shared_ptr<ExternalEngine>& engine);

// The C engine options (NULL: defaults) as the C++ EngineOptions; "external" names the vtable path.
ptrt_status to_engine_options(const char* fn, const ptrt_engine_options* options, EngineOptions& out);
// The C stream options (NULL: defaults) as the C++ StreamOptions.
ptrt_status to_stream_options(const char* fn, const ptrt_stream_options* options, StreamOptions& out);
// The graph a stream mode runs: "encoder" (buffered) or "encoder_streaming" (cache-aware).
std::string stream_graph(const StreamOptions& options);
// The model's engine for graph and options, shared while a session or stream uses it (Model::engine).
std::shared_ptr<Engine> shared_engine(const ptrt_model* model, const std::string& graph, const EngineOptions& options);
// The C transcript options (NULL: defaults) as the C++ TranscriptOptions.
ptrt_status to_transcript_options(const char* fn, const ptrt_transcript_options* options, TranscriptOptions& out);

void to_c_tokens(const TokenEmission* tokens, size_t count, std::vector<ptrt_token>& out);

// Borrowed C views of transcript events, valid until the next publish.
class EventViews {
 public:
  void publish(const std::vector<TranscriptEvent>& events);
  const ptrt_transcript_event* data() const { return events_.data(); }
  size_t size() const { return events_.size(); }

 private:
  std::vector<ptrt_transcript_event> events_;
  std::vector<std::vector<ptrt_word>> words_;
};

}  // namespace parakeet_trt::c_api
