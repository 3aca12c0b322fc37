// The per-sequence frame-CSV datasets of the later reference (VideoRegDatasetFrame, SPEC-later b):
// a folder of CSVs, one per continuous frame sequence, one row per frame
// `frame_path pitch yaw` (gaze) or `frame_path class pitch yaw` (combine), clips of num_frames
// frames taken every clip_stride frames, labels per frame.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dfer/data/dataset.h"
#include "dfer/data/pipeline.h"
#include "dfer/io/csv.h"

namespace dfer::data {

struct FrameSequence {
  std::string file;
  std::vector<io::AnnotationRow> frames;  // paths resolved against the CSV's folder
};

// Reads one sequence CSV (io::read_annotations with AnnotationColumns::kGaze): rows
// `path pitch yaw` or `path class pitch yaw`; classes in [0, num_classes) when num_classes > 0;
// gaze finite radians in range. Errors are dfer::UsageError naming file:line.
FrameSequence read_frame_sequence(const std::string& csv_file, int num_classes);

// Every *.csv of `folder` in sorted order (the reference's sorted glob). Throws UsageError when
// the folder is missing or holds no CSV.
std::vector<FrameSequence> read_sequence_folder(const std::string& folder, int num_classes);

struct SequenceDatasetOptions {
  bool train = true;  // train augmentation, else the resize-only validation transform
  int64_t num_frames = 16;
  int64_t sampling_rate = 1;
  // Clip starts 0, stride, 2 stride, ... up to len - num_frames * sampling_rate; 999 picks one
  // random start per sequence, once, from `seed` (the reference's convention).
  int64_t clip_stride = 1;
  uint64_t seed = 0;
  bool per_frame = false;  // labels of every frame (keep_temporal_dim), else of the last frame
  // train chain (crop scale [0.8, 1] for these datasets); short_side_size / input_size also for
  // validation. A horizontal flip (flip_prob > 0) negates yaw, which the reference forgets.
  TrainAugmentOptions train_augment;
  int decode_size = 0;  // frames decoded at decode_size^2 (0: short_side_size)
};

// One clip per (sequence, start). Samples: clip [3, T, H, W]; per_frame: label int64 [T] and
// target float [T, 2] (pitch, yaw); else label int64 scalar and target [2] of the clip's last
// frame. id = the CSV file (per-video metrics group by it), row = sequence index, segment = start.
class SequenceClipDataset : public Dataset {
 public:
  SequenceClipDataset(std::vector<FrameSequence> sequences, SequenceDatasetOptions options);

  int64_t size() const override { return static_cast<int64_t>(clips_.size()); }
  Sample get(int64_t index, Rng& rng) const override;
  std::string describe(int64_t index) const override;

  const std::vector<FrameSequence>& sequences() const { return sequences_; }
  int64_t skipped_sequences() const { return skipped_; }  // shorter than one clip
  // Frame indices (into its sequence) of clip `index`.
  std::vector<int64_t> frame_indices(int64_t index) const;

 private:
  struct Clip {
    int64_t sequence, start;
  };
  std::vector<FrameSequence> sequences_;
  SequenceDatasetOptions options_;
  std::vector<Clip> clips_;
  int64_t skipped_ = 0;
};

}  // namespace dfer::data
