// Evaluation of the gaze-regression and combined emotion + gaze models: loss, mean angular error
// and (combine) UAR / WAR, per frame and per video (a video = one sequence CSV), against the
// trivial baselines (the training set's mean gaze; chance and majority class).
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

#include "dfer/config/config.h"
#include "dfer/data/loader.h"
#include "dfer/models/spec.h"
#include "dfer/train/evaluate.h"
#include "dfer/train/gaze_losses.h"
#include "dfer/train/metrics.h"
#include "dfer/train/precision.h"

namespace dfer::train {

// What the model output means and how it is scored (filled once by the engine).
struct GazeTask {
  models::ModelSpec spec;  // heads: (reg, cls) for combine, (pitch, yaw) for L2CS
  bool combine = false;
  bool l2cs = false;
  L2csOptions l2cs_options;
  double combine_alpha = 1.0;
  int64_t num_classes = 0;  // combine: classes of the cls head
};

// The task the config describes (gaze.*, training.combine_loss_alpha, data.num_classes_cls) for
// a model built from `spec`; L2CS only for regression.
GazeTask gaze_task_from_config(const Config& cfg, const models::ModelSpec& spec, bool combine);

// Loss of a batch: MSE or L2CS (regression), alpha CE + MSE (combine). `output` is the model's
// concatenated head output [B, (T,) outputs]; labels [B(, T)], target [B, (T,) 2].
torch::Tensor gaze_task_loss(const GazeTask& task, const torch::Tensor& output,
                             const torch::Tensor& labels, const torch::Tensor& target);

// Predicted (pitch, yaw) [..., 2] and, for combine, class logits [..., C] of an output.
torch::Tensor predicted_gaze(const GazeTask& task, const torch::Tensor& output);
torch::Tensor class_logits(const GazeTask& task, const torch::Tensor& output);

struct GazeEvalResult {
  double loss = 0;
  int64_t frames = 0, videos = 0;     // scored positions (frames, or clips without per-frame
                                      // output) and distinct videos
  double angular_error = 0;           // mean over positions, degrees
  double video_angular_error = 0;     // mean over videos of each video's mean
  double baseline_angular_error = 0;  // predicting the training mean gaze everywhere
  ClassificationMetrics frame_metrics, video_metrics;  // combine only
  // Per video: id, positions, mean error, label (most frequent), prediction (mean softmax).
  struct Video {
    std::string id;
    int64_t positions = 0;
    double angular_error = 0;
    int64_t label = -1, prediction = -1;
  };
  std::vector<Video> per_video;
  // {"loss", "mean_angle_error", "video_mean_angle_error", "baseline_angle_error", and for
  // combine acc1, uar, war, ..., video_uar, video_war} with `prefix`.
  nlohmann::json to_json(const std::string& prefix) const;
};

// One pass over `loader` without gradient. `mean_gaze` = (pitch, yaw) of the baseline.
GazeEvalResult evaluate_gaze(const LogitsFn& model, data::Loader& loader, int64_t epoch,
                             const GazeTask& task, const EvalOptions& options,
                             std::array<double, 2> mean_gaze);

// "video,positions,angular_error_deg[,label,prediction]" with a header line.
void write_gaze_video_csv(const std::string& path, const GazeEvalResult& result, bool combine);

}  // namespace dfer::train
