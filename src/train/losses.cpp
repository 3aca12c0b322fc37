// Soft-target and label-smoothing cross-entropy (see losses.h).
#include "dfer/train/losses.h"

#include "dfer/util/error.h"

namespace dfer::train {

namespace {
// Logits of a lower precision (autocast) are promoted to fp32; float64 stays float64.
torch::Tensor at_least_fp32(const torch::Tensor& t) {
  return t.scalar_type() == torch::kDouble ? t : t.to(torch::kFloat);
}
}  // namespace

torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  if (logits.sizes() != targets.sizes())
    throw Error("soft-target cross-entropy: logits " + c10::str(logits.sizes()) + " vs targets " +
                c10::str(targets.sizes()));
  auto logp = torch::log_softmax(at_least_fp32(logits), -1);
  return (-targets.to(logp.scalar_type()) * logp).sum(-1).mean();
}

torch::Tensor label_smoothing_cross_entropy(const torch::Tensor& logits,
                                            const torch::Tensor& labels, double smoothing) {
  auto logp = torch::log_softmax(at_least_fp32(logits), -1);
  auto nll = -logp.gather(-1, labels.to(torch::kLong).unsqueeze(-1)).squeeze(-1);
  if (smoothing <= 0) return nll.mean();
  auto smooth = -logp.mean(-1);
  return ((1.0 - smoothing) * nll + smoothing * smooth).mean();
}

}  // namespace dfer::train
