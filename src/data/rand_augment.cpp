// RandAugment: config parsing, level mappings and the per-clip draw (see rand_augment.h).
#include "dfer/data/rand_augment.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "dfer/util/error.h"

namespace dfer::data {

namespace {

constexpr double kMaxLevel = 10.0;

[[noreturn]] void bad_spec(const std::string& text, const std::string& why) {
  throw UsageError("augmentation.auto_augment '" + text + "': " + why +
                   " (expected e.g. rand-m7-n4-mstd0.5-inc1)");
}

int64_t parse_int(const std::string& text, const std::string& key, const std::string& value) {
  // Python int(): optional sign-free digits only here, since the value starts at a digit.
  if (value.empty() || !std::all_of(value.begin(), value.end(),
                                    [](unsigned char c) { return std::isdigit(c) != 0; })) {
    bad_spec(text, "'" + key + "' needs an integer, got '" + value + "'");
  }
  if (value.size() > 9) bad_spec(text, "'" + key + "' value '" + value + "' is too large");
  return std::stoll(value);
}

double parse_float(const std::string& text, const std::string& key, const std::string& value) {
  size_t used = 0;
  double v = 0.0;
  try {
    v = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || !std::isfinite(v)) {
    bad_spec(text, "'" + key + "' needs a number, got '" + value + "'");
  }
  return v;
}

double negate_half(double v, Rng& rng) {
  return uniform01(rng) > 0.5 ? -v : v;
}

}  // namespace

const char* rand_op_name(RandOp op) {
  switch (op) {
    case RandOp::kAutoContrast:
      return "AutoContrast";
    case RandOp::kEqualize:
      return "Equalize";
    case RandOp::kInvert:
      return "Invert";
    case RandOp::kRotate:
      return "Rotate";
    case RandOp::kPosterize:
      return "Posterize";
    case RandOp::kPosterizeIncreasing:
      return "PosterizeIncreasing";
    case RandOp::kSolarize:
      return "Solarize";
    case RandOp::kSolarizeIncreasing:
      return "SolarizeIncreasing";
    case RandOp::kSolarizeAdd:
      return "SolarizeAdd";
    case RandOp::kColor:
      return "Color";
    case RandOp::kColorIncreasing:
      return "ColorIncreasing";
    case RandOp::kContrast:
      return "Contrast";
    case RandOp::kContrastIncreasing:
      return "ContrastIncreasing";
    case RandOp::kBrightness:
      return "Brightness";
    case RandOp::kBrightnessIncreasing:
      return "BrightnessIncreasing";
    case RandOp::kSharpness:
      return "Sharpness";
    case RandOp::kSharpnessIncreasing:
      return "SharpnessIncreasing";
    case RandOp::kShearX:
      return "ShearX";
    case RandOp::kShearY:
      return "ShearY";
    case RandOp::kTranslateXRel:
      return "TranslateXRel";
    case RandOp::kTranslateYRel:
      return "TranslateYRel";
  }
  return "?";
}

const std::vector<RandOp>& rand_augment_op_list(bool increasing) {
  using R = RandOp;
  static const std::vector<RandOp> plain = {
      R::kAutoContrast, R::kEqualize,    R::kInvert, R::kRotate,        R::kPosterize,
      R::kSolarize,     R::kSolarizeAdd, R::kColor,  R::kContrast,      R::kBrightness,
      R::kSharpness,    R::kShearX,      R::kShearY, R::kTranslateXRel, R::kTranslateYRel};
  static const std::vector<RandOp> inc = {R::kAutoContrast,
                                          R::kEqualize,
                                          R::kInvert,
                                          R::kRotate,
                                          R::kPosterizeIncreasing,
                                          R::kSolarizeIncreasing,
                                          R::kSolarizeAdd,
                                          R::kColorIncreasing,
                                          R::kContrastIncreasing,
                                          R::kBrightnessIncreasing,
                                          R::kSharpnessIncreasing,
                                          R::kShearX,
                                          R::kShearY,
                                          R::kTranslateXRel,
                                          R::kTranslateYRel};
  return increasing ? inc : plain;
}

RandAugmentSpec parse_rand_augment(const std::string& text) {
  std::vector<std::string> parts;
  size_t begin = 0;
  for (;;) {
    const size_t dash = text.find('-', begin);
    parts.push_back(
        text.substr(begin, dash == std::string::npos ? std::string::npos : dash - begin));
    if (dash == std::string::npos) break;
    begin = dash + 1;
  }
  if (parts.front() != "rand") bad_spec(text, "only RandAugment ('rand-...') is supported");
  RandAugmentSpec spec;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const size_t digit = std::find_if(part.begin(), part.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; }) -
                         part.begin();
    if (digit == part.size()) bad_spec(text, "section '" + part + "' has no value");
    const std::string key = part.substr(0, digit);
    const std::string value = part.substr(digit);
    if (key == "m") {
      spec.magnitude = parse_int(text, key, value);
    } else if (key == "n") {
      spec.num_layers = parse_int(text, key, value);
    } else if (key == "mstd") {
      spec.magnitude_std = parse_float(text, key, value);
    } else if (key == "inc") {
      // The reference tests bool(value) on the string, so inc0 selects the increasing list too.
      spec.increasing = true;
    } else if (key == "w") {
      bad_spec(text, "weighted op choice ('w') is not supported");
    } else {
      bad_spec(text, "unknown section '" + part + "'");
    }
  }
  return spec;
}

double rand_op_level(RandOp op, double magnitude, const RandAugmentSpec& spec, Rng& rng) {
  const double level = magnitude / kMaxLevel;  // the reference writes (level / 10) * k
  switch (op) {
    case RandOp::kAutoContrast:
    case RandOp::kEqualize:
    case RandOp::kInvert:
      return 0.0;
    case RandOp::kRotate:
      return negate_half(level * 30.0, rng);
    case RandOp::kPosterize:
      return static_cast<double>(static_cast<int64_t>(level * 4));
    case RandOp::kPosterizeIncreasing:
      return static_cast<double>(4 - static_cast<int64_t>(level * 4));
    case RandOp::kSolarize:
      return static_cast<double>(static_cast<int64_t>(level * 256));
    case RandOp::kSolarizeIncreasing:
      return static_cast<double>(256 - static_cast<int64_t>(level * 256));
    case RandOp::kSolarizeAdd:
      return static_cast<double>(static_cast<int64_t>(level * 110));
    case RandOp::kColor:
    case RandOp::kContrast:
    case RandOp::kBrightness:
    case RandOp::kSharpness:
      return level * 1.8 + 0.1;
    case RandOp::kColorIncreasing:
    case RandOp::kContrastIncreasing:
    case RandOp::kBrightnessIncreasing:
    case RandOp::kSharpnessIncreasing:
      return 1.0 + negate_half(level * 0.9, rng);
    case RandOp::kShearX:
    case RandOp::kShearY:
      return negate_half(level * 0.3, rng);
    case RandOp::kTranslateXRel:
    case RandOp::kTranslateYRel:
      return negate_half(level * spec.translate_pct, rng);
  }
  return 0.0;
}

torch::Tensor apply_rand_op(const torch::Tensor& clip, RandOp op, double arg,
                            const RandAugmentSpec& spec) {
  const Interpolation interp = spec.interpolation;
  const int64_t fill = spec.fill;
  switch (op) {
    case RandOp::kAutoContrast:
      return auto_contrast(clip);
    case RandOp::kEqualize:
      return equalize(clip);
    case RandOp::kInvert:
      return invert(clip);
    case RandOp::kRotate:
      return rotate(clip, arg, interp, fill);
    case RandOp::kPosterize:
    case RandOp::kPosterizeIncreasing:
      return posterize(clip, static_cast<int64_t>(arg));
    case RandOp::kSolarize:
    case RandOp::kSolarizeIncreasing:
      return solarize(clip, static_cast<int64_t>(arg));
    case RandOp::kSolarizeAdd:
      return solarize_add(clip, static_cast<int64_t>(arg), 128);
    case RandOp::kColor:
    case RandOp::kColorIncreasing:
      return enhance_color(clip, arg);
    case RandOp::kContrast:
    case RandOp::kContrastIncreasing:
      return enhance_contrast(clip, arg);
    case RandOp::kBrightness:
    case RandOp::kBrightnessIncreasing:
      return enhance_brightness(clip, arg);
    case RandOp::kSharpness:
    case RandOp::kSharpnessIncreasing:
      return enhance_sharpness(clip, arg);
    case RandOp::kShearX:
      return shear_x(clip, arg, interp, fill);
    case RandOp::kShearY:
      return shear_y(clip, arg, interp, fill);
    case RandOp::kTranslateXRel:
      return translate_x(clip, arg * static_cast<double>(clip.size(2)), interp, fill);
    case RandOp::kTranslateYRel:
      return translate_y(clip, arg * static_cast<double>(clip.size(1)), interp, fill);
  }
  return clip;
}

torch::Tensor rand_augment(const torch::Tensor& clip, const RandAugmentSpec& spec, Rng& rng,
                           std::vector<AppliedRandOp>* trace) {
  check_uint8_clip(clip, "rand_augment");
  const std::vector<RandOp>& ops = rand_augment_op_list(spec.increasing);
  // numpy.random.choice(ops, n) draws all op indices before any op runs.
  std::vector<RandOp> chosen;
  for (int64_t i = 0; i < spec.num_layers; ++i) {
    chosen.push_back(
        ops[static_cast<size_t>(randint(rng, 0, static_cast<int64_t>(ops.size()) - 1))]);
  }
  torch::Tensor out = clip;
  for (RandOp op : chosen) {
    if (spec.prob < 1.0 && uniform01(rng) > spec.prob) continue;
    double magnitude = static_cast<double>(spec.magnitude);
    if (spec.magnitude_std > 0.0) magnitude = normal(rng, magnitude, spec.magnitude_std);
    magnitude = std::min(kMaxLevel, std::max(0.0, magnitude));
    const double arg = rand_op_level(op, magnitude, spec, rng);
    out = apply_rand_op(out, op, arg, spec);
    if (trace) trace->push_back({op, magnitude, arg});
  }
  return out;
}

}  // namespace dfer::data
