// The TDT prediction network + joint, one step at a time: the per-token hot path of decoding.
//
// Model (NeMo RNNTDecoder + RNNTJoint, as exported by `parakeet-trt export`):
//   prediction net  g, (h', c') = LSTM_L(embedding[token], (h, c))
//                   embedding has vocab_size + 1 rows; row blank_id (= vocab_size) is all zeros
//                   (blank_as_pad), so feeding blank from a zero state is NeMo's SOS step.
//                   PyTorch nn.LSTM semantics, gate order i, f, g, o:
//                     gates = W_ih x + b_ih + W_hh h + b_hh
//                     c' = sigmoid(f) * c + sigmoid(i) * tanh(g),  h' = sigmoid(o) * tanh(c')
//   joint           F = joint.enc(encoder frame)   (Linear D -> J, projected once per frame)
//                   G = joint.pred(g)              (Linear H -> J, once per emitted token)
//                   logits = W_out relu(F + G) + b_out   (Linear J -> C, C = vocab + 1 + durations)
// Logits are raw (no log_softmax): NeMo's exported decoder_joint and its GPU path return raw
// logits; its CPU eager path log-softmaxes them, which does not change the argmax.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace parakeet_trt {

// Weights of the prediction network and joint, float32 row-major, PyTorch layouts.
struct DecoderStepWeights {
  int vocab_size = 0;            // tokens without blank; blank_id == vocab_size; embedding has vocab_size+1 rows
  int pred_hidden = 0;           // H: embedding width and LSTM hidden size
  int pred_rnn_layers = 0;       // LSTM layers (2 for Parakeet)
  int encoder_dim = 0;           // D: encoder output channels
  int joint_hidden = 0;          // J
  int num_outputs = 0;           // C = vocab_size + 1 + num_durations
  std::vector<float> embedding;  // [vocab_size+1][H]
  struct LstmLayer {
    std::vector<float> w_ih, w_hh, b_ih, b_hh;  // [4H][H], [4H][H], [4H], [4H] (layer input width is H)
  };
  std::vector<LstmLayer> lstm;                // pred_rnn_layers entries
  std::vector<float> enc_weight, enc_bias;    // [J][D], [J]
  std::vector<float> pred_weight, pred_bias;  // [J][H], [J]
  std::vector<float> out_weight, out_bias;    // [C][J], [C]

  // Throws std::invalid_argument naming the first inconsistent field or tensor with its expected and
  // actual size (e.g. "DecoderStepWeights.lstm[1].w_hh: expected 1638400 floats ([2560][640]), got 12").
  // Also requires num_outputs > vocab_size + 1 (at least one duration logit) and positive sizes.
  void validate() const;
};

// What NeMo's label-looping decoder carries per hypothesis between steps (and between chunks):
// the LSTM state and the projected prediction-net output G = joint.pred(g).
struct PredictorState {
  std::vector<float> h, c;       // [layers][H]
  std::vector<float> projected;  // [J]
};

// One decoding step of the prediction network and joint. Implementations: NativeDecoderStep (CPU,
// below); other engines (ONNX Runtime, TensorRT) may provide their own. A DecoderStep is used by
// one decoder at a time: implementations keep per-call scratch and are not thread-safe.
class DecoderStep {
 public:
  virtual ~DecoderStep() = default;

  virtual int joint_hidden() const = 0;  // J
  virtual int num_outputs() const = 0;   // C
  virtual int encoder_dim() const = 0;   // D

  // A state sized for this step, all zeros (the state before the SOS step). Allocates.
  virtual PredictorState make_state() const = 0;

  // Projects encoder frames once: encoder_out is [D][num_frames] (channels-first, NeMo's [B, D, T]
  // with B = 1); projected_out is [num_frames][J] (joint.enc applied per frame, bias included).
  // num_frames == 0 is a no-op. Throws std::invalid_argument for num_frames < 0 or null pointers
  // with num_frames > 0.
  void project_encoder(const float* encoder_out, int64_t num_frames, float* projected_out) {
    project_encoder_strided(encoder_out, num_frames, num_frames, projected_out);
  }
  // The same for a window of frames inside a wider tensor: channel d of frame t is
  // encoder_out[d * row_stride + t] (row_stride >= num_frames), e.g. the chunk frames of a streaming
  // buffer (encoder_out = first column, row_stride = the buffer's frames). Each frame's result does
  // not depend on the window it is projected in.
  virtual void project_encoder_strided(const float* encoder_out, int64_t row_stride, int64_t num_frames,
                                       float* projected_out) = 0;

  // One prediction-net step: feeds `token` (0 <= token <= blank_id; blank_id feeds the zero
  // embedding, i.e. NeMo's SOS) from `state` and writes the new LSTM state and G into `next`.
  // `next` must be sized like make_state() and must not be `state` itself. No allocation.
  // Throws std::invalid_argument for an out-of-range token, mis-sized states or next == state.
  virtual void predict(int token, const PredictorState& state, PredictorState& next) = 0;

  // The joint for one frame: logits[C] = W_out relu(projected_frame + state.projected) + b_out,
  // raw. projected_frame is one row [J] of project_encoder's output. No allocation.
  virtual void joint(const float* projected_frame, const PredictorState& state, float* logits) = 0;
};

// The exported weights in the layout NativeDecoderStep computes with: the matrices transposed
// (inputs-major) so every matrix-vector product is a sequence of row updates y += x_k * W_t[k].
// Built once per model (Model::native_decoder_weights) and immutable: any number of decoder steps on
// any number of threads share one copy (about 72 MB at parakeet-tdt-0.6b-v3 size).
struct NativeDecoderWeights {
  // Validates `weights` (DecoderStepWeights::validate) and transposes them (consumes the matrices).
  explicit NativeDecoderWeights(DecoderStepWeights weights);

  int vocab_size = 0, pred_hidden = 0, pred_rnn_layers = 0, encoder_dim = 0, joint_hidden = 0, num_outputs = 0;
  std::vector<float> embedding;  // [vocab_size+1][H]
  struct LstmLayerT {
    std::vector<float> w_ih_t, w_hh_t;    // [H][4H]
    std::vector<float> bias_ih, bias_hh;  // [4H]
  };
  std::vector<LstmLayerT> lstm_t;
  std::vector<float> enc_t, enc_bias;    // [D][J], [J]
  std::vector<float> pred_t, pred_bias;  // [H][J], [J]
  std::vector<float> out_t, out_bias;    // [J][C], [C]

  // Bytes held (what one model pays, once).
  size_t bytes() const;
};

// The CPU implementation on shared NativeDecoderWeights; it owns only per-call scratch (a few KB).
// Every matrix-vector product is a sequence of row updates y += x_k * W_t[k], vectorized across
// outputs without reordering any output's sum: each output is the bias plus the products in input
// order k = 0, 1, ..., each rounded to float32 (no FMA), identical in the baseline and AVX2 builds.
// Inputs that are exactly zero are skipped (the joint's ReLU zeroes about half of its hidden units);
// project_encoder works on blocks of 8 frames to reuse weight rows.
// Results differ from PyTorch's BLAS only by float rounding order: measured max |difference| to
// NeMo 3.0.0's RNNTDecoder/RNNTJoint 4.8e-7 on random weights (small sizes).
// Measured on the full-size shapes (H = J = 640, D = 1024, C = 8198; one core of the dev machine):
// predict 1.0 ms, joint 0.37 ms, project_encoder 5.4 ms per 138 frames (torch, one thread: 8.4,
// 0.83 and 1.6 ms). The per-step work is bound by streaming the fp32 weights from cache/memory.
class NativeDecoderStep final : public DecoderStep {
 public:
  // Shares `weights` (no copy).
  explicit NativeDecoderStep(std::shared_ptr<const NativeDecoderWeights> weights);
  // Convenience for tests and tools: validates and transposes `weights` into a new shared set.
  explicit NativeDecoderStep(DecoderStepWeights weights);

  int joint_hidden() const override { return w_->joint_hidden; }
  int num_outputs() const override { return w_->num_outputs; }
  int encoder_dim() const override { return w_->encoder_dim; }
  int vocab_size() const { return w_->vocab_size; }
  int pred_hidden() const { return w_->pred_hidden; }
  int pred_rnn_layers() const { return w_->pred_rnn_layers; }
  const std::shared_ptr<const NativeDecoderWeights>& weights() const { return w_; }

  PredictorState make_state() const override;
  void project_encoder_strided(const float* encoder_out, int64_t row_stride, int64_t num_frames,
                               float* projected_out) override;
  void predict(int token, const PredictorState& state, PredictorState& next) override;
  void joint(const float* projected_frame, const PredictorState& state, float* logits) override;

 private:
  void check_state(const PredictorState& state, const char* name) const;

  std::shared_ptr<const NativeDecoderWeights> w_;
  // Scratch (no allocation per call).
  std::vector<float> gates_ih_, gates_hh_;  // [4H]
  std::vector<float> hidden_;               // [J]
  std::vector<const float*> rows_;          // [max(H, J, D)]: weight rows with a nonzero input
  std::vector<float> coeffs_;               // [max(H, J, D)]: their inputs
};

}  // namespace parakeet_trt
