// The per-sequence frame-CSV dataset: reading a folder, clip starts for clip_stride (and 999),
// per-frame or last-frame labels, and a horizontal flip that negates yaw.
#include <catch2/catch.hpp>

#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>

#include "dfer/data/sequence_dataset.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace dfer::data;

namespace {

// A folder with sequences of `lengths` frames (8 x 8 JPEGs, frame k has pitch 0.01 k and yaw
// 0.02 k, class 3) in CSVs a.csv, b.csv, ...
fs::path make_folder(const std::vector<int>& lengths) {
  const auto root = dfer::test::temp_dir("sequence");
  cv::Mat img(8, 8, CV_8UC3, cv::Scalar(10, 20, 30));
  for (size_t s = 0; s < lengths.size(); ++s) {
    const std::string name(1, static_cast<char>('a' + s));
    fs::create_directories(root / "frames" / name);
    fs::create_directories(root / "seq");
    std::ofstream csv(root / "seq" / (name + ".csv"));
    for (int k = 0; k < lengths[s]; ++k) {
      const auto f = root / "frames" / name / (std::to_string(k) + ".jpg");
      cv::imwrite(f.string(), img);
      csv << "../frames/" << name << "/" << k << ".jpg 3 " << 0.01 * k << " " << 0.02 * k << "\n";
    }
  }
  return root / "seq";
}

SequenceDatasetOptions options(int64_t frames, int64_t rate, int64_t stride) {
  SequenceDatasetOptions o;
  o.num_frames = frames;
  o.sampling_rate = rate;
  o.clip_stride = stride;
  o.train_augment.input_size = 8;
  o.train_augment.short_side_size = 8;
  o.train_augment.flip_prob = 0;
  return o;
}

}  // namespace

TEST_CASE("sequence folders give clips at every stride, short sequences none", "[data][sequence]") {
  const auto dir = make_folder({10, 3, 6});
  auto seqs = read_sequence_folder(dir.string(), 7);
  REQUIRE(seqs.size() == 3);
  CHECK(fs::exists(seqs[0].frames[0].path));  // resolved against the CSV's folder
  SequenceClipDataset ds(seqs, options(4, 1, 3));
  // a (10 frames): starts 0, 3, 6; b (3): none; c (6): 0.
  REQUIRE(ds.size() == 4);
  CHECK(ds.skipped_sequences() == 1);
  CHECK(ds.frame_indices(2) == std::vector<int64_t>{6, 7, 8, 9});
  SequenceClipDataset rated(seqs, options(2, 3, 1));  // span 6: a 0..4, c 0
  CHECK(rated.size() == 6);
  CHECK(rated.frame_indices(4) == std::vector<int64_t>{4, 7});
  SequenceClipDataset random(seqs, options(4, 1, 999));  // one start per usable sequence
  CHECK(random.size() == 2);
  CHECK_THROWS_AS(SequenceClipDataset(seqs, options(20, 1, 1)), dfer::UsageError);
  CHECK_THROWS_AS(read_sequence_folder((dir / "nothing").string(), 7), dfer::UsageError);
}

TEST_CASE("labels per frame or of the last frame, a flip negates yaw", "[data][sequence]") {
  const auto dir = make_folder({6});
  auto seqs = read_sequence_folder(dir.string(), 7);
  auto o = options(4, 1, 2);
  o.per_frame = true;
  SequenceClipDataset per_frame(seqs, o);
  Rng rng(1);
  auto s = per_frame.get(1, rng);  // frames 2..5
  REQUIRE(s.clip.sizes() == torch::IntArrayRef({3, 4, 8, 8}));
  REQUIRE(s.target.sizes() == torch::IntArrayRef({4, 2}));
  CHECK(s.label.sizes() == torch::IntArrayRef({4}));
  CHECK(s.label[0].item<int64_t>() == 3);
  CHECK(s.target[0][0].item<float>() == Approx(0.02));
  CHECK(s.target[3][1].item<float>() == Approx(0.10));
  CHECK(s.id == seqs[0].file);

  o.per_frame = false;
  o.train_augment.flip_prob = 1.0;  // always mirrored
  SequenceClipDataset flipped(seqs, o);
  auto f = flipped.get(1, rng);
  REQUIRE(f.target.sizes() == torch::IntArrayRef({2}));
  CHECK(f.target[0].item<float>() == Approx(0.05));   // pitch of frame 5 unchanged
  CHECK(f.target[1].item<float>() == Approx(-0.10));  // yaw negated
  o.train = false;                                    // validation never flips
  SequenceClipDataset val(seqs, o);
  CHECK(val.get(1, rng).target[1].item<float>() == Approx(0.10));
}
