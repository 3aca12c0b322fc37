// The reference clip datasets over annotation rows (see dataset.h).
#include "dfer/data/dataset.h"

#include <spdlog/spdlog.h>

#include <atomic>

#include "dfer/data/sampling.h"
#include "dfer/util/error.h"

namespace dfer::data {

namespace {
// A real dataset holds many short clips (DFEW's shortest have 16 frames, the span at rate 4 is
// 64): one line per run says so, one per sample would bury the log.
std::atomic<int64_t> g_short_reads{0};
}  // namespace

int64_t short_clip_reads() {
  return g_short_reads.load();
}

ClipDataset::ClipDataset(std::vector<io::AnnotationRow> rows, FrameLoader loader,
                         ClipDatasetOptions options)
    : rows_(std::move(rows)), loader_(std::move(loader)), options_(std::move(options)) {
  if (!loader_) throw Error("ClipDataset: no frame loader given");
  if (options_.num_frames < 1 || options_.sampling_rate < 1 || options_.num_segments < 1 ||
      options_.test_num_segment < 1 || options_.test_num_crop < 1) {
    throw UsageError(
        "clip dataset: num_frames, sampling_rate, num_segments, test_num_segment and "
        "test_num_crop must all be >= 1");
  }
}

int64_t ClipDataset::num_views() const {
  return options_.mode == ClipMode::kTest ? options_.test_num_segment * options_.test_num_crop : 1;
}

int64_t ClipDataset::size() const {
  return static_cast<int64_t>(rows_.size()) * num_views();
}

std::string ClipDataset::describe(int64_t index) const {
  const int64_t n = static_cast<int64_t>(rows_.size());
  if (index < 0 || n == 0 || index >= size()) return "sample " + std::to_string(index);
  const io::AnnotationRow& row = rows_[static_cast<size_t>(index % n)];
  const std::string where = options_.source.empty() ? std::string("line") : options_.source;
  return where + ":" + std::to_string(row.line) + " " + row.path;
}

std::vector<int64_t> ClipDataset::pick(int64_t num_frames, int64_t segment, Rng& rng) const {
  const ClipDatasetOptions& o = options_;
  switch (o.mode) {
    case ClipMode::kTrain:
    case ClipMode::kValidation:
      return train_clip_indices(num_frames, o.num_frames, o.sampling_rate, rng, o.num_segments);
    case ClipMode::kTest:
      return test_view_indices(num_frames, o.sampling_rate, o.num_frames, o.test_num_segment,
                               segment);
    case ClipMode::kPretrain:
      return pretrain_clip_indices(num_frames, o.num_frames, o.sampling_rate, rng, o.num_segments);
  }
  return {};
}

Sample ClipDataset::get(int64_t index, Rng& rng) const {
  if (index < 0 || index >= size()) {
    throw Error("ClipDataset: index " + std::to_string(index) + " outside [0, " +
                std::to_string(size()) + ")");
  }
  const int64_t n = static_cast<int64_t>(rows_.size());
  Sample s;
  s.index = index;
  s.row = index % n;
  const int64_t view = index / n;
  s.segment = view / options_.test_num_crop;
  s.crop = view % options_.test_num_crop;
  const io::AnnotationRow& row = rows_[static_cast<size_t>(s.row)];
  s.id = row.path;

  size_t picked = 0;
  const torch::Tensor frames = loader_(row, [&](int64_t num_frames) {
    const int64_t span = options_.num_frames * options_.sampling_rate;
    if (num_frames < span && g_short_reads.fetch_add(1) == 0)
      spdlog::warn(
          "{}: {} frames, fewer than the {} one clip spans (num_frames {} x sampling_rate {}); "
          "such clips are sampled with repeated frames, as the reference does (said once per "
          "run)",
          describe(index), num_frames, span, options_.num_frames, options_.sampling_rate);
    std::vector<int64_t> indices = pick(num_frames, s.segment, rng);
    picked = indices.size();
    return indices;
  });
  check_uint8_clip(frames, "frame loader output");
  if (static_cast<size_t>(frames.size(0)) != picked) {
    throw Error("frame loader returned " + std::to_string(frames.size(0)) + " frames, " +
                std::to_string(picked) + " were asked for");
  }

  const TrainAugmentOptions& t = options_.train;
  switch (options_.mode) {
    case ClipMode::kTrain:
      s.clip = train_transform(frames, t, rng);
      break;
    case ClipMode::kValidation:
      s.clip = eval_transform(frames, t.short_side_size, t.input_size);
      break;
    case ClipMode::kTest:
      s.clip = test_transform(frames, t.short_side_size, options_.test_num_crop, s.crop);
      break;
    case ClipMode::kPretrain:
      s.clip = pretrain_transform(frames, options_.pretrain, rng);
      if (options_.mask_generator) s.mask = options_.mask_generator(rng);
      break;
  }
  s.label = torch::tensor(static_cast<int64_t>(row.label), torch::kLong);
  if (row.pitch && row.yaw) s.target = torch::tensor({*row.pitch, *row.yaw}, torch::kFloat32);
  return s;
}

FunctionDataset::FunctionDataset(int64_t size, Getter get, Describer describe)
    : size_(size), get_(std::move(get)), describe_(std::move(describe)) {
  if (size_ < 0 || !get_) throw Error("FunctionDataset: needs a size >= 0 and a getter");
}

Sample FunctionDataset::get(int64_t index, Rng& rng) const {
  Sample s = get_(index, rng);
  if (s.index < 0) s.index = index;
  return s;
}

std::string FunctionDataset::describe(int64_t index) const {
  return describe_ ? describe_(index) : Dataset::describe(index);
}

}  // namespace dfer::data
