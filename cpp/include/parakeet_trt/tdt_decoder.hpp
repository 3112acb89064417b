// TDT greedy decoding with NeMo's label-looping semantics (NeMo 3.0.0
// GreedyBatchedTDTLabelLoopingComputer.torch_impl, the `greedy_batch` strategy), batch size 1,
// with the decoding state carried across calls for chunked streaming.
//
// Per outer iteration, at frame t (with G the projected prediction-net output):
//   logits = joint(F[t], G); token = argmax logits[0 .. vocab_size] (blank included),
//   duration = durations[argmax logits[vocab_size+1 ..]] (independent argmaxes; ties -> the first
//   index, NaN wins, as torch.max / argmax on CPU); a blank with duration 0 is forced to 1.
//   t_emit = t; t += duration.
//   While the token is blank and t < num_frames: t_emit = t and the joint is re-evaluated at the new
//   frame with the SAME G (blanks never update the prediction network); t += its duration.
//   If the final token is non-blank (found), it is emitted with frame t_emit and its duration, even
//   when t now lies past the end, and only then the prediction network is advanced with it.
//   max_symbols guard: if the found token had duration 0 and it is the max_symbols-th non-blank
//   emission at frame t_emit (counted within this call, as NeMo's per-call BatchedHyps counts
//   them), t += 1.
// The loop ends when t >= num_frames; the carry keeps time_jump = t - num_frames (>= 0: the frames a
// duration jumped past the end, skipped at the start of the next call) and decoded_frames +=
// num_frames, exactly as NeMo's BatchedLabelLoopingState (time_jumps, decoded_lengths).
#pragma once

#include <cstdint>
#include <vector>

#include "parakeet_trt/decoder_step.hpp"

namespace parakeet_trt {

struct TdtDecodingConfig {
  int vocab_size = 0;          // tokens without blank
  int blank_id = 0;            // must equal vocab_size (NeMo TDT: blank is the last token logit)
  std::vector<int> durations;  // duration of each duration logit, in frames; non-empty, each >= 0
  int max_symbols = 10;        // > 0: non-blank emissions per frame before forcing t += 1 (NeMo
                               // max_symbols_per_step, default 10). NeMo's None (unbounded) is not
                               // supported: a model that keeps emitting duration-0 tokens would
                               // never terminate.

  // Throws std::invalid_argument naming the field, the expected and the actual value.
  void validate() const;
};

// One emitted token.
struct TokenEmission {
  int token_id;   // in [0, vocab_size)
  int64_t frame;  // encoder frame of the emission, global: local frame + carry.decoded_frames
  int duration;   // predicted duration in frames (0 = the next token comes from the same frame)
  float score;    // raw joint logit of the token. NeMo's CPU eager path reports log_softmax
                  // scores instead (GPU: raw logits); do not compare scores across the two.
};

// NeMo's label-looping state between calls (BatchedLabelLoopingState for one stream).
struct DecoderCarry {
  PredictorState predictor;    // LSTM (h, c) and G = joint.pred(g) after the last emitted token
  int last_label = -1;         // last emitted token; blank_id (SOS) after priming, -1 before
  int64_t time_jump = 0;       // frames to skip at the start of the next call (>= 0)
  int64_t decoded_frames = 0;  // frames decoded by all previous calls (offset of TokenEmission.frame)
  bool primed = false;         // false: the next decode() starts fresh (SOS step, t = 0, offsets 0)
};

// Decodes one stream at a time with a DecoderStep it borrows. Not thread-safe (it keeps scratch
// logits and a scratch state); the per-stream state lives in the DecoderCarry, so one decoder can
// serve several streams in turn.
class TdtGreedyDecoder {
 public:
  // Validates the config and that step.num_outputs() == vocab_size + 1 + durations.size()
  // (std::invalid_argument otherwise). `step` must outlive the decoder.
  TdtGreedyDecoder(TdtDecodingConfig config, DecoderStep& step);

  const TdtDecodingConfig& config() const { return config_; }
  int joint_hidden() const { return joint_hidden_; }  // row width of `projected`

  // A fresh carry with a sized, zero predictor state (allocates). Equivalent to NeMo's
  // prev_state=None: the first decode() primes it with the SOS step.
  DecoderCarry make_carry() const;

  // Upper bound of the tokens one decode() over num_frames frames can emit
  // (num_frames * max_symbols: each frame holds at most max_symbols emissions). Reserve the output
  // vector to this to make decode() allocation-free.
  int64_t max_emissions(int64_t num_frames) const;

  // Decodes projected encoder frames [0, num_frames) (projected is [num_frames][J], from
  // DecoderStep::project_encoder; rows past num_frames, e.g. right context, are never read) from
  // `carry`, appends the emissions to `out` and updates `carry`. Chunked decoding with the carry
  // gives exactly the emissions of one call over the concatenated frames (a frame always belongs to
  // one call, so the per-call max_symbols counter never sees the difference). num_frames == 0 only
  // primes a fresh carry and keeps a pending time_jump (NeMo 3.0.0 itself raises a ValueError for
  // a zero-length call: BatchedHyps init_length 0).
  // Allocates nothing once `carry` is sized (make_carry()) and `out` has capacity for
  // max_emissions(num_frames) more entries. Throws std::invalid_argument for num_frames < 0, a null
  // `projected` with num_frames > 0, or a primed carry with a mis-sized state or negative
  // time_jump / decoded_frames.
  void decode(const float* projected, int64_t num_frames, DecoderCarry& carry, std::vector<TokenEmission>& out);

 private:
  TdtDecodingConfig config_;
  DecoderStep& step_;
  int joint_hidden_;
  std::vector<float> logits_;  // [C]
  PredictorState next_state_;  // predict() output, swapped into the carry
};

}  // namespace parakeet_trt
