// Packed shards: pack -> read gives the frame-folder pixels, lists and labels survive, truncated
// or corrupted shards are detected, corrupt clips are skipped and reported.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>

#include "dfer/data/shard.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace dfer::data;

namespace {

// A clip folder of `n` random JPEG frames of 30x40.
void make_clip(const fs::path& dir, int n, int seed) {
  fs::create_directories(dir);
  cv::theRNG().state = static_cast<uint64_t>(seed) + 1;
  for (int k = 1; k <= n; ++k) {
    cv::Mat img(30, 40, CV_8UC3);
    cv::randu(img, 0, 255);
    char name[16];
    std::snprintf(name, sizeof name, "%05d.jpg", k);
    cv::imwrite((dir / name).string(), img);
  }
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const dfer::Error& e) {
    return e.what();
  }
  return "";
}

std::vector<int64_t> all_frames(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

// Three clips, a classification list and a combine list sharing one clip.
fs::path make_dataset() {
  auto root = dfer::test::temp_dir("shard");
  make_clip(root / "clips" / "a", 5, 1);
  make_clip(root / "clips" / "b", 3, 2);
  make_clip(root / "clips" / "c", 4, 3);
  write(root / "train.csv", "clips/a 0\nclips/b 3\n");
  write(root / "combine_test.csv", "clips/c 6 0.25 -0.5\nclips/a 0 0.0 0.125\n");
  return root;
}

PackOptions small(int64_t shard_bytes = 1 << 20) {
  PackOptions o;
  o.height = 24;
  o.width = 20;
  o.shard_bytes = shard_bytes;
  o.threads = 2;
  return o;
}

}  // namespace

TEST_CASE("pack -> read returns exactly the frame-folder pixels") {
  auto root = make_dataset();
  auto pack = root / "pack";
  // 4 KiB shards force several shards (a clip is 5 * 24 * 20 * 3 = 7200 bytes).
  auto stats = pack_clips({(root / "train.csv").string(), (root / "combine_test.csv").string()},
                          pack.string(), small(4096));
  REQUIRE(stats.clips == 3);
  REQUIRE(stats.frames == 12);
  REQUIRE(stats.skipped.empty());
  REQUIRE(stats.shards == 3);

  auto ds = PackedDataset::open(pack.string());
  REQUIRE(ds->num_clips() == 3);
  REQUIRE(ds->height() == 24);
  REQUIRE(ds->width() == 20);
  for (const char* key : {"clips/a", "clips/b", "clips/c"}) {
    auto i = ds->find(key);
    REQUIRE(i.has_value());
    ds->verify(*i);
    auto packed = ds->source(key);
    auto folder = open_frame_source((root / key).string());
    REQUIRE(packed->num_frames() == folder->num_frames());
    auto idx = all_frames(folder->num_frames());
    REQUIRE(torch::equal(packed->read(idx, 24, 20), folder->read(idx, 24, 20)));
    // Zero-copy view of all frames, and a sampled read with repeats.
    auto view = ds->frames(*i);
    REQUIRE(view.sizes() == torch::IntArrayRef({folder->num_frames(), 24, 20, 3}));
    REQUIRE(torch::equal(packed->read({2, 0, 2}, 24, 20), folder->read({2, 0, 2}, 24, 20)));
  }
  // A size other than the packed one is resampled from the packed frames.
  REQUIRE(ds->source("clips/a")->read({0, 1}, 12, 10).sizes() ==
          torch::IntArrayRef({2, 12, 10, 3}));

  // Lists keep their rows, labels and gaze; a clip named twice is stored once.
  REQUIRE(ds->list_names() == std::vector<std::string>{"train", "combine_test"});
  const auto& comb = ds->list("combine_test");
  REQUIRE(comb.size() == 2);
  REQUIRE(comb[0].path == "clips/c");
  REQUIRE(comb[0].label == 6);
  REQUIRE(*comb[0].pitch == Approx(0.25f));
  REQUIRE(*comb[1].yaw == Approx(0.125f));
  REQUIRE(comb[1].line == 2);
  REQUIRE(ds->list("train")[1].label == 3);

  // The path-based factory reaches packed clips as "<pack>#<key>".
  auto via_path = open_frame_source(pack.string() + "#clips/b");
  REQUIRE(via_path->kind() == SourceKind::kShard);
  REQUIRE(via_path->num_frames() == 3);
  REQUIRE_THAT(error_of([&] { open_frame_source(pack.string() + "#clips/zzz"); }),
               Catch::Contains("clips/zzz"));
}

TEST_CASE("a truncated or corrupted shard gives a clear error") {
  auto root = make_dataset();
  auto pack = root / "pack";
  pack_clips({(root / "train.csv").string()}, pack.string(), small());
  auto shard = pack / "shard-00000.bin";
  SECTION("truncated") {
    fs::resize_file(shard, fs::file_size(shard) - 100);
    auto msg = error_of([&] { PackedDataset::open(pack.string()); });
    REQUIRE_THAT(msg, Catch::Contains("shard-00000.bin"));
    REQUIRE_THAT(msg, Catch::Contains("truncated"));
  }
  SECTION("bytes flipped in place") {
    {
      std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(200);
      f.put('\x5a');
      f.put('\xa5');
    }
    auto ds = PackedDataset::open(pack.string());
    auto msg = error_of([&] { ds->verify(*ds->find("clips/a")); });
    REQUIRE_THAT(msg, Catch::Contains("checksum"));
    REQUIRE_THAT(msg, Catch::Contains("clips/a"));
  }
  SECTION("not a shard") {
    auto size = fs::file_size(shard);
    { std::ofstream(shard, std::ios::binary | std::ios::trunc) << std::string(size, 'x'); }
    REQUIRE_THAT(error_of([&] { PackedDataset::open(pack.string()); }), Catch::Contains("magic"));
  }
  SECTION("malformed index") {
    write(pack / "index.json", "{\"format\": \"dfer-packed-clips\", \"version\": 1, ");
    REQUIRE_THAT(error_of([&] { PackedDataset::open(pack.string()); }),
                 Catch::Contains("index.json"));
    write(pack / "index.json", "{\"format\": \"something-else\"}");
    REQUIRE_THAT(error_of([&] { PackedDataset::open(pack.string()); }),
                 Catch::Contains("not a dfer pack index"));
  }
}

TEST_CASE("pack skips a corrupt clip and reports it") {
  auto root = make_dataset();
  // Clip b gets a truncated frame; the list also names a missing clip.
  auto frame = root / "clips" / "b" / "00002.jpg";
  fs::resize_file(frame, fs::file_size(frame) / 2);
  write(root / "train.csv", "clips/a 0\nclips/b 3\nclips/missing 1\n");
  auto pack = root / "pack";
  auto stats = pack_clips({(root / "train.csv").string()}, pack.string(), small());
  REQUIRE(stats.clips == 1);
  REQUIRE(stats.skipped.size() == 2);
  REQUIRE(stats.skipped[0].key == "clips/b");
  REQUIRE(stats.skipped[0].line == 2);
  REQUIRE_THAT(stats.skipped[0].reason, Catch::Contains("00002.jpg"));
  REQUIRE(stats.skipped[1].key == "clips/missing");
  auto ds = PackedDataset::open(pack.string());
  REQUIRE(ds->list("train").size() == 1);
  REQUIRE(ds->skipped().size() == 2);
  REQUIRE_FALSE(ds->find("clips/b").has_value());

  // Nothing readable at all is an error, and bad lists are usage errors.
  write(root / "bad.csv", "clips/missing 1\n");
  REQUIRE_THROWS_AS(pack_clips({(root / "bad.csv").string()}, (root / "p2").string(), small()),
                    dfer::Error);
  write(root / "malformed.csv", "clips/a notalabel\n");
  REQUIRE_THROWS_AS(
      pack_clips({(root / "malformed.csv").string()}, (root / "p3").string(), small()),
      dfer::UsageError);
}
