// Per-sequence frame-CSV clip datasets (see sequence_dataset.h; SPEC-later b).
#include "dfer/data/sequence_dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "dfer/data/frame_source.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::data {

FrameSequence read_frame_sequence(const std::string& csv_file, int num_classes) {
  FrameSequence seq{csv_file,
                    io::read_annotations(csv_file, num_classes, io::AnnotationColumns::kGaze)};
  for (auto& r : seq.frames) r.path = resolve_clip_path(csv_file, r.path);
  return seq;
}

std::vector<FrameSequence> read_sequence_folder(const std::string& folder, int num_classes) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw UsageError("sequence folder '" + folder + "' does not exist or is not a folder");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(folder)) {
    if (e.is_regular_file() && e.path().extension() == ".csv") files.push_back(e.path().string());
  }
  if (files.empty()) throw UsageError("sequence folder '" + folder + "' holds no *.csv file");
  std::sort(files.begin(), files.end());
  std::vector<FrameSequence> out;
  out.reserve(files.size());
  for (const auto& f : files) out.push_back(read_frame_sequence(f, num_classes));
  return out;
}

SequenceClipDataset::SequenceClipDataset(std::vector<FrameSequence> sequences,
                                         SequenceDatasetOptions options)
    : sequences_(std::move(sequences)), options_(std::move(options)) {
  const auto& o = options_;
  if (o.num_frames <= 0 || o.sampling_rate <= 0 || o.clip_stride <= 0)
    throw UsageError(
        "sequence dataset: num_frames, sampling_rate and clip_stride must be positive");
  const int64_t span = o.num_frames * o.sampling_rate;
  Rng rng(o.seed);
  for (int64_t s = 0; s < static_cast<int64_t>(sequences_.size()); ++s) {
    const int64_t len = static_cast<int64_t>(sequences_[s].frames.size());
    // The reference's range(0, len - span + 1, stride): a sequence of exactly `span` frames gives
    // one clip; a shorter one none.
    if (len < span) {
      ++skipped_;
      continue;
    }
    if (o.clip_stride == 999) {
      clips_.push_back({s, static_cast<int64_t>(rng() % static_cast<uint64_t>(len - span + 1))});
      continue;
    }
    for (int64_t start = 0; start + span <= len; start += o.clip_stride)
      clips_.push_back({s, start});
  }
  if (clips_.empty())
    throw UsageError(
        fmt::format("sequence dataset: none of the {} sequences has the {} frames one clip needs "
                    "(num_frames {} x sampling_rate {})",
                    sequences_.size(), span, o.num_frames, o.sampling_rate));
}

std::vector<int64_t> SequenceClipDataset::frame_indices(int64_t index) const {
  const auto& c = clips_.at(static_cast<size_t>(index));
  std::vector<int64_t> idx(static_cast<size_t>(options_.num_frames));
  for (int64_t k = 0; k < options_.num_frames; ++k) idx[k] = c.start + k * options_.sampling_rate;
  return idx;
}

Sample SequenceClipDataset::get(int64_t index, Rng& rng) const {
  const auto& c = clips_.at(static_cast<size_t>(index));
  const auto& seq = sequences_[c.sequence];
  const auto idx = frame_indices(index);
  const auto& o = options_;
  const int side =
      o.decode_size > 0 ? o.decode_size : static_cast<int>(o.train_augment.short_side_size);
  std::vector<torch::Tensor> frames;
  frames.reserve(idx.size());
  for (int64_t i : idx) {
    const auto& row = seq.frames[i];
    try {
      frames.push_back(read_image_rgb(row.path, side, side));
    } catch (const Error& e) {
      throw Error(fmt::format("{}:{}: {}", seq.file, row.line, e.what()), e.kind());
    }
  }
  const auto stacked = torch::stack(frames);  // [T, H, W, 3]
  Sample s;
  bool flipped = false;
  s.clip = o.train ? train_transform(stacked, o.train_augment, rng, &flipped)
                   : resize_eval_transform(stacked, o.train_augment.short_side_size,
                                           o.train_augment.input_size);
  const float yaw_sign = flipped ? -1.0f : 1.0f;  // a mirrored face looks the other way
  const int64_t T = static_cast<int64_t>(idx.size());
  auto labels = torch::empty({T}, torch::kLong);
  auto gaze = torch::empty({T, 2}, torch::kFloat);
  auto lp = labels.accessor<int64_t, 1>();
  auto gp = gaze.accessor<float, 2>();
  for (int64_t k = 0; k < T; ++k) {
    const auto& row = seq.frames[idx[k]];
    lp[k] = row.label;
    gp[k][0] = row.pitch.value_or(0.0f);
    gp[k][1] = yaw_sign * row.yaw.value_or(0.0f);
  }
  if (o.per_frame) {
    s.label = labels;
    s.target = gaze;
  } else {  // the reference keeps the last frame's row
    s.label = labels[T - 1].clone();
    s.target = gaze[T - 1].clone();
  }
  s.index = index;
  s.row = c.sequence;
  s.segment = c.start;
  s.id = seq.file;
  return s;
}

std::string SequenceClipDataset::describe(int64_t index) const {
  const auto& c = clips_.at(static_cast<size_t>(index));
  return fmt::format("{} (frames {}..)", sequences_[c.sequence].file, c.start);
}

}  // namespace dfer::data
