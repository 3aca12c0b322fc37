// MAE masking generators, bit-compatible with upstream masking_generator.py under numpy's legacy
// MT19937 stream (see dfer/data/masking.h).
#include "dfer/data/masking.h"

#include "dfer/util/error.h"

#include <fmt/format.h>

#include <utility>

namespace dfer::data {

uint64_t numpy_random_interval(std::mt19937& rng, uint64_t max) {
  if (max == 0) return 0;
  // Smallest all-ones mask covering max, then rejection sampling (numpy random_interval).
  uint64_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t value;
  if (max <= 0xffffffffULL) {
    while ((value = (static_cast<uint64_t>(rng()) & mask)) > max) {
    }
  } else {
    auto next64 = [&] {
      uint64_t hi = rng();
      return (hi << 32) | static_cast<uint64_t>(rng());
    };
    while ((value = (next64() & mask)) > max) {
    }
  }
  return value;
}

double numpy_random_sample(std::mt19937& rng) {
  const uint32_t a = static_cast<uint32_t>(rng()) >> 5, b = static_cast<uint32_t>(rng()) >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

void numpy_shuffle(std::vector<uint8_t>& v, std::mt19937& rng) {
  for (size_t i = v.size(); i-- > 1;) {
    const auto j = static_cast<size_t>(numpy_random_interval(rng, i));
    std::swap(v[i], v[j]);
  }
}

namespace {

int64_t count_of(double ratio, int64_t n) {
  // Python int(ratio * n): truncation of the double product.
  return static_cast<int64_t>(ratio * static_cast<double>(n));
}

void check_grid(const std::array<int64_t, 3>& s, double ratio) {
  if (s[0] <= 0 || s[1] <= 0 || s[2] <= 0)
    throw UsageError(fmt::format("masking: bad token grid {}x{}x{}", s[0], s[1], s[2]));
  if (!(ratio >= 0.0 && ratio < 1.0))
    throw UsageError(fmt::format("masking: mask_ratio {} must be in [0, 1)", ratio));
}

torch::Tensor tile_frames(const std::vector<uint8_t>& frame, int64_t frames) {
  const auto n = static_cast<int64_t>(frame.size());
  auto out = torch::empty({frames * n}, torch::kBool);
  auto* p = out.data_ptr<bool>();
  for (int64_t t = 0; t < frames; ++t)
    for (int64_t i = 0; i < n; ++i) p[t * n + i] = frame[i] != 0;
  return out;
}

}  // namespace

TubeMaskingGenerator::TubeMaskingGenerator(std::array<int64_t, 3> input_size, double mask_ratio) {
  check_grid(input_size, mask_ratio);
  frames_ = input_size[0];
  per_frame_ = input_size[1] * input_size[2];
  masks_per_frame_ = count_of(mask_ratio, per_frame_);
}

torch::Tensor TubeMaskingGenerator::operator()(std::mt19937& rng) const {
  std::vector<uint8_t> frame(per_frame_, 0);
  for (int64_t i = per_frame_ - masks_per_frame_; i < per_frame_; ++i) frame[i] = 1;
  numpy_shuffle(frame, rng);
  return tile_frames(frame, frames_);
}

std::string TubeMaskingGenerator::describe() const {
  return fmt::format("tube mask: total patches {}, mask patches {}", num_patches(), num_masked());
}

TubeWindowMaskingGenerator::TubeWindowMaskingGenerator(std::array<int64_t, 3> input_size,
                                                       double mask_ratio,
                                                       std::array<int64_t, 2> win_size,
                                                       std::string apply_symmetry)
    : frames_(input_size[0]),
      height_(input_size[1]),
      width_(input_size[2]),
      win_(win_size),
      symmetry_(std::move(apply_symmetry)) {
  check_grid(input_size, mask_ratio);
  if (win_[0] <= 0 || win_[1] != width_ || win_[1] % 2 != 0)
    throw UsageError(fmt::format(
        "part_window masking: window {}x{} must span the full token width {} with an even width",
        win_[0], win_[1], width_));
  if (height_ % win_[0] != 0)
    throw UsageError(
        fmt::format("part_window masking: window height {} does not divide {}", win_[0], height_));
  num_wins_ = (height_ / win_[0]) * (width_ / win_[1]);
  per_win_ = win_[0] * win_[1];
  masks_per_win_ = count_of(mask_ratio, per_win_);
  unmasks_per_win_ = per_win_ - masks_per_win_;
  if (!symmetry_.empty()) {
    if (symmetry_ != "global" && symmetry_ != "local")
      throw UsageError(fmt::format(
          "part_window masking: apply_symmetry '{}' is not one of global, local", symmetry_));
    if (!(mask_ratio > 0.5))
      throw UsageError("part_window masking: symmetric masking needs mask_ratio > 0.5");
  }
}

int64_t TubeWindowMaskingGenerator::num_masked() const {
  return frames_ * num_wins_ * (per_win_ - unmasks_per_win_);
}

torch::Tensor TubeWindowMaskingGenerator::operator()(std::mt19937& rng) const {
  std::vector<uint8_t> frame;
  frame.reserve(static_cast<size_t>(height_ * width_));
  if (symmetry_.empty()) {
    for (int64_t w = 0; w < num_wins_; ++w) {
      std::vector<uint8_t> win(per_win_, 0);
      for (int64_t i = unmasks_per_win_; i < per_win_; ++i) win[i] = 1;
      numpy_shuffle(win, rng);
      frame.insert(frame.end(), win.begin(), win.end());
    }
    return tile_frames(frame, frames_);
  }
  // Symmetric kinds: the visible tokens all lie in one half (left or right) of the window; the
  // other half is fully masked. "global" draws the side once per frame, "local" per window,
  // after that window's shuffle (upstream draw order).
  const int64_t half_w = win_[1] / 2, half = win_[0] * half_w;
  const bool global = symmetry_ == "global";
  bool left = global ? numpy_random_sample(rng) < 0.5 : false;
  for (int64_t w = 0; w < num_wins_; ++w) {
    std::vector<uint8_t> h(half, 1);
    for (int64_t i = 0; i < unmasks_per_win_; ++i) h[i] = 0;
    numpy_shuffle(h, rng);
    if (!global) left = numpy_random_sample(rng) < 0.5;
    for (int64_t r = 0; r < win_[0]; ++r) {
      auto row = h.begin() + r * half_w;
      if (left) {
        frame.insert(frame.end(), row, row + half_w);
        frame.insert(frame.end(), half_w, 1);
      } else {
        frame.insert(frame.end(), half_w, 1);
        frame.insert(frame.end(), row, row + half_w);
      }
    }
  }
  return tile_frames(frame, frames_);
}

std::string TubeWindowMaskingGenerator::describe() const {
  return fmt::format(
      "part_window mask: total patches {}, mask patches {} ({} windows of {}x{} per frame{})",
      num_patches(), num_masked(), num_wins_, win_[0], win_[1],
      symmetry_.empty() ? "" : ", symmetry " + symmetry_);
}

torch::Tensor draw_mask(const MaskingGenerator& generator, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed & 0xffffffffULL));
  return generator(rng);
}

std::unique_ptr<MaskingGenerator> make_masking_generator(const std::string& mask_type,
                                                         std::array<int64_t, 3> input_size,
                                                         double mask_ratio,
                                                         std::array<int64_t, 3> part_win_size,
                                                         const std::string& apply_symmetry) {
  if (mask_type == "tube") return std::make_unique<TubeMaskingGenerator>(input_size, mask_ratio);
  if (mask_type == "part_window")
    return std::make_unique<TubeWindowMaskingGenerator>(
        input_size, mask_ratio, std::array<int64_t, 2>{part_win_size[1], part_win_size[2]},
        apply_symmetry);
  throw UsageError(
      fmt::format("mask_type '{}' is not supported (known: tube, part_window)", mask_type));
}

}  // namespace dfer::data
