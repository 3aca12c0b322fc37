// The synthetic dataset: determinism by seed, the on-disk layout and list formats, the dynamics.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "dfer/data/frame_source.h"
#include "dfer/data/synth.h"
#include "dfer/io/csv.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace dfer::data;

namespace {

SynthOptions tiny(uint64_t seed, int threads) {
  SynthOptions o;
  o.videos = 14;
  o.seed = seed;
  o.size = 40;
  o.min_frames = 6;
  o.max_frames = 9;
  o.threads = threads;
  return o;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Relative path -> contents of every file under `root`.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = slurp(e.path());
  }
  return files;
}

}  // namespace

TEST_CASE("synth is deterministic by seed, whatever the thread count") {
  auto a = dfer::test::temp_dir("synth-a"), b = dfer::test::temp_dir("synth-b");
  auto c = dfer::test::temp_dir("synth-c");
  write_synth_dataset(a.string(), tiny(3, 2));
  write_synth_dataset(b.string(), tiny(3, 1));
  write_synth_dataset(c.string(), tiny(4, 2));
  auto sa = snapshot(a), sb = snapshot(b), sc = snapshot(c);
  REQUIRE(sa.size() > 14 * 6);
  REQUIRE(sa == sb);
  REQUIRE(sa != sc);
  size_t differing = 0;
  for (const auto& [name, bytes] : sa) {
    if (name.size() > 4 && name.substr(name.size() - 4) == ".jpg" && sc.count(name) &&
        sc[name] != bytes) {
      ++differing;
    }
  }
  REQUIRE(differing > 0);
}

TEST_CASE("synth writes the original layouts with parseable, consistent lists") {
  auto root = dfer::test::temp_dir("synth-layout");
  auto opt = tiny(11, 2);
  opt.videos = 21;           // 3 per class ...
  opt.train_fraction = 0.4;  // ... stratified: one each in train, val and test
  auto sum = write_synth_dataset(root.string(), opt);
  REQUIRE(sum.videos == 21);
  for (auto n : sum.per_class) REQUIRE(n == 3);

  std::set<int> labels;
  size_t rows = 0;
  for (const char* split : {"train", "val", "test"}) {
    auto list = (root / (std::string(split) + ".csv")).string();
    auto cls =
        dfer::io::read_annotations(list, kSynthNumClasses, dfer::io::AnnotationColumns::kLabel);
    auto comb =
        dfer::io::read_annotations((root / ("combine_" + std::string(split) + ".csv")).string(),
                                   kSynthNumClasses, dfer::io::AnnotationColumns::kLabelPitchYaw);
    auto gaze =
        dfer::io::read_annotations((root / ("gaze_" + std::string(split) + ".csv")).string(), 1,
                                   dfer::io::AnnotationColumns::kLabelPitchYaw);
    REQUIRE(cls.size() == comb.size());
    REQUIRE(cls.size() == gaze.size());
    for (size_t i = 0; i < cls.size(); ++i) {
      labels.insert(cls[i].label);
      REQUIRE(comb[i].path == cls[i].path);
      REQUIRE(comb[i].label == cls[i].label);
      REQUIRE(std::abs(*comb[i].pitch) < 1.0f);
      REQUIRE(std::abs(*comb[i].yaw) < 1.0f);
      // Relative to the list's folder: a frame folder of min..max JPEG frames.
      auto clip = open_frame_source(resolve_clip_path(list, cls[i].path));
      REQUIRE(clip->num_frames() >= opt.min_frames);
      REQUIRE(clip->num_frames() <= opt.max_frames);
      auto frames = clip->read({0}, 0, 0);
      REQUIRE(frames.sizes() == torch::IntArrayRef({1, opt.size, opt.size, 3}));
      // Per-sequence frame CSV (SPEC-later §b): one row per frame, same label, frames exist.
      auto name = fs::path(cls[i].path).filename().string();
      auto seq_file = (root / "combine" / split / (name + ".csv")).string();
      auto seq = dfer::io::read_annotations(seq_file, kSynthNumClasses,
                                            dfer::io::AnnotationColumns::kLabelPitchYaw);
      REQUIRE(static_cast<int64_t>(seq.size()) == clip->num_frames());
      REQUIRE(seq[0].label == cls[i].label);
      REQUIRE(fs::is_regular_file(resolve_clip_path(seq_file, seq.back().path)));
    }
    rows += cls.size();
  }
  REQUIRE(rows == 21);
  REQUIRE(labels.size() == kSynthNumClasses);
  for (auto n : sum.per_split) REQUIRE(n == 7);
  REQUIRE(dfer::io::read_annotations((root / "train.csv").string(), 7).size() == 7);
  auto pre = dfer::io::read_annotations((root / "pretrain.csv").string(), 1);
  REQUIRE(pre.size() == 7);
  REQUIRE(fs::is_regular_file(root / "synth.json"));
  REQUIRE(fs::is_regular_file(root / "clips" / "00001" / "00001.jpg"));
}

TEST_CASE("synthetic expressions rise from and return to neutral, neutral stays still") {
  auto opt = tiny(5, 1);
  opt.min_frames = opt.max_frames = 32;
  for (int label = 0; label < kSynthNumClasses; ++label) {
    auto v = render_synth_video(opt, label, label);
    REQUIRE(v.frames.sizes() == torch::IntArrayRef({32, opt.size, opt.size, 3}));
    REQUIRE(v.pitch.size() == 32);
    REQUIRE(v.intensity.front() == 0.0f);
    REQUIRE(v.intensity.back() == 0.0f);
    float peak = *std::max_element(v.intensity.begin(), v.intensity.end());
    if (label == 2) {
      REQUIRE(peak == 0.0f);
    } else {
      REQUIRE(peak >= 0.4f);
      REQUIRE(v.onset < v.apex_begin);
      REQUIRE(v.apex_end < v.offset_end);
      REQUIRE(v.offset_end <= 31);
    }
  }
  // Same index and seed -> same pixels.
  REQUIRE(torch::equal(render_synth_video(opt, 3, 4).frames, render_synth_video(opt, 3, 4).frames));
}

TEST_CASE("synth rejects invalid options") {
  auto opt = tiny(1, 1);
  opt.videos = 0;
  REQUIRE_THROWS_AS(write_synth_dataset(dfer::test::temp_dir("synth-bad").string(), opt),
                    dfer::UsageError);
  opt = tiny(1, 1);
  opt.min_frames = 10;
  opt.max_frames = 5;
  REQUIRE_THROWS_AS(render_synth_video(opt, 0, 0), dfer::UsageError);
  REQUIRE_THROWS_AS(render_synth_video(tiny(1, 1), 0, 7), dfer::Error);
}

TEST_CASE("face_zoom frames the face tighter, so an expression covers more of the frame") {
  auto opt = tiny(3, 1);
  opt.size = 64;
  opt.min_frames = opt.max_frames = 32;
  // Mean absolute change between the first (neutral) frame and the middle of the apex.
  auto change = [](const SynthVideo& v) {
    auto f = v.frames.to(torch::kFloat);
    return (f[(v.apex_begin + v.apex_end) / 2] - f[0]).abs().mean().item<double>();
  };
  for (int label : {0, 4}) {  // happy, surprise
    const SynthVideo wide = render_synth_video(opt, 7, label);
    opt.face_zoom = 1.6;
    const SynthVideo close = render_synth_video(opt, 7, label);
    opt.face_zoom = 1.0;
    REQUIRE(close.onset == wide.onset);  // same clip plan, only the camera moves
    REQUIRE(close.apex_end == wide.apex_end);
    CHECK(change(close) > 1.2 * change(wide));
  }
  opt.face_zoom = 2.5;
  REQUIRE_THROWS_AS(write_synth_dataset(dfer::test::temp_dir("synth-zoom").string(), opt),
                    dfer::UsageError);
}
