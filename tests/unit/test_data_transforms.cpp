// Augmentation invariants: PIL-equivalent image ops on known values, crop boxes, flip geometry,
// random erasing bounds, the clip chains.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "dfer/data/image_ops.h"
#include "dfer/data/pipeline.h"
#include "dfer/data/transforms.h"
#include "dfer/util/error.h"

using namespace dfer::data;
using torch::indexing::Slice;

namespace {

// uint8 [T, H, W, 3] with a distinct value per pixel position (asymmetric in every direction).
torch::Tensor ramp_clip(int64_t T, int64_t H, int64_t W) {
  return torch::arange(T * H * W * 3, torch::kLong)
      .remainder(251)
      .to(torch::kUInt8)
      .view({T, H, W, 3});
}

torch::Tensor constant_clip(int64_t T, int64_t H, int64_t W, int v) {
  return torch::full({T, H, W, 3}, v, torch::kUInt8);
}

int px(const torch::Tensor& t, int64_t f, int64_t y, int64_t x, int64_t c) {
  return t.index({f, y, x, c}).item<int>();
}

}  // namespace

TEST_CASE("colour ops reproduce Pillow's lookup tables") {
  torch::Tensor c = torch::tensor({0, 100, 127, 128, 200, 255}, torch::kUInt8)
                        .view({1, 1, 6, 1})
                        .expand({1, 1, 6, 3})
                        .contiguous();
  auto row = [](const torch::Tensor& t) {
    std::vector<int> v;
    for (int64_t i = 0; i < t.size(2); ++i) v.push_back(t.index({0, 0, i, 0}).item<int>());
    return v;
  };
  CHECK(row(invert(c)) == std::vector<int>{255, 155, 128, 127, 55, 0});
  CHECK(row(posterize(c, 2)) == std::vector<int>{0, 64, 64, 128, 192, 192});
  CHECK(row(posterize(c, 0)) == std::vector<int>{0, 0, 0, 0, 0, 0});
  CHECK(row(posterize(c, 8)) == row(c));
  CHECK(row(solarize(c, 128)) == std::vector<int>{0, 100, 127, 127, 55, 0});
  CHECK(row(solarize(c, 256)) == row(c));  // increasing solarize at magnitude 0: a no-op
  CHECK(row(solarize(c, 0)) == row(invert(c)));
  CHECK(row(solarize_add(c, 50)) == std::vector<int>{50, 150, 177, 128, 200, 255});
  CHECK(row(solarize_add(c, 200)) == std::vector<int>{200, 255, 255, 128, 200, 255});
  CHECK(row(enhance_brightness(c, 0.5)) == std::vector<int>{0, 50, 63, 64, 100, 127});
  CHECK(row(enhance_brightness(c, 1.5)) == std::vector<int>{0, 150, 190, 192, 255, 255});
  CHECK(torch::equal(enhance_sharpness(c, 1.0), c));
}

TEST_CASE("autocontrast and equalize work per frame and channel") {
  // Channel 0 holds 50/100/150 -> stretched to 0/127/255; channel 1 is flat and stays.
  torch::Tensor c = torch::zeros({1, 1, 3, 3}, torch::kUInt8);
  c.index_put_({0, 0, Slice(), 0}, torch::tensor({50, 100, 150}, torch::kUInt8));
  c.index_put_({0, 0, Slice(), 1}, 77);
  const torch::Tensor a = auto_contrast(c);
  CHECK(px(a, 0, 0, 0, 0) == 0);
  CHECK(px(a, 0, 0, 1, 0) == 127);
  CHECK(px(a, 0, 0, 2, 0) == 255);
  CHECK(px(a, 0, 0, 1, 1) == 77);

  // 32 x 32 frame: 256 pixels at 0, 512 at 100, 256 at 250 -> step (1024 - 256) // 255 = 3,
  // lut = (1 + cumulative) // 3: 0 -> 0, 100 -> 85, 250 -> 256 clipped to 255.
  torch::Tensor e = torch::zeros({2, 32, 32, 3}, torch::kUInt8);
  e.index_put_({0, Slice(8, 24)}, 100);
  e.index_put_({0, Slice(24, 32)}, 250);
  e.index_put_({1}, 9);  // second frame: a single level, identity
  const torch::Tensor q = equalize(e);
  CHECK(px(q, 0, 0, 0, 0) == 0);
  CHECK(px(q, 0, 10, 0, 2) == 85);
  CHECK(px(q, 0, 30, 5, 1) == 255);
  CHECK(px(q, 1, 3, 3, 0) == 9);
}

TEST_CASE("enhance ops blend with Pillow's degenerate images") {
  torch::Tensor red = torch::zeros({1, 2, 2, 3}, torch::kUInt8);
  red.index_put_({Slice(), Slice(), Slice(), 0}, 255);
  // L of pure red = (255 * 19595 + 32768) >> 16 = 76.
  CHECK(px(grey_l24(red).unsqueeze(-1), 0, 0, 0, 0) == 76);
  const torch::Tensor grey = enhance_color(red, 0.0);
  CHECK(px(grey, 0, 1, 1, 0) == 76);
  CHECK(px(grey, 0, 1, 1, 2) == 76);
  // Contrast 0: every pixel becomes int(mean(L) + 0.5).
  torch::Tensor two = constant_clip(1, 2, 2, 10);
  two.index_put_({0, 0}, 20);  // L mean 15
  const torch::Tensor flat = enhance_contrast(two, 0.0);
  CHECK(px(flat, 0, 0, 0, 0) == 15);
  CHECK(px(flat, 0, 1, 1, 1) == 15);
  // Sharpness keeps the border and smooths the interior of an impulse.
  torch::Tensor imp = constant_clip(1, 5, 5, 0);
  imp.index_put_({0, 2, 2}, 130);
  const torch::Tensor smooth = enhance_sharpness(imp, 0.0);
  CHECK(px(smooth, 0, 2, 2, 0) == 50);  // 130 * 5 / 13 + 0.5
  CHECK(px(smooth, 0, 1, 1, 0) == 10);  // 130 / 13 + 0.5
  CHECK(px(smooth, 0, 0, 0, 0) == 0);
}

TEST_CASE("geometric ops follow Image.transform conventions") {
  const torch::Tensor clip = ramp_clip(2, 6, 6);
  for (Interpolation i :
       {Interpolation::kNearest, Interpolation::kBilinear, Interpolation::kBicubic}) {
    CHECK(torch::equal(rotate(clip, 0.0, i, 128), clip));
    CHECK(torch::equal(shear_x(clip, 0.0, i, 128), clip));
  }
  // 180 degrees about the centre lands on pixel centres: both axes mirrored, exactly.
  CHECK(torch::equal(rotate(clip, 180.0, Interpolation::kBicubic, 128), clip.flip({1, 2})));
  // 90 degrees counter-clockwise: out[y][x] = in[x][W - 1 - y].
  const torch::Tensor r90 = rotate(clip, 90.0, Interpolation::kBicubic, 128);
  CHECK(px(r90, 1, 0, 0, 2) == px(clip, 1, 0, 5, 2));
  CHECK(px(r90, 0, 2, 4, 1) == px(clip, 0, 4, 3, 1));
  // Translate by +2 px: out[x] = in[x + 2], the last two columns filled with 128.
  const torch::Tensor tx = translate_x(clip, 2.0, Interpolation::kBicubic, 128);
  CHECK(torch::equal(tx.index({Slice(), Slice(), Slice(0, 4)}),
                     clip.index({Slice(), Slice(), Slice(2, 6)})));
  CHECK((tx.index({Slice(), Slice(), Slice(4, 6)}) == 128).all().item<bool>());
  const torch::Tensor ty = translate_y(clip, -1.0, Interpolation::kBilinear, 0);
  CHECK(torch::equal(ty.index({Slice(), Slice(1, 6)}), clip.index({Slice(), Slice(0, 5)})));
  CHECK((ty.index({Slice(), 0}) == 0).all().item<bool>());
  // A real rotation keeps shape and type, fills the corners.
  const torch::Tensor r = rotate(constant_clip(1, 16, 16, 200), 30.0, Interpolation::kBicubic, 128);
  CHECK(r.sizes() == torch::IntArrayRef({1, 16, 16, 3}));
  CHECK(px(r, 0, 0, 0, 0) == 128);
  CHECK(px(r, 0, 8, 8, 0) >= 199);  // interpolated constant: 200 up to truncation
  CHECK_THROWS_AS(rotate(clip.to(torch::kFloat32), 10.0, Interpolation::kBicubic, 128),
                  dfer::Error);
  CHECK_THROWS_AS(parse_interpolation("lanczos"), dfer::UsageError);
}

TEST_CASE("resize, crops and normalisation") {
  const torch::Tensor c = ramp_clip(2, 7, 10);
  CHECK(resize_clip(c, 7, 10).data_ptr() == c.data_ptr());
  CHECK(resize_clip(c, 5, 4).sizes() == torch::IntArrayRef({2, 5, 4, 3}));
  CHECK(torch::equal(resize_clip(constant_clip(1, 9, 9, 77), 4, 6), constant_clip(1, 4, 6, 77)));
  // Centre crop of 4x4 out of 7x10: left round(3.0) = 3, top round(1.5) = 2 (half to even).
  CHECK(torch::equal(center_crop(c, 4, 4), c.index({Slice(), Slice(2, 6), Slice(3, 7)})));
  CHECK_THROWS_AS(center_crop(c, 8, 4), dfer::Error);
  CHECK_THROWS_AS(crop_clip(c, {5, 0, 3, 3}), dfer::Error);
  // Test crop along the longer side: W = 10 > H = 7, 3 crops of 7 -> starts 0, 1, 3.
  CHECK(torch::equal(test_spatial_crop(c, 7, 3, 2), c.index({Slice(), Slice(), Slice(3, 10)})));
  CHECK(voxceleb2_precrop(160)->left == 32);
  CHECK(voxceleb2_precrop(192)->left == 16);
  CHECK_FALSE(voxceleb2_precrop(224).has_value());

  const torch::Tensor x = to_normalized_float(constant_clip(2, 3, 3, 255));
  REQUIRE(x.sizes() == torch::IntArrayRef({3, 2, 3, 3}));
  CHECK(x.index({0, 1, 2, 2}).item<float>() == Approx((1.0 - 0.485) / 0.229));
  CHECK(x.index({2, 0, 0, 0}).item<float>() == Approx((1.0 - 0.406) / 0.225));
}

TEST_CASE("horizontal flip mirrors the width of every frame") {
  const torch::Tensor x = torch::arange(2 * 3 * 4 * 5, torch::kFloat32).view({2, 3, 4, 5});
  const torch::Tensor f = horizontal_flip(x);
  for (int64_t w = 0; w < 5; ++w) CHECK(torch::equal(f.select(3, w), x.select(3, 4 - w)));
  int flips = 0;
  for (uint64_t s = 0; s < 200; ++s) {
    Rng rng(s);
    bool flipped = false;
    random_horizontal_flip(x, 0.5, rng, &flipped);
    flips += flipped;
  }
  CHECK((flips > 70 && flips < 130));
}

TEST_CASE("random resized crop: box inside, area and ratio in range, same box for all frames") {
  for (uint64_t s = 0; s < 300; ++s) {
    Rng rng(s);
    const CropBox b = sample_resized_crop_box(160, 160, rng);
    REQUIRE(b.top >= 0);
    REQUIRE(b.left >= 0);
    REQUIRE(b.top + b.height <= 160);
    REQUIRE(b.left + b.width <= 160);
    const double area = static_cast<double>(b.height * b.width) / (160.0 * 160.0);
    CHECK((area > 0.07 && area <= 1.0));
    const double ratio = static_cast<double>(b.width) / static_cast<double>(b.height);
    CHECK((ratio > 0.7 && ratio < 1.4));
  }
  // No tries left: the centred box clipped to the ratio range (300 / 100 > 4 / 3).
  Rng rng(0);
  const CropBox f = sample_resized_crop_box(100, 300, rng, {0.08, 1.0}, {0.75, 1.3333}, 0);
  CHECK(f.height == 100);
  CHECK(f.width == 133);
  CHECK(f.left == 83);
  CHECK(f.top == 0);
  // Frame t = frame 0 + 10 t: bilinear resizing keeps the offsets, so the box is shared.
  const torch::Tensor base = torch::rand({3, 1, 20, 24});
  const torch::Tensor clip = base + torch::arange(4, torch::kFloat32).mul(10).view({1, 4, 1, 1});
  Rng r2(9);
  const torch::Tensor out = random_resized_crop(clip, 16, 16, r2);
  REQUIRE(out.sizes() == torch::IntArrayRef({3, 4, 16, 16}));
  for (int64_t t = 1; t < 4; ++t) {
    CHECK(torch::allclose(out.select(1, t) - out.select(1, 0), torch::full({3, 16, 16}, 10.0f * t),
                          1e-4, 1e-4));
  }
}

TEST_CASE("multi-scale crop samples the reference's sizes and grid offsets") {
  MultiScaleCropOptions o;
  const std::set<int64_t> sizes = {160, 140, 120, 105};
  const std::vector<int64_t> order = {160, 140, 120, 105};
  auto level = [&](int64_t s) { return std::find(order.begin(), order.end(), s) - order.begin(); };
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (uint64_t s = 0; s < 400; ++s) {
    Rng rng(s);
    const CropBox b = sample_multi_scale_crop_box(160, 160, o, rng);
    REQUIRE(sizes.count(b.height));
    REQUIRE(sizes.count(b.width));
    CHECK(std::abs(level(b.height) - level(b.width)) <= 1);
    const int64_t hs = (160 - b.height) / 4, ws = (160 - b.width) / 4;
    CHECK((hs == 0 ? b.top == 0 : b.top % hs == 0));
    CHECK((ws == 0 ? b.left == 0 : b.left % ws == 0));
    CHECK(b.top + b.height <= 160);
    CHECK(b.left + b.width <= 160);
    pairs.insert({b.width, b.height});
  }
  CHECK(pairs.size() == 10);
  Rng rng(1);
  const torch::Tensor out = multi_scale_crop(ramp_clip(2, 160, 160), o, rng);
  CHECK(out.sizes() == torch::IntArrayRef({2, 160, 160, 3}));
}

TEST_CASE("random erasing: one box, area bounds, same place in every frame, fresh noise") {
  RandomErasingOptions o;
  o.probability = 1.0;
  for (uint64_t s = 0; s < 50; ++s) {
    const torch::Tensor x = torch::full({3, 4, 40, 40}, 5.0f);
    Rng rng(s);
    std::vector<CropBox> boxes;
    const torch::Tensor y = random_erasing(x.clone(), o, rng, &boxes);
    REQUIRE(boxes.size() == 1);
    const CropBox& b = boxes[0];
    REQUIRE(b.height < 40);
    REQUIRE(b.width < 40);
    const double area = static_cast<double>(b.height * b.width) / 1600.0;
    CHECK((area >= 0.015 && area <= 0.36));
    const torch::Tensor changed = (y != 5.0f);
    // Outside the box nothing changed; inside every frame is noise, different per frame.
    const torch::Tensor box = changed.index(
        {Slice(), Slice(), Slice(b.top, b.top + b.height), Slice(b.left, b.left + b.width)});
    CHECK(changed.sum().item<int64_t>() == box.sum().item<int64_t>());
    CHECK(box.all().item<bool>());
    const torch::Tensor region = y.index(
        {Slice(), Slice(), Slice(b.top, b.top + b.height), Slice(b.left, b.left + b.width)});
    CHECK_FALSE(torch::equal(region.select(1, 0), region.select(1, 1)));
  }
  o.probability = 0.0;
  Rng rng(3);
  const torch::Tensor x = torch::zeros({3, 2, 8, 8});
  CHECK(torch::equal(random_erasing(x.clone(), o, rng), x));
  // recount 2: boxes per clip in [1, 2], and the first T / 2 frames are never erased.
  o.probability = 1.0;
  o.max_count = 2;
  o.num_splits = 2;
  for (uint64_t s = 0; s < 10; ++s) {
    Rng r(s);
    const torch::Tensor y = random_erasing(torch::full({3, 4, 30, 30}, 5.0f), o, r);
    CHECK((y.index({Slice(), Slice(0, 2)}) == 5.0f).all().item<bool>());
    CHECK_FALSE((y.index({Slice(), Slice(2, 4)}) == 5.0f).all().item<bool>());
  }
  CHECK_THROWS_AS(parse_erase_mode("noise"), dfer::UsageError);
}

TEST_CASE("training chain output shape and range") {
  TrainAugmentOptions o;
  o.input_size = 16;
  o.short_side_size = 20;
  o.rand_augment = parse_rand_augment("rand-m7-n4-mstd0.5-inc1");
  o.erasing = RandomErasingOptions{};
  Rng rng(4);
  const torch::Tensor x = train_transform(ramp_clip(4, 24, 30), o, rng);
  CHECK(x.sizes() == torch::IntArrayRef({3, 4, 16, 16}));
  CHECK(x.scalar_type() == torch::kFloat32);
  CHECK(torch::isfinite(x).all().item<bool>());
  CHECK(eval_transform(ramp_clip(4, 24, 30), 20, 16).sizes() == torch::IntArrayRef({3, 4, 16, 16}));
  CHECK(test_transform(ramp_clip(4, 24, 30), 20, 2, 1).sizes() ==
        torch::IntArrayRef({3, 4, 20, 20}));
  PretrainAugmentOptions p;
  p.precrop = voxceleb2_precrop(16);
  p.crop.output_size = 16;
  CHECK(pretrain_transform(ramp_clip(4, 24, 48), p, rng).sizes() ==
        torch::IntArrayRef({3, 4, 16, 16}));
}
