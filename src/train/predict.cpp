// dfer-predict's driver (predict.h): inputs -> face crops -> sliding windows -> the model.
#include "dfer/train/predict.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <opencv2/videoio.hpp>

#include <algorithm>
#include <filesystem>

#include "dfer/config/config.h"
#include "dfer/data/face_boxes.h"
#include "dfer/data/pipeline.h"
#include "dfer/io/csv.h"
#include "dfer/models/build.h"
#include "dfer/models/vision_transformer.h"
#include "dfer/models/weights.h"
#include "dfer/train/checkpoint.h"
#include "dfer/train/gaze_evaluate.h"
#include "dfer/train/metrics.h"
#include "dfer/train/model_factory.h"
#include "dfer/train/precision.h"
#include "dfer/train/progress.h"
#include "dfer/train/task.h"
#include "dfer/util/error.h"
#include "predict_internal.h"

namespace fs = std::filesystem;

namespace dfer::train {

namespace {

// The inputs as clips: a CSV list stands for its rows (paths relative to the list's folder).
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> clips;
  for (const auto& in : inputs) {
    if (fs::path(in).extension() == ".csv" && fs::is_regular_file(in)) {
      for (const auto& row : io::read_annotations(in, 0))
        clips.push_back(data::resolve_clip_path(in, row.path));
      continue;
    }
    clips.push_back(in);
  }
  if (clips.empty())
    throw UsageError("dfer-predict: no input (give video files, frame folders or CSV lists)");
  return clips;
}

double fps_of(const std::string& clip, double folder_fps) {
  if (fs::is_directory(clip)) return folder_fps;
  cv::VideoCapture cap(clip);
  const double fps = cap.isOpened() ? cap.get(cv::CAP_PROP_FPS) : 0.0;
  return fps > 0 && fps < 1000 ? fps : folder_fps;  // some containers report 0 or garbage
}

// Window starts every `stride` frames, and one more so the last frames are covered; a clip
// shorter than the span gets one window (its indices clamp to the last frame, as training does).
std::vector<int64_t> window_starts(int64_t frames, int64_t span, int64_t stride) {
  std::vector<int64_t> s = {0};
  while (s.back() + span < frames) s.push_back(std::min(s.back() + stride, frames - span));
  return s;
}

struct Model {
  Config cfg;
  models::ModelSpec spec;
  models::ClipClassifier model;
  Task task = Task::kFinetune;
  GazeTask gaze;
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  int64_t short_side = 0, rate = 1;
};

Model load_model(const PredictOptions& o) {
  Model m;
  m.cfg.load_yaml_file(o.config);
  const std::string task = m.cfg.get_string("data.task");
  m.task = task == "regression" ? Task::kGaze360
           : task == "combine"  ? Task::kCombine
                                : Task::kFinetune;
  adapt_config_to_task(m.cfg, m.task);
  m.spec = model_spec_from_config(m.cfg);
  m.model = models::build_classifier(m.spec);
  auto& model = m.model;
  const auto weights = load_evaluation_weights(o.weights);
  models::load_state(*model, models::adapt_pretrained_keys(weights, *model), /*strict=*/true);
  m.device = resolve_device(o.device.empty() ? m.cfg.get_string("system.device") : o.device);
  m.precision = parse_precision(m.cfg.get_string("system.precision"), m.device);
  model->to(m.device);
  model->eval();
  if (m.task != Task::kFinetune)
    m.gaze = gaze_task_from_config(m.cfg, m.spec, m.task == Task::kCombine);
  m.short_side = m.cfg.get_int("data.short_side_size");
  m.rate = m.cfg.get_int("data.sampling_rate");
  return m;
}

// The model's view of a window: classification crops centre-cropped (eval_transform); gaze and
// combine frames resized whole, as their validation does (SPEC-later b).
torch::Tensor window_clip(const Model& m, const torch::Tensor& crops, int64_t start) {
  std::vector<int64_t> idx;
  for (int64_t k = 0; k < m.spec.num_frames; ++k)
    idx.push_back(std::min(start + k * m.rate, crops.size(0) - 1));
  const auto frames = crops.index_select(0, torch::tensor(idx));
  return m.task == Task::kFinetune
             ? data::eval_transform(frames, m.short_side, m.spec.img_size)
             : data::resize_eval_transform(frames, m.short_side, m.spec.img_size);
}

void run_windows(Model& m, const torch::Tensor& crops, const detail::FaceTrack& track,
                 const PredictOptions& o, VideoPrediction& v) {
  const int64_t span = m.spec.num_frames * m.rate;
  const int64_t stride = o.stride > 0 ? o.stride : std::max<int64_t>(1, span / 2);
  const auto starts = window_starts(v.frames, span, stride);
  std::optional<Progress> bar;
  if (o.progress && starts.size() > 2 * std::size_t(o.batch))
    bar.emplace("windows " + v.input, int64_t(starts.size()), "win");
  // NoGradGuard rather than InferenceMode: under InferenceMode autocast caches no cast, and the
  // weights would be cast again for every batch of windows.
  torch::NoGradGuard no_grad;
  const CastCacheScope cast_once(m.precision);
  for (std::size_t b0 = 0; b0 < starts.size(); b0 += std::size_t(o.batch)) {
    const std::size_t b1 = std::min(starts.size(), b0 + std::size_t(o.batch));
    std::vector<torch::Tensor> clips;
    for (std::size_t w = b0; w < b1; ++w) clips.push_back(window_clip(m, crops, starts[w]));
    torch::Tensor out;
    {
      AutocastScope autocast(m.precision, m.device);
      out = m.model->forward(torch::stack(clips).to(m.device)).to(torch::kCPU, torch::kFloat);
    }
    torch::Tensor logits, gaze;
    if (m.task == Task::kFinetune) logits = out;
    if (m.task == Task::kCombine) logits = class_logits(m.gaze, out);
    if (m.task != Task::kFinetune) gaze = predicted_gaze(m.gaze, out);
    if (logits.defined() && logits.dim() == 3) logits = logits.mean(1);  // per-frame outputs
    if (gaze.defined() && gaze.dim() == 3) gaze = gaze.mean(1);
    const auto probs = logits.defined() ? torch::softmax(logits, -1).contiguous() : torch::Tensor();
    for (std::size_t w = b0; w < b1; ++w) {
      const auto i = static_cast<int64_t>(w - b0);
      WindowPrediction p;
      p.first = starts[w];
      p.last = std::min(starts[w] + span, v.frames) - 1;
      p.start_s = double(p.first) / v.fps;
      p.end_s = double(p.last + 1) / v.fps;
      for (int64_t k = 0; k < m.spec.num_frames; ++k)
        p.face_frames += track.found.empty() ||
                         track.found[std::size_t(std::min(starts[w] + k * m.rate, v.frames - 1))];
      if (probs.defined()) {
        const float* row = probs[i].data_ptr<float>();
        p.probs.assign(row, row + probs.size(1));
        p.top = std::max_element(p.probs.begin(), p.probs.end()) - p.probs.begin();
      }
      if (gaze.defined())
        p.gaze = std::array<float, 2>{gaze[i][0].item<float>(), gaze[i][1].item<float>()};
      v.windows.push_back(std::move(p));
    }
    if (bar) bar->update(int64_t(b1));
  }
  if (bar) bar->finish();
}

}  // namespace

PredictResult predict(const PredictOptions& o) {
  if (o.batch < 1) throw UsageError("dfer-predict: --batch must be >= 1");
  if (o.margin <= 0) throw UsageError("dfer-predict: --margin must be > 0");
  const auto clips = expand_inputs(o.inputs);
  if (!o.annotate.empty() && clips.size() != 1)
    throw UsageError(
        fmt::format("dfer-predict: --annotate writes one video; {} inputs given", clips.size()));
  const std::string cascade =
      o.detect_faces ? data::find_face_cascade(o.cascade, "haarcascade_frontalface_alt2.xml") : "";
  Model m = load_model(o);
  PredictResult r;
  r.gaze = m.task != Task::kFinetune;
  if (m.task != Task::kGaze360) {
    const int64_t k =
        m.task == Task::kCombine ? m.gaze.num_classes : m.cfg.get_int("data.num_classes");
    r.class_names = class_names_for(m.cfg.get_string("data.dataset_name"), k);
  }
  for (const auto& clip : clips) {
    VideoPrediction v;
    v.input = clip;
    try {
      auto source = data::open_frame_source(clip);
      v.frames = source->num_frames();
      v.fps = fps_of(clip, o.folder_fps);
      detail::FaceTrack track;
      if (o.detect_faces) {
        track = detail::track_faces(*source, cascade, o.margin, clip, o.progress);
        v.detected = track.detected;
        v.tracked = track.tracked;
        v.face_search = true;
      }
      const auto crops = detail::face_crops(*source, track, m.short_side);
      run_windows(m, crops, track, o, v);
      if (!o.annotate.empty()) {
        auto again = data::open_frame_source(clip);
        detail::write_annotated_video(*again, track, v, r.class_names, o.annotate);
      }
    } catch (const UsageError&) {
      throw;
    } catch (const std::exception& e) {
      v.error = e.what();
      v.windows.clear();
      spdlog::error("{}", v.error);
    }
    r.videos.push_back(std::move(v));
  }
  return r;
}

}  // namespace dfer::train
