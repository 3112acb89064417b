// Error types of the C++ core. Every failure the runtime can detect is one of these, so the
// skins (pybind11, C ABI, Rust) can map it to a stable status without parsing messages.
#pragma once

#include <stdexcept>
#include <string>

namespace parakeet_trt {

// Mirrors ptrt_status in parakeet_trt.h; the numeric values are part of the C ABI.
enum class ErrorCode : int {
  kInvalidArgument = 1,    // a caller passed something unusable (null, zero size, bad option)
  kInvalidAudio = 2,       // empty audio, NaN/Inf samples, unsupported sample rate
  kModel = 3,              // model folder missing, unreadable, corrupted or inconsistent
  kContractViolation = 4,  // an engine or artifact does not match the model's contract
  kEngine = 5,             // an engine failed while running
  kState = 6,              // call not valid in the object's current state
  kUnavailable = 7,        // feature not compiled in or not present on this machine
  kInternal = 99,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

class InvalidAudio : public Error {
 public:
  explicit InvalidAudio(const std::string& m) : Error(ErrorCode::kInvalidAudio, m) {}
};

class ModelError : public Error {
 public:
  explicit ModelError(const std::string& m) : Error(ErrorCode::kModel, m) {}
};

class EngineError : public Error {
 public:
  explicit EngineError(const std::string& m) : Error(ErrorCode::kEngine, m) {}
};

// A contract violation always names the field, the expected and the actual value.
class ContractViolation : public Error {
 public:
  ContractViolation(const std::string& field, const std::string& expected, const std::string& actual)
      : Error(ErrorCode::kContractViolation,
              "contract violation: " + field + ": expected " + expected + ", got " + actual),
        field_(field) {}
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

}  // namespace parakeet_trt
