// PIL-equivalent image operations on uint8 clips [T, H, W, C] (RGB), the same parameters for
// every frame: the building blocks of RandAugment. Pure tensor code, so they run on whatever
// device the clip is on; rounding follows Pillow's C code (truncation, L24 grey, 0.5 offsets).
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>

namespace dfer::data {

enum class Interpolation { kNearest, kBilinear, kBicubic };

// "nearest" | "bilinear" | "bicubic" (the augmentation.train_interpolation values);
// dfer::UsageError otherwise.
Interpolation parse_interpolation(const std::string& name);

// Throws dfer::Error unless `clip` is a uint8 [T, H, W, C] tensor; `what` names it.
void check_uint8_clip(const torch::Tensor& clip, const char* what);

// --- geometry (Image.transform(AFFINE) semantics) ---

// Output pixel (x, y) takes the input at (a*(x+.5) + b*(y+.5) + c, d*(x+.5) + e*(y+.5) + f)
// with m = {a, b, c, d, e, f}; points outside the input get `fill` in every channel, as Pillow
// decides it. The samples are OpenCV's (edge replication, bicubic a = -0.75 in fixed point), so
// non-integer positions differ from Pillow's filters (a = -1) by a few grey levels; integer
// shifts and right-angle rotations are exact.
torch::Tensor affine_transform(const torch::Tensor& clip, const std::array<double, 6>& m,
                               Interpolation interpolation, int64_t fill);

// Image.rotate(degrees) about the centre, counter-clockwise for positive degrees, same size.
torch::Tensor rotate(const torch::Tensor& clip, double degrees, Interpolation interpolation,
                     int64_t fill);
// Affine (1, factor, 0, 0, 1, 0) / (1, 0, 0, factor, 1, 0).
torch::Tensor shear_x(const torch::Tensor& clip, double factor, Interpolation interpolation,
                      int64_t fill);
torch::Tensor shear_y(const torch::Tensor& clip, double factor, Interpolation interpolation,
                      int64_t fill);
// Affine (1, 0, pixels, 0, 1, 0) / (1, 0, 0, 0, 1, pixels): content moves by -pixels.
torch::Tensor translate_x(const torch::Tensor& clip, double pixels, Interpolation interpolation,
                          int64_t fill);
torch::Tensor translate_y(const torch::Tensor& clip, double pixels, Interpolation interpolation,
                          int64_t fill);

// --- colour (ImageOps / ImageEnhance semantics, per frame and channel where PIL is) ---

torch::Tensor auto_contrast(const torch::Tensor& clip);  // ImageOps.autocontrast(cutoff=0)
torch::Tensor equalize(const torch::Tensor& clip);       // ImageOps.equalize
torch::Tensor invert(const torch::Tensor& clip);         // 255 - x
torch::Tensor posterize(const torch::Tensor& clip, int64_t bits);      // keep `bits` high bits
torch::Tensor solarize(const torch::Tensor& clip, int64_t threshold);  // x < t ? x : 255 - x
// x < threshold ? min(255, x + add) : x
torch::Tensor solarize_add(const torch::Tensor& clip, int64_t add, int64_t threshold = 128);

// ImageEnhance.*(img).enhance(factor) = blend(degenerate, img, factor):
torch::Tensor enhance_color(const torch::Tensor& clip, double factor);       // grey degenerate
torch::Tensor enhance_contrast(const torch::Tensor& clip, double factor);    // mean-grey image
torch::Tensor enhance_brightness(const torch::Tensor& clip, double factor);  // black image
torch::Tensor enhance_sharpness(const torch::Tensor& clip, double factor);   // SMOOTH filter

// Pillow's RGB -> L conversion ((19595 R + 38470 G + 7471 B + 0x8000) >> 16): int32 [T, H, W].
torch::Tensor grey_l24(const torch::Tensor& clip);

}  // namespace dfer::data
