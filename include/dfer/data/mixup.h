// Mixup / CutMix with label smoothing as the reference's mixup.py (SPEC 3.3.9): one lambda per
// batch (or per pair / element), partner = the reversed batch, soft targets
// lam * onehot_s(y) + (1 - lam) * onehot_s(flip(y)). Runs on the batch's device.
#pragma once

#include <torch/torch.h>

#include <array>
#include <optional>
#include <string>

#include "dfer/data/random.h"

namespace dfer::data {

enum class MixMode { kBatch, kPair, kElem };

// "batch" | "pair" | "elem"; dfer::UsageError otherwise.
MixMode parse_mix_mode(const std::string& name);

struct MixupOptions {
  double mixup_alpha = 0.8;                            // > 0 enables mixup
  double cutmix_alpha = 1.0;                           // > 0 enables cutmix
  std::optional<std::array<double, 2>> cutmix_minmax;  // box side ratios; forces cutmix alpha 1
  double prob = 1.0;         // probability of mixing at all (per batch / element)
  double switch_prob = 0.5;  // cutmix instead of mixup when both are enabled
  MixMode mode = MixMode::kBatch;
  bool correct_lam = true;  // lambda = 1 - box area / image area after border clipping
  double label_smoothing = 0.1;
  int64_t num_classes = 7;
};

// Whether the reference would build a mixup function at all.
bool mixup_enabled(const MixupOptions& options);

// Smoothed one-hot rows: on = 1 - s + s / K, off = s / K. labels int64 [B] -> float [B, K].
torch::Tensor smoothed_one_hot(const torch::Tensor& labels, int64_t num_classes, double smoothing);

// lam * onehot_s(labels) + (1 - lam) * onehot_s(flip(labels)); `lam` is a scalar or [B, 1].
torch::Tensor mixup_targets(const torch::Tensor& labels, int64_t num_classes,
                            const torch::Tensor& lam, double smoothing);

// A cutmix box over an H x W image: rows [y0, y1), columns [x0, x1), and the lambda to use.
struct CutmixBox {
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  double lam = 1.0;
};

// rand_bbox (centre uniform, sides int(H * sqrt(1 - lam)), int(W * sqrt(1 - lam)), halves
// clipped at the borders) or rand_bbox_minmax; lambda corrected when correct_lam or minmax.
CutmixBox cutmix_box(int64_t height, int64_t width, double lam,
                     const std::optional<std::array<double, 2>>& minmax, bool correct_lam,
                     Rng& rng);

struct MixupResult {
  torch::Tensor clips;    // the input batch, mixed in place
  torch::Tensor targets;  // float [B, K] soft targets
  torch::Tensor lam;      // float [B] lambda per sample
  bool cutmix = false;    // batch mode: whether this batch used cutmix
};

class Mixup {
 public:
  explicit Mixup(MixupOptions options);

  // clips [B, C, T, H, W] (or [B, C, H, W]) float, labels int64 [B]; B must be even. The box of
  // cutmix covers the same H x W pixels of every frame (the fixed `x[..., y0:y1, x0:x1]` of the
  // MAE-DFER mixup.py; pair mode in the reference still slices [:, y0:y1, x0:x1] of each
  // [C, T, H, W] sample, i.e. T and H, which is not reproduced).
  MixupResult operator()(torch::Tensor clips, const torch::Tensor& labels, Rng& rng) const;

  const MixupOptions& options() const { return options_; }

 private:
  // (lam, use_cutmix) for one batch / element, as _params_per_batch.
  std::pair<double, bool> draw_params(Rng& rng) const;

  MixupOptions options_;
};

}  // namespace dfer::data
