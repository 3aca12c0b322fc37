// The batch loader: distributed sharding, reproducibility across worker counts, resume, error
// propagation and bad-sample skipping; the clip dataset over a fake in-memory frame loader and
// the adapter over real frame folders.
#include <catch2/catch.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <opencv2/imgcodecs.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "dfer/data/dataset.h"
#include "dfer/data/loader.h"
#include "dfer/data/transforms.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

using namespace dfer::data;
using V = std::vector<int64_t>;

namespace {

// Each sample is noise drawn from its own Rng: any mix-up of seeds shows in the bytes.
std::shared_ptr<FunctionDataset> noise_dataset(int64_t n, std::set<int64_t> bad = {}) {
  return std::make_shared<FunctionDataset>(
      n,
      [bad](int64_t index, Rng& rng) {
        if (bad.count(index)) throw dfer::Error("cannot decode frame 3");
        Sample s;
        s.clip = torch::randn({3, 2, 4, 4}, torch_generator(rng));
        s.label = torch::tensor(index % 5, torch::kLong);
        s.id = "clip" + std::to_string(index);
        return s;
      },
      [](int64_t index) {
        return "list.csv:" + std::to_string(index + 1) + " /data/clip" + std::to_string(index);
      });
}

std::vector<Batch> run_epoch(Loader& loader, int64_t epoch, int64_t start = 0) {
  loader.start_epoch(epoch, start);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

void require_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].indices == b[i].indices);
    CHECK(a[i].batch_index == b[i].batch_index);
    CHECK(torch::equal(a[i].clips, b[i].clips));
    CHECK(torch::equal(a[i].labels, b[i].labels));
  }
}

}  // namespace

TEST_CASE("distributed sharding follows DistributedSampler") {
  CHECK(distributed_indices(10, 3, 0, false, 0, 0) == V{0, 3, 6, 9});
  CHECK(distributed_indices(10, 3, 1, false, 0, 0) == V{1, 4, 7, 0});
  CHECK(distributed_indices(10, 3, 2, false, 0, 0) == V{2, 5, 8, 1});
  CHECK(distributed_indices(10, 3, 0, false, 0, 0, true) == V{0, 3, 6});
  CHECK(distributed_indices(2, 5, 4, false, 0, 0) == V{0});  // wraps more than once
  CHECK(distributed_indices(0, 2, 1, true, 0, 0).empty());
  // Shuffled: torch.randperm(n, generator seeded seed + epoch), then the same split.
  const torch::Tensor perm =
      torch::randperm(10, at::detail::createCPUGenerator(5 + 2), torch::kLong);
  const V r0 = distributed_indices(10, 2, 0, true, 5, 2);
  for (size_t i = 0; i < r0.size(); ++i) CHECK(r0[i] == perm[2 * i].item<int64_t>());
  std::set<int64_t> all;
  for (int64_t r = 0; r < 2; ++r) {
    for (int64_t v : distributed_indices(10, 2, r, true, 5, 2)) all.insert(v);
  }
  CHECK(all.size() == 10);
  CHECK(distributed_indices(10, 1, 0, true, 5, 2) != distributed_indices(10, 1, 0, true, 5, 3));
  CHECK_THROWS_AS(distributed_indices(10, 2, 2, false, 0, 0), dfer::UsageError);
}

TEST_CASE("same seed gives the same batches with 0, 1 and 2 workers, resume continues exactly") {
  auto data = noise_dataset(23);
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = true;
  o.seed = 7;
  Loader inline_loader(data, o);
  o.num_workers = 1;
  Loader one(data, o);
  o.num_workers = 2;
  o.prefetch_batches = 1;
  Loader two(data, o);
  CHECK(two.batches_per_epoch() == 6);
  for (int64_t epoch : {0, 1}) {
    const std::vector<Batch> a = run_epoch(inline_loader, epoch);
    REQUIRE(a.size() == 6);
    CHECK(a.back().size() == 3);
    CHECK(a[0].clips.sizes() == torch::IntArrayRef({4, 3, 2, 4, 4}));
    require_same(a, run_epoch(one, epoch));
    require_same(a, run_epoch(two, epoch));
    // Resume at batch 4 of this epoch: the tail of the full run.
    const std::vector<Batch> tail = run_epoch(two, epoch, 4);
    require_same(std::vector<Batch>(a.begin() + 4, a.end()), tail);
  }
  // Another epoch: another order and other augmentation draws.
  CHECK(run_epoch(inline_loader, 0)[0].indices != run_epoch(inline_loader, 1)[0].indices);
  // A sample's content depends only on (seed, epoch, index), not on its batch.
  o.batch_size = 5;
  Loader other(data, o);
  const std::vector<Batch> b5 = run_epoch(other, 0);
  const std::vector<Batch> b4 = run_epoch(inline_loader, 0);
  CHECK(torch::equal(b5[0].clips[4], b4[1].clips[0]));
}

TEST_CASE("drop_last, sharding and abandoning an epoch") {
  auto data = noise_dataset(10);
  LoaderOptions o;
  o.batch_size = 4;
  o.drop_last = true;
  o.num_workers = 2;
  Loader loader(data, o);
  const std::vector<Batch> b = run_epoch(loader, 0);
  REQUIRE(b.size() == 2);
  CHECK(b[1].indices == V{4, 5, 6, 7});
  // Start another epoch in the middle of this one: the workers are restarted cleanly.
  loader.start_epoch(3);
  REQUIRE(loader.next().has_value());
  loader.start_epoch(4);
  CHECK(run_epoch(loader, 4).size() == 2);

  o.drop_last = false;
  o.world_size = 3;
  o.rank = 1;
  Loader rank1(data, o);
  CHECK(rank1.samples_per_epoch() == 4);
  const std::vector<Batch> r = run_epoch(rank1, 0);
  REQUIRE(r.size() == 1);
  CHECK(r[0].indices == V{1, 4, 7, 0});
  CHECK_THROWS_AS(Loader(data, LoaderOptions{0}), dfer::UsageError);
}

TEST_CASE("a failing sample reaches the consumer with its CSV line") {
  auto data = noise_dataset(12, {5});
  for (int64_t workers : {0, 2}) {
    LoaderOptions o;
    o.batch_size = 4;
    o.num_workers = workers;
    Loader loader(data, o);
    loader.start_epoch(0);
    REQUIRE(loader.next().has_value());
    try {
      loader.next();
      FAIL("the batch holding sample 5 should throw");
    } catch (const dfer::Error& e) {
      const std::string msg = e.what();
      CHECK(msg.find("list.csv:6 /data/clip5") != std::string::npos);
      CHECK(msg.find("cannot decode frame 3") != std::string::npos);
    }
    // The loader goes on with the following batch.
    auto last = loader.next();
    REQUIRE(last.has_value());
    CHECK(last->batch_index == 2);
    CHECK_FALSE(loader.next().has_value());
  }
}

TEST_CASE("skip_bad_samples: replaced or dropped, counted and listed") {
  auto data = noise_dataset(12, {2, 9});
  LoaderOptions o;
  o.batch_size = 4;
  o.num_workers = 2;
  o.bad_samples = BadSamplePolicy::kReplace;
  Loader replace(data, o);
  const std::vector<Batch> r = run_epoch(replace, 0);
  REQUIRE(r.size() == 3);
  for (const Batch& b : r) CHECK(b.size() == 4);
  CHECK(replace.bad_samples().size() >= 2);
  const std::string report = replace.bad_sample_report();
  CHECK(report.find("list.csv:3 /data/clip2: cannot decode frame 3") != std::string::npos);
  CHECK(report.find("list.csv:10 /data/clip9") != std::string::npos);

  o.bad_samples = BadSamplePolicy::kDrop;
  Loader drop(data, o);
  const std::vector<Batch> d = run_epoch(drop, 0);
  int64_t total = 0;
  for (const Batch& b : d) total += b.size();
  CHECK(total == 10);
  CHECK(drop.bad_samples().size() == 2);
  CHECK(Loader(data, o).bad_sample_report().empty());

  // Everything broken: replacement gives up with an error instead of looping.
  auto broken = noise_dataset(3, {0, 1, 2});
  o.bad_samples = BadSamplePolicy::kReplace;
  o.max_replacement_tries = 3;
  Loader hopeless(broken, o);
  hopeless.start_epoch(0);
  CHECK_THROWS_AS(hopeless.next(), dfer::Error);
}

TEST_CASE("collate stacks present fields and rejects partial ones") {
  Sample a, b;
  a.clip = torch::zeros({3, 2, 4, 4});
  b.clip = torch::ones({3, 2, 4, 4});
  a.mask = torch::zeros({8}, torch::kBool);
  b.mask = torch::ones({8}, torch::kBool);
  const Batch ok = collate({a, b});
  CHECK(ok.clips.sizes() == torch::IntArrayRef({2, 3, 2, 4, 4}));
  CHECK(ok.masks.sizes() == torch::IntArrayRef({2, 8}));
  CHECK_FALSE(ok.labels.defined());
  b.label = torch::tensor(int64_t{1});
  CHECK_THROWS_AS(collate({a, b}), dfer::Error);
  b.label = torch::Tensor();
  b.clip = torch::ones({3, 2, 4, 5});
  CHECK_THROWS_AS(collate({a, b}), dfer::Error);
}

TEST_CASE("clip dataset: modes, test views and the frame loader contract") {
  std::vector<dfer::io::AnnotationRow> rows;
  for (int i = 0; i < 3; ++i)
    rows.push_back({"/clips/" + std::to_string(i), i, {}, {}, std::size_t(i + 1)});
  rows[2].pitch = 0.25f;
  rows[2].yaw = -0.5f;
  std::atomic<int> calls{0};
  // 40-frame clips whose pixels encode the frame index.
  FrameLoader fake = [&calls](const dfer::io::AnnotationRow&, const IndexPicker& pick) {
    ++calls;
    const V idx = pick(40);
    torch::Tensor frames =
        torch::empty({static_cast<int64_t>(idx.size()), 24, 24, 3}, torch::kUInt8);
    for (size_t i = 0; i < idx.size(); ++i) frames[static_cast<int64_t>(i)].fill_(idx[i] * 6);
    return frames;
  };
  ClipDatasetOptions o;
  o.num_frames = 4;
  o.sampling_rate = 2;
  o.train.short_side_size = 20;
  o.train.input_size = 16;
  o.train.rand_augment = parse_rand_augment("rand-m7-n2-mstd0.5-inc1");
  o.train.erasing = RandomErasingOptions{};
  o.source = "train.csv";
  ClipDataset train(rows, fake, o);
  CHECK(train.size() == 3);
  CHECK(train.describe(1) == "train.csv:2 /clips/1");
  Rng rng(1);
  const Sample s = train.get(2, rng);
  CHECK(s.clip.sizes() == torch::IntArrayRef({3, 4, 16, 16}));
  CHECK(s.label.item<int64_t>() == 2);
  REQUIRE(s.target.defined());
  CHECK(s.target[1].item<float>() == -0.5f);
  CHECK_FALSE(train.get(0, rng).target.defined());

  o.mode = ClipMode::kTest;
  o.test_num_segment = 2;
  o.test_num_crop = 2;
  ClipDataset test(rows, fake, o);
  REQUIRE(test.size() == 12);
  // index = (segment * crops + crop) * rows + row.
  const Sample v = test.get(2 * 3 + 1, rng);
  CHECK(v.row == 1);
  CHECK(v.segment == 1);
  CHECK(v.crop == 0);
  CHECK(v.id == "/clips/1");
  CHECK(v.clip.sizes() == torch::IntArrayRef({3, 4, 20, 20}));
  // View 1 of 40 frames at rate 2: 20 sampled, start 16 -> frames 32 34 36 38.
  const float first = v.clip[0][0][0][0].item<float>();
  CHECK(first == Approx((32 * 6 / 255.0 - 0.485) / 0.229).epsilon(1e-4));

  o.mode = ClipMode::kPretrain;
  o.mask_generator = [](Rng& r) { return torch::rand({8}, torch_generator(r)) > 0.5; };
  o.pretrain.crop.output_size = 16;
  ClipDataset pre(rows, fake, o);
  const Sample p = pre.get(0, rng);
  CHECK(p.clip.sizes() == torch::IntArrayRef({3, 4, 16, 16}));
  CHECK(p.mask.sizes() == torch::IntArrayRef({8}));

  FrameLoader liar = [](const dfer::io::AnnotationRow&, const IndexPicker& pick) {
    pick(40);
    return torch::zeros({2, 8, 8, 3}, torch::kUInt8);
  };
  o.mode = ClipMode::kValidation;
  ClipDataset bad(rows, liar, o);
  CHECK_THROWS_AS(bad.get(0, rng), dfer::Error);
  CHECK_THROWS_AS(train.get(3, rng), dfer::Error);
  CHECK(calls.load() > 0);
}

TEST_CASE("short clips are sampled with repeats and reported once per process, not per sample") {
  std::vector<dfer::io::AnnotationRow> rows;
  for (int i = 0; i < 3; ++i) rows.push_back({"/clips/" + std::to_string(i), 0, {}, {}, 1u + i});
  const int64_t length[] = {40, 5, 3};  // the span is 4 x 2 = 8: clips 1 and 2 are short
  FrameLoader fake = [&length](const dfer::io::AnnotationRow& row, const IndexPicker& pick) {
    const V idx = pick(length[std::stoi(row.path.substr(7))]);
    return torch::zeros({static_cast<int64_t>(idx.size()), 16, 16, 3}, torch::kUInt8);
  };
  ClipDatasetOptions o;
  o.num_frames = 4;
  o.sampling_rate = 2;
  o.mode = ClipMode::kValidation;
  o.train.short_side_size = 16;
  o.train.input_size = 16;
  o.source = "val.csv";
  ClipDataset ds(rows, fake, o);

  std::ostringstream log;
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_st>(log));
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  const int64_t before = short_clip_reads();
  Rng rng(3);
  for (int pass = 0; pass < 3; ++pass)
    for (int64_t i = 0; i < ds.size(); ++i) CHECK(ds.get(i, rng).clip.size(1) == 4);
  spdlog::set_default_logger(previous);

  CHECK(short_clip_reads() - before == 6);  // 2 short clips x 3 passes
  std::size_t lines = 0;
  for (std::size_t at = log.str().find("fewer than"); at != std::string::npos;
       at = log.str().find("fewer than", at + 1))
    ++lines;
  if (before == 0) {  // the first short read of this process: the one warning, naming the clip
    CHECK(lines == 1);
    CHECK_THAT(log.str(), Catch::Contains("val.csv:2 /clips/1: 5 frames, fewer than the 8"));
  } else {
    CHECK(lines == 0);
  }
}

TEST_CASE("make_frame_loader reads real frame folders, relative to the annotation file") {
  const auto dir = dfer::test::temp_dir("data_loader_frames");
  std::filesystem::create_directories(dir / "clip");
  for (int i = 0; i < 12; ++i) {
    cv::Mat img(10, 12, CV_8UC3, cv::Scalar(0, 0, i * 20));  // BGR: red grows with the index
    char name[32];
    std::snprintf(name, sizeof(name), "%05d.png", i);
    REQUIRE(cv::imwrite((dir / "clip" / name).string(), img));
  }
  const std::string list = (dir / "train.csv").string();
  std::ofstream(list) << "clip 0\n";
  const FrameLoader loader = make_frame_loader(list, 8, 8);
  int64_t seen = 0;
  const torch::Tensor frames = loader({"clip", 0, {}, {}, 1}, [&](int64_t n) {
    seen = n;
    return V{0, 11, 11, 5};
  });
  CHECK(seen == 12);
  REQUIRE(frames.sizes() == torch::IntArrayRef({4, 8, 8, 3}));
  CHECK(frames[1][3][3][0].item<int>() == 220);  // RGB order: red first
  CHECK(frames[3][0][0][0].item<int>() == 100);
  CHECK_THROWS_AS(loader({"missing", 0, {}, {}, 2}, [](int64_t) { return V{0}; }), dfer::Error);
}

TEST_CASE("uneven shards: no padding, every sample once over the ranks", "[data][loader]") {
  using V = std::vector<int64_t>;
  CHECK(distributed_indices(7, 2, 0, false, 0, 0, false, true) == V{0, 2, 4, 6});
  CHECK(distributed_indices(7, 2, 1, false, 0, 0, false, true) == V{1, 3, 5});
  CHECK(distributed_indices(2, 3, 2, false, 0, 0, false, true).empty());
}
