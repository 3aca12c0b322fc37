// Gaze / combine evaluation (see gaze_evaluate.h).
#include "dfer/train/gaze_evaluate.h"

#include <fmt/format.h>

#include <map>
#include <sstream>

#include "dfer/io/atomic_file.h"
#include "dfer/models/vision_transformer.h"
#include "dfer/train/eval_records.h"
#include "dfer/util/error.h"

namespace dfer::train {

GazeTask gaze_task_from_config(const Config& cfg, const models::ModelSpec& spec, bool combine) {
  GazeTask t;
  t.spec = spec;
  t.combine = combine;
  t.l2cs = !combine && cfg.get_bool("gaze.use_l2cs");
  t.l2cs_options.num_bins = cfg.get_int("gaze.num_bins");
  t.l2cs_options.bin_width_deg = cfg.get_float("gaze.bin_width");
  t.l2cs_options.alpha_reg = cfg.get_float("gaze.alpha_reg");
  t.combine_alpha = cfg.get_float("training.combine_loss_alpha");
  t.num_classes = combine ? cfg.get_int("data.num_classes_cls") : 0;
  return t;
}

torch::Tensor predicted_gaze(const GazeTask& task, const torch::Tensor& output) {
  if (task.combine) return decode_gaze(models::split_heads(task.spec, output)[0], false, {});
  return decode_gaze(output, task.l2cs, task.l2cs_options);
}

torch::Tensor class_logits(const GazeTask& task, const torch::Tensor& output) {
  if (!task.combine) throw Error("class logits of a regression model");
  return models::split_heads(task.spec, output)[1];
}

torch::Tensor gaze_task_loss(const GazeTask& task, const torch::Tensor& output,
                             const torch::Tensor& labels, const torch::Tensor& target) {
  if (task.combine) {
    const auto parts = models::split_heads(task.spec, output);
    return combine_loss(parts[1], labels, parts[0], target, task.combine_alpha);
  }
  if (task.l2cs) return l2cs_loss(output, target, task.l2cs_options);
  return gaze_mse(output, target);
}

nlohmann::json GazeEvalResult::to_json(const std::string& p) const {
  nlohmann::json j = {{p + "loss", loss},
                      {p + "mean_angle_error", angular_error},
                      {p + "video_mean_angle_error", video_angular_error},
                      {p + "baseline_angle_error", baseline_angular_error},
                      {p + "frames", frames},
                      {p + "videos", videos}};
  if (frame_metrics.num_classes > 0) {
    j.update(frame_metrics.to_json(p));
    j[p + "video_uar"] = video_metrics.uar;
    j[p + "video_war"] = video_metrics.war;
  }
  return j;
}

GazeEvalResult evaluate_gaze(const LogitsFn& model, data::Loader& loader, int64_t epoch,
                             const GazeTask& task, const EvalOptions& options,
                             std::array<double, 2> mean_gaze) {
  // Every clip of every rank at once, in dataset order (eval_records.h).
  const EvalSet all = evaluate_outputs(
      model, loader, epoch, options, [](const data::Batch& b, const torch::Tensor&) {
        if (!b.targets.defined()) throw Error("gaze evaluation: the data has no gaze targets");
      });
  if (all.size() == 0) throw Error("gaze evaluation: the validation data gave no clip");
  struct Acc {
    int64_t n = 0;
    double err = 0;
    std::vector<double> prob;
    std::map<int64_t, int64_t> label_count;
  };
  std::map<std::string, Acc> videos;
  std::vector<int64_t> labels, preds;
  std::vector<float> scores;
  const torch::Tensor out = all.outputs;
  const auto target = all.targets.to(torch::kFloat);
  const auto y = all.labels.defined() ? all.labels : torch::zeros({all.size()}, torch::kLong);
  const int64_t B = all.size();
  // Per position (frame or clip): [B, P] errors, P = 1 without per-frame output.
  auto err = angular_error_deg(predicted_gaze(task, out), target).reshape({B, -1});
  auto base_pred = torch::tensor({mean_gaze[0], mean_gaze[1]}, torch::kDouble).expand_as(target);
  const double base_sum = angular_error_deg(base_pred, target).sum().item<double>();
  const double err_sum = err.sum().item<double>();
  const int64_t positions = err.numel();
  // Accessors over CPU tensors: per-element item() calls would dominate a large validation.
  err = err.contiguous();
  const auto err_a = err.accessor<double, 2>();
  const int64_t P = err.size(1);
  torch::Tensor prob, lab;
  if (task.combine) {
    auto logits = class_logits(task, out).reshape({B, P, task.num_classes});
    prob = torch::softmax(logits, -1).sum(1).to(torch::kDouble).contiguous();  // (B, C)
    lab = y.reshape({B, P}).contiguous();
    auto flat = logits.reshape({-1, task.num_classes}).contiguous();
    auto p = flat.argmax(1).contiguous();
    preds.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel());
    labels.assign(lab.data_ptr<int64_t>(), lab.data_ptr<int64_t>() + lab.numel());
    scores.assign(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
  }
  const double* pp = task.combine ? prob.data_ptr<double>() : nullptr;   // (B, C) contiguous
  const int64_t* lp = task.combine ? lab.data_ptr<int64_t>() : nullptr;  // (B, P) contiguous
  for (int64_t b = 0; b < B; ++b) {
    auto& v = videos[all.ids.at(static_cast<size_t>(b))];
    v.n += P;
    for (int64_t t = 0; t < P; ++t) v.err += err_a[b][t];
    if (!task.combine) continue;
    if (v.prob.empty()) v.prob.assign(task.num_classes, 0.0);
    for (int64_t k = 0; k < task.num_classes; ++k) v.prob[k] += pp[b * task.num_classes + k];
    for (int64_t t = 0; t < P; ++t) ++v.label_count[lp[b * P + t]];
  }
  GazeEvalResult r;
  r.loss = gaze_task_loss(task, out, y, target).item<double>();
  r.frames = positions;
  r.videos = static_cast<int64_t>(videos.size());
  r.angular_error = err_sum / positions;
  r.baseline_angular_error = base_sum / positions;
  std::vector<int64_t> vl, vp;
  for (const auto& [id, v] : videos) {
    GazeEvalResult::Video out{id, v.n, v.err / v.n, -1, -1};
    r.video_angular_error += out.angular_error / r.videos;
    if (task.combine) {
      int64_t best = -1;
      for (const auto& [label, count] : v.label_count)
        if (best < 0 || count > v.label_count.at(best)) best = label;
      out.label = best;
      out.prediction = std::max_element(v.prob.begin(), v.prob.end()) - v.prob.begin();
      vl.push_back(out.label);
      vp.push_back(out.prediction);
    }
    r.per_video.push_back(std::move(out));
  }
  if (task.combine) {
    r.frame_metrics = compute_classification_metrics(labels, preds, task.num_classes, scores);
    r.video_metrics = compute_classification_metrics(vl, vp, task.num_classes);
  }
  return r;
}

void write_gaze_video_csv(const std::string& path, const GazeEvalResult& r, bool combine) {
  io::write_file_atomic(path, [&](std::ostream& os) {
    os << "video,positions,angular_error_deg" << (combine ? ",label,prediction" : "") << "\n";
    for (const auto& v : r.per_video) {
      os << v.id << ',' << v.positions << ',' << fmt::format("{:.4f}", v.angular_error);
      if (combine) os << ',' << v.label << ',' << v.prediction;
      os << "\n";
    }
  });
}

}  // namespace dfer::train
