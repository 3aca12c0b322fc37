// timm RandomErasing in the reference's video ("cube") form (see transforms.h).
#include <cmath>

#include "dfer/data/transforms.h"
#include "dfer/util/error.h"

namespace dfer::data {

EraseMode parse_erase_mode(const std::string& name) {
  if (name == "const" || name.empty()) return EraseMode::kConst;
  if (name == "rand") return EraseMode::kRand;
  if (name == "pixel") return EraseMode::kPixel;
  throw UsageError("unknown random erasing mode '" + name + "' (expected const, rand or pixel)");
}

torch::Tensor random_erasing(torch::Tensor clip, const RandomErasingOptions& options, Rng& rng,
                             std::vector<CropBox>* boxes) {
  if (!clip.defined() || clip.dim() != 4 || !clip.is_floating_point()) {
    throw Error("random_erasing: expected a float clip [C, T, H, W]");
  }
  if (options.max_count < 1 || options.min_area > options.max_area || options.min_aspect <= 0.0) {
    throw Error(
        "random_erasing: invalid options (max_count >= 1, min_area <= max_area, "
        "min_aspect > 0 required)");
  }
  if (uniform01(rng) > options.probability) return clip;
  const int64_t C = clip.size(0), T = clip.size(1), H = clip.size(2), W = clip.size(3);
  const double max_aspect =
      options.max_aspect > 0.0 ? options.max_aspect : 1.0 / options.min_aspect;
  const double log_lo = std::log(options.min_aspect), log_hi = std::log(max_aspect);
  const double area = static_cast<double>(H * W);
  const int64_t count = options.max_count == 1 ? 1 : randint(rng, 1, options.max_count);
  // The reference erases a [T, C, H, W] "batch" and skips its first T / num_splits entries.
  const int64_t first = options.num_splits > 1 ? T / options.num_splits : 0;
  if (first >= T) return clip;
  for (int64_t box_index = 0; box_index < count; ++box_index) {
    for (int attempt = 0; attempt < options.tries; ++attempt) {
      const double target =
          uniform(rng, options.min_area, options.max_area) * area / static_cast<double>(count);
      const double aspect = std::exp(uniform(rng, log_lo, log_hi));
      const int64_t h = static_cast<int64_t>(std::nearbyint(std::sqrt(target * aspect)));
      const int64_t w = static_cast<int64_t>(std::nearbyint(std::sqrt(target / aspect)));
      if (!(w < W && h < H)) continue;
      const int64_t top = randint(rng, 0, H - h);
      const int64_t left = randint(rng, 0, W - w);
      if (boxes) boxes->push_back({top, left, h, w});
      const int64_t frames = T - first;
      torch::Tensor fill;
      const auto cpu = torch::TensorOptions().dtype(torch::kFloat32);
      if (options.mode == EraseMode::kPixel) {
        fill = torch::randn({frames, C, h, w}, torch_generator(rng), cpu);
      } else if (options.mode == EraseMode::kRand) {
        fill = torch::randn({frames, C, 1, 1}, torch_generator(rng), cpu).expand({frames, C, h, w});
      } else {
        fill = torch::zeros({frames, C, h, w}, cpu);
      }
      using torch::indexing::Slice;
      clip.index_put_({Slice(), Slice(first, T), Slice(top, top + h), Slice(left, left + w)},
                      fill.permute({1, 0, 2, 3}).to(clip.device(), clip.scalar_type()));
      break;
    }
  }
  return clip;
}

}  // namespace dfer::data
