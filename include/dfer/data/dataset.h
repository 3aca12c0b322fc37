// Datasets: a sample interface the loader draws from, and the clip dataset of the reference
// (annotation rows + a frame loader + the train / validation / test / pre-training chains).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "dfer/data/pipeline.h"
#include "dfer/data/random.h"
#include "dfer/io/csv.h"

namespace dfer::data {

// One item as the trainer sees it.
struct Sample {
  torch::Tensor clip;    // float [C, T, H, W], normalised
  torch::Tensor label;   // int64 scalar class; undefined when the dataset has none
  torch::Tensor target;  // float regression target (e.g. [pitch, yaw]); undefined when none
  torch::Tensor mask;    // pre-training token mask, bool [N]; undefined otherwise
  int64_t index = -1;    // dataset index
  int64_t row = -1;      // annotation row (test views map several indices to one row)
  int64_t segment = 0;   // test temporal view
  int64_t crop = 0;      // test spatial view
  std::string id;        // the clip path: what the test merge groups views by
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Sample `index`; every random choice from `rng`. Called from several worker threads at once.
  virtual Sample get(int64_t index, Rng& rng) const = 0;
  // Where sample `index` comes from, for messages ("train.csv:12 /data/clip").
  virtual std::string describe(int64_t index) const { return "sample " + std::to_string(index); }
};

// Given a clip's frame count, the frame indices to decode.
using IndexPicker = std::function<std::vector<int64_t>(int64_t num_frames)>;

// Opens the clip of `row`, calls `pick(num_frames)` once and returns the picked frames as uint8
// [T, H, W, 3] in that order. Called from several threads at once.
using FrameLoader =
    std::function<torch::Tensor(const io::AnnotationRow& row, const IndexPicker& pick)>;

// FrameLoader over open_frame_source (frame_source.h): row paths resolved against the folder of
// `annotation_file`, frames resized to out_h x out_w by the source (0, 0 = stored size; use 0
// for pre-training, whose fixed window is cut from the stored frames).
FrameLoader make_frame_loader(const std::string& annotation_file, int out_h, int out_w);

// Clips with fewer frames than num_frames x sampling_rate are sampled as the reference samples
// them (spread over the clip, frames repeating). The first such read of a process is reported by
// one warning naming the clip; later ones only count. Returns the short reads so far (all datasets
// of the process).
int64_t short_clip_reads();

enum class ClipMode { kTrain, kValidation, kTest, kPretrain };

struct ClipDatasetOptions {
  ClipMode mode = ClipMode::kTrain;
  int64_t num_frames = 16;
  int64_t sampling_rate = 4;
  int64_t num_segments = 1;      // temporal segments per clip (all modes but test)
  int64_t test_num_segment = 2;  // test temporal views
  int64_t test_num_crop = 2;     // test spatial views
  TrainAugmentOptions train;     // train chain; short_side_size / input_size also for val, test
  PretrainAugmentOptions pretrain;
  // Pre-training: one token mask per sample, e.g. [gen](Rng& r) { return draw_mask(*gen, r()); }.
  std::function<torch::Tensor(Rng&)> mask_generator;
  std::string source;  // the annotation file, for messages
};

// The reference's frame / video clip datasets:
//  train:      train_clip_indices (random window) -> train_transform;
//  validation: train_clip_indices (random window, as the reference) -> eval_transform;
//  test:       size rows * test_num_segment * test_num_crop, index = (segment * crops + crop) *
//              rows + row (the reference's order) -> test_view_indices -> test_transform;
//  pretrain:   pretrain_clip_indices -> pretrain_transform, plus mask_generator's mask.
// Rows with pitch and yaw also get target = [pitch, yaw].
class ClipDataset : public Dataset {
 public:
  ClipDataset(std::vector<io::AnnotationRow> rows, FrameLoader loader, ClipDatasetOptions options);

  int64_t size() const override;
  Sample get(int64_t index, Rng& rng) const override;
  std::string describe(int64_t index) const override;

  const std::vector<io::AnnotationRow>& rows() const { return rows_; }
  const ClipDatasetOptions& options() const { return options_; }
  int64_t num_views() const;  // test_num_segment * test_num_crop in test mode, else 1

 private:
  std::vector<int64_t> pick(int64_t num_frames, int64_t segment, Rng& rng) const;

  std::vector<io::AnnotationRow> rows_;
  FrameLoader loader_;
  ClipDatasetOptions options_;
};

// A dataset made of a function (tests, small custom datasets).
class FunctionDataset : public Dataset {
 public:
  using Getter = std::function<Sample(int64_t index, Rng& rng)>;
  using Describer = std::function<std::string(int64_t index)>;
  FunctionDataset(int64_t size, Getter get, Describer describe = {});

  int64_t size() const override { return size_; }
  Sample get(int64_t index, Rng& rng) const override;
  std::string describe(int64_t index) const override;

 private:
  int64_t size_;
  Getter get_;
  Describer describe_;
};

}  // namespace dfer::data
