// Internal: the plan of one synthetic clip (identity, per-frame states, scene) and its renderer.
#pragma once

#include <opencv2/core.hpp>

#include <vector>

#include "dfer/data/synth.h"
#include "synth_face.h"

namespace dfer::data::detail {

struct ClipPlan {
  int label = 0;
  int size = 112;
  FaceIdentity id;
  std::vector<FaceState> states;  // one per frame
  std::vector<float> pitch, yaw;  // gaze labels per frame (head + eye-in-head), radians
  std::vector<float> intensity;   // expression envelope x apex intensity
  int onset = 0, apex_begin = 0, apex_end = 0, offset_end = 0;
  double apex_intensity = 0;
  // Scene: background (drawn once), lighting, blur and sensor noise.
  cv::Mat background;           // BGR at output size (the drawing canvas)
  cv::Mat shading;              // CV_32FC3 at output size: per-pixel light gain
  std::vector<double> flicker;  // per-frame global gain
  double blur_sigma = 0, noise_sigma = 0;
  uint64_t noise_seed = 0;  // per-frame noise window offsets
  cv::Mat noise;            // CV_32FC3, 2x the output size: the clip's noise field
};

// Plans clip `index` of a dataset with `options.seed` and the given label. Deterministic.
ClipPlan plan_clip(const SynthOptions& options, int64_t index, int label);

// Renders frame t of a plan: BGR, options.size square.
cv::Mat render_frame(const ClipPlan& plan, int t);

}  // namespace dfer::data::detail
