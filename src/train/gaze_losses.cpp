// Gaze losses, decoding and the angular-error metric (see gaze_losses.h).
#include "dfer/train/gaze_losses.h"

#include <cmath>

#include "dfer/train/losses.h"
#include "dfer/util/error.h"

namespace dfer::train {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = 180.0 / kPi;

torch::Tensor fp32(const torch::Tensor& t) {
  return t.scalar_type() == torch::kDouble ? t : t.to(torch::kFloat);
}

void check_last(const torch::Tensor& t, int64_t n, const char* what) {
  if (t.dim() == 0 || t.size(-1) != n)
    throw Error(std::string(what) + ": expected the last dimension " + std::to_string(n) +
                ", got " + c10::str(t.sizes()));
}

}  // namespace

torch::Tensor l2cs_bins(const torch::Tensor& angle_rad, const L2csOptions& o) {
  auto deg = angle_rad.to(torch::kDouble) * kDeg;
  return torch::floor((deg + o.range_deg()) / o.bin_width_deg)
      .clamp(0, static_cast<double>(o.num_bins - 1))
      .to(torch::kLong);
}

torch::Tensor l2cs_expectation(const torch::Tensor& logits, const L2csOptions& o) {
  check_last(logits, o.num_bins, "L2CS expectation");
  auto p = torch::softmax(fp32(logits), -1);
  auto centres = (torch::arange(o.num_bins, p.options()) + 0.5) * o.bin_width_deg - o.range_deg();
  return (p * centres).sum(-1) / kDeg;
}

torch::Tensor l2cs_loss(const torch::Tensor& logits, const torch::Tensor& target,
                        const L2csOptions& o) {
  check_last(logits, 2 * o.num_bins, "L2CS loss");
  check_last(target, 2, "L2CS target");
  auto flat_logits = logits.reshape({-1, 2 * o.num_bins});
  auto flat_target = target.reshape({-1, 2});
  torch::Tensor loss;
  for (int64_t k = 0; k < 2; ++k) {
    auto lk = flat_logits.narrow(1, k * o.num_bins, o.num_bins);
    auto tk = flat_target.select(1, k);
    auto ce = label_smoothing_cross_entropy(lk, l2cs_bins(tk, o), 0.0);
    auto mse = gaze_mse(l2cs_expectation(lk, o), tk);
    auto term = ce + o.alpha_reg * mse;
    loss = k == 0 ? term : loss + term;
  }
  return loss;
}

torch::Tensor decode_gaze(const torch::Tensor& output, bool l2cs, const L2csOptions& o) {
  if (!l2cs) {
    check_last(output, 2, "gaze output");
    return fp32(output);
  }
  check_last(output, 2 * o.num_bins, "L2CS output");
  return torch::stack({l2cs_expectation(output.narrow(-1, 0, o.num_bins), o),
                       l2cs_expectation(output.narrow(-1, o.num_bins, o.num_bins), o)},
                      -1);
}

torch::Tensor gaze_mse(const torch::Tensor& prediction, const torch::Tensor& target) {
  if (prediction.sizes() != target.sizes())
    throw Error("gaze MSE: prediction " + c10::str(prediction.sizes()) + " vs target " +
                c10::str(target.sizes()));
  auto p = fp32(prediction);
  return (p - target.to(p.scalar_type())).pow(2).mean();
}

torch::Tensor angular_error_deg(const torch::Tensor& prediction, const torch::Tensor& target) {
  check_last(prediction, 2, "angular error");
  if (prediction.sizes() != target.sizes())
    throw Error("angular error: prediction " + c10::str(prediction.sizes()) + " vs target " +
                c10::str(target.sizes()));
  auto vec = [](const torch::Tensor& py) {
    auto d = py.to(torch::kDouble);
    auto p = d.select(-1, 0), y = d.select(-1, 1);
    return torch::stack(
        {torch::cos(p) * torch::sin(y), torch::sin(p), -torch::cos(p) * torch::cos(y)}, -1);
  };
  auto dot = (vec(prediction) * vec(target)).sum(-1).clamp(-1.0, 1.0);
  return torch::acos(dot) * kDeg;
}

torch::Tensor combine_loss(const torch::Tensor& class_logits, const torch::Tensor& labels,
                           const torch::Tensor& gaze, const torch::Tensor& target, double alpha) {
  const int64_t C = class_logits.size(-1);
  auto ce = label_smoothing_cross_entropy(class_logits.reshape({-1, C}), labels.reshape({-1}), 0.0);
  auto mse = gaze_mse(gaze.reshape({-1, 2}), target.reshape({-1, 2}));
  return alpha * ce + mse;
}

}  // namespace dfer::train
