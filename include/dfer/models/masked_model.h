// The common face of the masked pre-training models (the MAE ViT / LGI-Former, the VideoMamba
// pixel reconstructor): clip + token mask -> pixels of the masked tokens. The pre-training engine
// and the benchmark hold a MaskedVideoModel and never need to know which encoder it runs.
#pragma once

#include "dfer/models/layers.h"
#include "dfer/models/spec.h"

#include <torch/torch.h>

#include <memory>

namespace dfer::models {

class MaskedVideoModelImpl : public torch::nn::Module {
 public:
  // video (B, C, T, H, W); mask (B, N) bool over the T'*H'*W' raster tokens, true = masked, the
  // same count in every row (check_token_mask) -> predictions for the masked tokens in ascending
  // token order (B, N_masked, in_chans * tubelet * patch^2), the layout compute_mae_targets uses.
  // `taps` (optional) receives the model's named intermediate tensors.
  virtual torch::Tensor forward(const torch::Tensor& video, const torch::Tensor& mask,
                                Taps* taps = nullptr) = 0;
  virtual const ModelSpec& spec() const = 0;
};

using MaskedVideoModel = std::shared_ptr<MaskedVideoModelImpl>;

}  // namespace dfer::models
