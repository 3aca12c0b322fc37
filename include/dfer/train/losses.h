// Classification losses of the fine-tuning recipes (timm): soft-target cross-entropy for mixup /
// cutmix targets and label-smoothing cross-entropy; computed in float32 whatever the logits dtype.
#pragma once

#include <torch/torch.h>

namespace dfer::train {

// mean over the batch of sum_k -target_k * log_softmax(logits)_k.
torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

// (1 - s) * NLL(target) + s * mean_k(-log_softmax); s = 0 is plain cross-entropy.
torch::Tensor label_smoothing_cross_entropy(const torch::Tensor& logits,
                                            const torch::Tensor& labels, double smoothing);

}  // namespace dfer::train
