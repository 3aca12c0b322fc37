// The common face of the fine-tune models (ViT / LGI-Former, VideoMamba): clip -> outputs, the
// pooled features, the spec they were built from. The train layer holds a ClipClassifier and
// never needs to know which backbone it runs.
#pragma once

#include "dfer/models/layers.h"
#include "dfer/models/spec.h"

#include <torch/torch.h>

#include <memory>
#include <utility>

namespace dfer::models {

class ClipClassifierImpl : public torch::nn::Module {
 public:
  // video (B, C, T, H, W), ImageNet-normalised -> (B, num_outputs), or (B, num_frames,
  // num_outputs) with keep_temporal_dim. `taps` (optional) receives the model's named
  // intermediate tensors (parity).
  virtual torch::Tensor forward(const torch::Tensor& video, Taps* taps = nullptr) = 0;
  // Both the outputs and the pre-head feature.
  virtual std::pair<torch::Tensor, torch::Tensor> forward_with_features(const torch::Tensor& video,
                                                                        Taps* taps = nullptr) = 0;
  virtual const ModelSpec& spec() const = 0;
  // Blocks counted by layer-wise learning-rate decay.
  int64_t num_layers() const { return spec().depth; }
};

using ClipClassifier = std::shared_ptr<ClipClassifierImpl>;

}  // namespace dfer::models
