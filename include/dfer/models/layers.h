// Building blocks shared by every model: sinusoid position table, tubelet patch embedding, MLP,
// stochastic depth, the upstream initialisers, and the tap map used to expose intermediates.
#pragma once

#include <torch/torch.h>

#include "dfer/models/packed_linear.h"

#include <array>
#include <map>
#include <string>

namespace dfer::models {

// Named intermediate tensors a forward pass can expose (parity tests, debugging). Passing nullptr
// (the default everywhere) records nothing and costs nothing.
using Taps = std::map<std::string, torch::Tensor>;

// "[2, 3, 16]": shapes in error messages and reports.
std::string shape_str(c10::IntArrayRef sizes);

inline void tap(Taps* taps, const std::string& name, const torch::Tensor& t) {
  if (taps) (*taps)[name] = t.detach();
}

// Casts x to the dtype of `like` (a parameter) when they differ. Under autocast the matmuls return
// reduced precision; the residual stream is kept in the parameters' dtype at its entry points
// (patch embedding, encoder_to_decoder) so LayerNorms always see matching dtypes and the sums
// accumulate in full precision.
inline torch::Tensor to_dtype_of(const torch::Tensor& x, const torch::Tensor& like) {
  return x.scalar_type() == like.scalar_type() ? x : x.to(like.scalar_type());
}

// A Linear layer applied as aten::linear (through dense(), which packs the weight for oneDNN in a
// bf16 evaluation pass), the op torch.nn.functional.linear calls: with a bias, a contiguous 3-D
// input becomes one addmm that adds the bias inside the GEMM. The C++ frontend's Linear::forward
// (torch::nn::functional::linear) runs matmul and then a separate in-place bias add, a second pass
// over every output; on a CPU in bf16 that pass cost ~7% of an evaluation step.
inline torch::Tensor linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return dense(x, layer->weight, layer->bias);
}

// The "Attention is all you need" table over the flattened token index: angle = p /
// 10000^(2*floor(j/2)/d), sin on even channels, cos on odd ones; computed in float64 and returned
// as float32 [1, n_position, d_hid] (upstream: numpy float64 -> FloatTensor).
torch::Tensor sinusoid_table(int64_t n_position, int64_t d_hid);

// timm's trunc_normal_: normal(mean, std) truncated to the absolute interval [a, b] by inverse-CDF
// sampling. Upstream fine-tune code uses a=-2, b=2 (effectively untruncated for std 0.02); the
// pre-train code uses a=-std, b=std.
void trunc_normal_(torch::Tensor t, double std, double a = -2.0, double b = 2.0);

// Stochastic depth: in training with p > 0 every leading row of x is zeroed with probability p and
// the survivors are scaled by 1/(1-p) (timm drop_path). Identity otherwise. The draws come from
// torch's generator, or from the sample keys of a DropPathKeys scope alive on this thread.
torch::Tensor drop_path(const torch::Tensor& x, double p, bool training);

// While alive, drop_path on this thread decides each row from the key of its sample (the leading
// rows are split evenly among the samples: a row may be a (sample, region) pair), the call's
// number within the scope and the row's place within its sample, instead of from torch's
// generator. With keys that depend on the sample alone, a sample's stochastic depth is the same
// whatever batch or process it lands in, so data-parallel training does not depend on the world
// size. Scopes do not nest.
class DropPathKeys {
 public:
  explicit DropPathKeys(std::vector<uint64_t> sample_keys);
  ~DropPathKeys();
  DropPathKeys(const DropPathKeys&) = delete;
  DropPathKeys& operator=(const DropPathKeys&) = delete;

  struct State {
    std::vector<uint64_t> keys;
    uint64_t calls = 0;
  };

 private:
  State state_;
};

// Tubelet embedding: Conv3d(in_chans -> embed_dim, kernel = stride = (tubelet, patch, patch)),
// registered as `proj` like upstream. Because kernel == stride the convolution is evaluated as one
// matmul over the patchified clip, which gives the (B, N, C) raster token layout directly.
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t img_size, int64_t patch_size, int64_t in_chans, int64_t embed_dim,
                 int64_t num_frames, int64_t tubelet_size);

  // video (B, C, T, H, W) -> tokens (B, T'*H'*W', embed_dim), token n = t*H'*W' + h*W' + w.
  torch::Tensor forward(const torch::Tensor& video);

  int64_t num_patches() const { return grid_[0] * grid_[1] * grid_[2]; }
  std::array<int64_t, 3> grid() const { return grid_; }

  torch::nn::Conv3d proj{nullptr};

 private:
  int64_t img_size_, patch_size_, in_chans_, num_frames_, tubelet_;
  std::array<int64_t, 3> grid_;
};
TORCH_MODULE(PatchEmbed);

// fc1 -> exact GELU -> fc2 -> dropout (no dropout between fc1 and fc2, as upstream).
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t in_features, int64_t hidden_features, double drop);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  double drop_;
};
TORCH_MODULE(Mlp);

// LayerNorm over the last dimension with the given eps (upstream norm_layer).
torch::nn::LayerNorm make_layer_norm(int64_t dim, double eps);

// Upstream `_init_weights` applied to every submodule of `root`: each Linear gets
// trunc-normal(0.02,
// +-2) (xavier_uniform when `xavier` is set: the pre-train modules) and a zero bias; each LayerNorm
// weight 1, bias 0. Other modules (Conv3d, free parameters) are left alone.
void init_linear_and_norm(torch::nn::Module& root, bool xavier);

}  // namespace dfer::models
