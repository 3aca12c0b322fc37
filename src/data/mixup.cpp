// Mixup / CutMix with smoothed soft targets (see mixup.h).
#include "dfer/data/mixup.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "dfer/util/error.h"

namespace dfer::data {

MixMode parse_mix_mode(const std::string& name) {
  if (name == "batch") return MixMode::kBatch;
  if (name == "pair") return MixMode::kPair;
  if (name == "elem") return MixMode::kElem;
  throw UsageError("unknown mixup mode '" + name + "' (expected batch, pair or elem)");
}

bool mixup_enabled(const MixupOptions& options) {
  return options.mixup_alpha > 0.0 || options.cutmix_alpha > 0.0 ||
         options.cutmix_minmax.has_value();
}

torch::Tensor smoothed_one_hot(const torch::Tensor& labels, int64_t num_classes, double smoothing) {
  const double off = smoothing / static_cast<double>(num_classes);
  const double on = 1.0 - smoothing + off;
  const torch::Tensor idx = labels.to(torch::kLong).view({-1, 1});
  if (idx.numel() > 0 &&
      (idx.min().item<int64_t>() < 0 || idx.max().item<int64_t>() >= num_classes)) {
    throw Error("mixup targets: labels must lie in [0, " + std::to_string(num_classes) + ")");
  }
  return torch::full({idx.size(0), num_classes}, off,
                     torch::TensorOptions().dtype(torch::kFloat32).device(labels.device()))
      .scatter_(1, idx, on);
}

torch::Tensor mixup_targets(const torch::Tensor& labels, int64_t num_classes,
                            const torch::Tensor& lam, double smoothing) {
  const torch::Tensor y1 = smoothed_one_hot(labels, num_classes, smoothing);
  const torch::Tensor y2 = smoothed_one_hot(labels.flip({0}), num_classes, smoothing);
  const torch::Tensor l = lam.to(y1.device(), torch::kFloat32);
  return y1 * l + y2 * (1.0 - l);
}

CutmixBox cutmix_box(int64_t height, int64_t width, double lam,
                     const std::optional<std::array<double, 2>>& minmax, bool correct_lam,
                     Rng& rng) {
  CutmixBox box;
  if (minmax) {
    // numpy randint(lo, hi) excludes hi.
    const int64_t hlo = static_cast<int64_t>(height * (*minmax)[0]);
    const int64_t hhi = static_cast<int64_t>(height * (*minmax)[1]);
    const int64_t wlo = static_cast<int64_t>(width * (*minmax)[0]);
    const int64_t whi = static_cast<int64_t>(width * (*minmax)[1]);
    if (hhi <= hlo || whi <= wlo)
      throw UsageError("cutmix_minmax gives an empty range of box sizes");
    const int64_t cut_h = randint(rng, hlo, hhi - 1);
    const int64_t cut_w = randint(rng, wlo, whi - 1);
    if (cut_h >= height || cut_w >= width) throw UsageError("cutmix_minmax allows a full-size box");
    box.y0 = randint(rng, 0, height - cut_h - 1);
    box.x0 = randint(rng, 0, width - cut_w - 1);
    box.y1 = box.y0 + cut_h;
    box.x1 = box.x0 + cut_w;
  } else {
    const double ratio = std::sqrt(1.0 - lam);
    const int64_t cut_h = static_cast<int64_t>(static_cast<double>(height) * ratio);
    const int64_t cut_w = static_cast<int64_t>(static_cast<double>(width) * ratio);
    const int64_t cy = randint(rng, 0, height - 1);
    const int64_t cx = randint(rng, 0, width - 1);
    box.y0 = std::clamp<int64_t>(cy - cut_h / 2, 0, height);
    box.y1 = std::clamp<int64_t>(cy + cut_h / 2, 0, height);
    box.x0 = std::clamp<int64_t>(cx - cut_w / 2, 0, width);
    box.x1 = std::clamp<int64_t>(cx + cut_w / 2, 0, width);
  }
  box.lam = lam;
  if (correct_lam || minmax) {
    const double area = static_cast<double>((box.y1 - box.y0) * (box.x1 - box.x0));
    box.lam = 1.0 - area / static_cast<double>(height * width);
  }
  return box;
}

Mixup::Mixup(MixupOptions options) : options_(std::move(options)) {
  if (options_.cutmix_minmax) options_.cutmix_alpha = 1.0;  // as the reference forces it
  if (!mixup_enabled(options_)) throw UsageError("mixup: neither mixup nor cutmix is enabled");
  if (options_.num_classes < 1) throw UsageError("mixup: num_classes must be >= 1");
}

std::pair<double, bool> Mixup::draw_params(Rng& rng) const {
  if (!(uniform01(rng) < options_.prob)) return {1.0, false};
  const double a = options_.mixup_alpha, c = options_.cutmix_alpha;
  if (a > 0.0 && c > 0.0) {
    const bool cut = uniform01(rng) < options_.switch_prob;
    return {cut ? beta(rng, c, c) : beta(rng, a, a), cut};
  }
  if (a > 0.0) return {beta(rng, a, a), false};
  return {beta(rng, c, c), true};
}

MixupResult Mixup::operator()(torch::Tensor clips, const torch::Tensor& labels, Rng& rng) const {
  if (!clips.defined() || clips.dim() < 3 || !clips.is_floating_point()) {
    throw Error("mixup: expected a float batch [B, C, (T,) H, W]");
  }
  const int64_t B = clips.size(0);
  if (B % 2 != 0) throw Error("mixup: the batch size must be even, got " + std::to_string(B));
  if (labels.numel() != B) throw Error("mixup: one label per sample required");
  const int64_t H = clips.size(-2), W = clips.size(-1);
  using torch::indexing::Ellipsis;
  using torch::indexing::Slice;
  MixupResult result;
  std::vector<float> lams(static_cast<size_t>(B), 1.0f);

  if (options_.mode == MixMode::kBatch) {
    auto [lam, cut] = draw_params(rng);
    result.cutmix = cut && lam != 1.0;
    if (lam != 1.0) {
      if (cut) {
        const CutmixBox box =
            cutmix_box(H, W, lam, options_.cutmix_minmax, options_.correct_lam, rng);
        const std::vector<torch::indexing::TensorIndex> region = {Ellipsis, Slice(box.y0, box.y1),
                                                                  Slice(box.x0, box.x1)};
        clips.index_put_(region, clips.flip({0}).index(region));
        lam = box.lam;
      } else {
        const torch::Tensor partner = clips.flip({0}).mul_(1.0 - lam);
        clips.mul_(lam).add_(partner);
      }
    }
    std::fill(lams.begin(), lams.end(), static_cast<float>(lam));
  } else {
    const bool pair = options_.mode == MixMode::kPair;
    const int64_t n = pair ? B / 2 : B;
    const torch::Tensor original = clips.clone();  // the unmixed partners
    for (int64_t i = 0; i < n; ++i) {
      const int64_t j = B - i - 1;
      auto [lam, cut] = draw_params(rng);
      if (lam != 1.0) {
        if (cut) {
          const CutmixBox box =
              cutmix_box(H, W, lam, options_.cutmix_minmax, options_.correct_lam, rng);
          const std::vector<torch::indexing::TensorIndex> region = {Ellipsis, Slice(box.y0, box.y1),
                                                                    Slice(box.x0, box.x1)};
          clips[i].index_put_(region, original[j].index(region));
          if (pair) clips[j].index_put_(region, original[i].index(region));
          lam = box.lam;
        } else {
          clips[i].copy_(original[i] * lam + original[j] * (1.0 - lam));
          if (pair) clips[j].copy_(original[j] * lam + original[i] * (1.0 - lam));
        }
      }
      lams[static_cast<size_t>(i)] = static_cast<float>(lam);
      if (pair) lams[static_cast<size_t>(j)] = static_cast<float>(lam);
    }
  }
  result.lam = torch::tensor(lams).to(clips.device());
  result.targets = mixup_targets(labels, options_.num_classes, result.lam.view({B, 1}),
                                 options_.label_smoothing);
  result.clips = clips;
  return result;
}

}  // namespace dfer::data
