// RandAugment as the reference's video variant (timm/SlowFast rand_augment): the config string,
// the op lists, the level mappings (SPEC 3.3.4) and one draw of ops + parameters shared by all
// frames of a clip. Works on uint8 clips [T, H, W, C].
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "dfer/data/image_ops.h"
#include "dfer/data/random.h"

namespace dfer::data {

enum class RandOp {
  kAutoContrast,
  kEqualize,
  kInvert,
  kRotate,
  kPosterize,
  kPosterizeIncreasing,
  kSolarize,
  kSolarizeIncreasing,
  kSolarizeAdd,
  kColor,
  kColorIncreasing,
  kContrast,
  kContrastIncreasing,
  kBrightness,
  kBrightnessIncreasing,
  kSharpness,
  kSharpnessIncreasing,
  kShearX,
  kShearY,
  kTranslateXRel,
  kTranslateYRel,
};

// The reference's names ("AutoContrast", "PosterizeIncreasing", ...).
const char* rand_op_name(RandOp op);

// The 15 ops RandAugment chooses from: _RAND_INCREASING_TRANSFORMS or _RAND_TRANSFORMS order.
const std::vector<RandOp>& rand_augment_op_list(bool increasing);

struct RandAugmentSpec {
  int64_t magnitude = 10;       // m: 0..10 scale
  int64_t num_layers = 2;       // n: ops per clip, drawn with replacement
  double magnitude_std = 0.0;   // mstd: magnitude ~ N(m, mstd) per op call, clipped to [0, 10]
  bool increasing = false;      // set by any `inc<digits>` section, even inc0 (SPEC 8.29)
  double prob = 0.5;            // each drawn op applies with this probability
  double translate_pct = 0.45;  // TranslateXRel/YRel: +-0.45 * M * image size
  Interpolation interpolation = Interpolation::kBicubic;  // geometric ops
  int64_t fill = 128;                                     // geometric ops, every channel
};

// Parses "rand-m7-n4-mstd0.5-inc1" the way the reference does: sections after "rand" split at
// their first digit into key and value; m and n are integers, mstd a float, inc any digits
// (its value is only tested for being non-empty, hence the inc0 quirk). Unlike the reference,
// unknown keys, sections without a value, `w` (weighted choice) and bad numbers are
// dfer::UsageError naming the string, instead of being ignored.
RandAugmentSpec parse_rand_augment(const std::string& text);

// One applied op, for logs and tests.
struct AppliedRandOp {
  RandOp op;
  double magnitude;  // after noise and clipping
  double arg;        // the level argument passed to the op (degrees, factor, bits, ...); 0 if none
};

// Draws num_layers ops uniformly with replacement, then per op: apply with probability `prob`
// (u <= prob, as `random() > prob` skips), magnitude noise, the level argument (with its random
// sign for signed ops), and applies it to every frame. Appends what was applied to `trace`.
torch::Tensor rand_augment(const torch::Tensor& clip, const RandAugmentSpec& spec, Rng& rng,
                           std::vector<AppliedRandOp>* trace = nullptr);

// The level argument of `op` at `magnitude` (0..10) as the reference maps it; `rng` supplies the
// sign of signed ops (negated when u > 0.5). Translations return the signed fraction of the
// image size, as the reference's level functions do.
double rand_op_level(RandOp op, double magnitude, const RandAugmentSpec& spec, Rng& rng);

// Applies `op` with its level argument to every frame (translations: arg * width or height).
torch::Tensor apply_rand_op(const torch::Tensor& clip, RandOp op, double arg,
                            const RandAugmentSpec& spec);

}  // namespace dfer::data
