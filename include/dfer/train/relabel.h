// Relabelling with a trained gaze model (the later reference's relbl_with_gaze, SPEC-later c.4):
// every frame of an emotion dataset's per-video frame CSVs gets the model's (pitch, yaw), written
// as `frame_path label pitch yaw` CSVs that dfer-combine reads directly.
#pragma once

#include <cstdint>
#include <string>

namespace dfer::train {

struct RelabelOptions {
  std::string config;   // the gaze run's effective config (its output folder's config.yaml)
  std::string weights;  // its weights (checkpoint-best.safetensors or any weights file)
  std::string in_dir;   // per-video CSVs, rows `frame_path label [pitch yaw]` (old gaze replaced)
  std::string out_dir;  // same file names, rows `frame_path label pitch yaw`
  std::string device = "cpu";
  int64_t batch_size = 16;  // windows per forward pass
};

struct RelabelSummary {
  int64_t files = 0, frames = 0, windows = 0;
  int64_t padded_files = 0;  // shorter than one window: padded with their last frame
};

// Windows of num_frames consecutive frames (stride num_frames; the last window is aligned to the
// end so the tail is labelled too, where the reference drops it); frames decoded as the
// validation pipeline does (RGB; the reference's relabel script fed OpenCV's BGR to an RGB-trained
// model); windows batched on the device. A model with per-frame output labels each frame; a
// per-clip model's prediction is given to every frame of its window. Throws dfer::UsageError for
// a config that is not a regression model, and names file:line for bad rows.
RelabelSummary relabel_with_gaze(const RelabelOptions& options);

}  // namespace dfer::train
