// MAE token masks (SPEC §2.1): `tube` (VideoMAE) and `part_window` (tube masking per spatial
// window, optionally face-symmetric). Masks are bool [N] over the raster token grid, true =
// masked. Given a std::mt19937 seeded like numpy's legacy RandomState, the masks are identical
// to the upstream numpy generators (same shuffle and uniform draws).
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace dfer::data {

// numpy legacy RandomState primitives on top of MT19937 (np.random.seed(s) == std::mt19937(s)).
uint64_t numpy_random_interval(std::mt19937& rng, uint64_t max);  // uniform in [0, max]
double numpy_random_sample(std::mt19937& rng);                    // np.random.rand()
void numpy_shuffle(std::vector<uint8_t>& v, std::mt19937& rng);   // np.random.shuffle

class MaskingGenerator {
 public:
  virtual ~MaskingGenerator() = default;
  // One mask for one clip: bool [num_patches()], true = masked.
  virtual torch::Tensor operator()(std::mt19937& rng) const = 0;
  virtual int64_t num_patches() const = 0;
  virtual int64_t num_masked() const = 0;
  virtual std::string describe() const = 0;
};

// Per frame: int(ratio * H*W) masked positions drawn uniformly, the same for every frame.
class TubeMaskingGenerator : public MaskingGenerator {
 public:
  // input_size = token grid (T', H', W').
  TubeMaskingGenerator(std::array<int64_t, 3> input_size, double mask_ratio);
  torch::Tensor operator()(std::mt19937& rng) const override;
  int64_t num_patches() const override { return frames_ * per_frame_; }
  int64_t num_masked() const override { return frames_ * masks_per_frame_; }
  std::string describe() const override;

 private:
  int64_t frames_, per_frame_, masks_per_frame_;
};

// The frame is cut into windows of win_size = (rows, cols) tokens; cols must equal the frame
// width and be even. Each window gets int(ratio * rows*cols) masked tokens, the frame mask is
// tiled over time. apply_symmetry "" (upstream None), "global" (one side of every window masked,
// the same side for the whole frame) or "local" (side drawn per window); the symmetric kinds need
// ratio > 0.5.
class TubeWindowMaskingGenerator : public MaskingGenerator {
 public:
  TubeWindowMaskingGenerator(std::array<int64_t, 3> input_size, double mask_ratio,
                             std::array<int64_t, 2> win_size, std::string apply_symmetry = "");
  torch::Tensor operator()(std::mt19937& rng) const override;
  int64_t num_patches() const override { return frames_ * height_ * width_; }
  int64_t num_masked() const override;
  std::string describe() const override;

 private:
  int64_t frames_, height_, width_;
  std::array<int64_t, 2> win_;
  int64_t num_wins_, per_win_, masks_per_win_, unmasks_per_win_;
  std::string symmetry_;
};

// One mask from a fresh MT19937 seeded with the low 32 bits of `seed`: the same mask as upstream
// after np.random.seed(seed) and one generator() call.
torch::Tensor draw_mask(const MaskingGenerator& generator, uint64_t seed);

// Factory for the upstream `--mask_type` values: "tube" or "part_window" (window = the (h, w)
// part of part_win_size (t, h, w)). Throws UsageError for other types or impossible sizes.
std::unique_ptr<MaskingGenerator> make_masking_generator(const std::string& mask_type,
                                                         std::array<int64_t, 3> input_size,
                                                         double mask_ratio,
                                                         std::array<int64_t, 3> part_win_size,
                                                         const std::string& apply_symmetry = "");

}  // namespace dfer::data
