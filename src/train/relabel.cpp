// Relabelling emotion frames with a trained gaze model (see relabel.h).
#include "dfer/train/relabel.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "dfer/config/config.h"
#include "dfer/data/frame_lists.h"
#include "dfer/data/frame_source.h"
#include "dfer/data/pipeline.h"
#include "dfer/io/csv.h"
#include "dfer/models/build.h"
#include "dfer/models/weights.h"
#include "dfer/train/gaze_evaluate.h"
#include "dfer/train/model_factory.h"
#include "dfer/train/precision.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::train {

namespace {

struct Window {
  size_t file;
  int64_t start;  // first frame of the window in its file (may overlap the previous window)
};

// Window starts covering every frame: 0, T, 2T, ... and a last one ending at the last frame.
std::vector<int64_t> window_starts(int64_t len, int64_t T) {
  std::vector<int64_t> s;
  if (len <= T) return {0};
  for (int64_t at = 0; at + T <= len; at += T) s.push_back(at);
  if (s.back() + T < len) s.push_back(len - T);
  return s;
}

}  // namespace

RelabelSummary relabel_with_gaze(const RelabelOptions& o) {
  Config cfg;
  cfg.load_yaml_file(o.config);
  if (cfg.get_string("data.task") != "regression")
    throw UsageError(o.config + ": data.task is '" + cfg.get_string("data.task") +
                     "'; relabelling needs a gaze regression run (dfer-gaze360)");
  const auto spec = model_spec_from_config(cfg);
  const GazeTask task = gaze_task_from_config(cfg, spec, /*combine=*/false);
  auto model = models::build_classifier(spec);
  models::load_state_file(*model, o.weights, /*strict=*/true);
  const torch::Device device = resolve_device(o.device);
  const Precision precision = parse_precision(cfg.get_string("system.precision"), device);
  model->to(device);
  model->eval();
  const int64_t T = spec.num_frames;
  const int64_t short_side = cfg.get_int("data.short_side_size");

  std::vector<std::string> files;
  if (!fs::is_directory(o.in_dir)) throw UsageError("relabel: '" + o.in_dir + "' is not a folder");
  for (const auto& e : fs::directory_iterator(o.in_dir))
    if (e.is_regular_file() && e.path().extension() == ".csv") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw UsageError("relabel: '" + o.in_dir + "' holds no *.csv file");

  RelabelSummary sum;
  std::vector<std::vector<io::AnnotationRow>> rows(files.size());
  std::vector<std::vector<std::array<double, 3>>> acc(files.size());  // pitch, yaw sums, count
  std::vector<Window> windows;
  for (size_t f = 0; f < files.size(); ++f) {
    rows[f] = io::read_annotations(files[f], 0, io::AnnotationColumns::kAny);
    if (rows[f].empty()) throw UsageError(files[f] + ": no rows");
    acc[f].assign(rows[f].size(), {0, 0, 0});
    const auto len = static_cast<int64_t>(rows[f].size());
    if (len < T) ++sum.padded_files;
    for (int64_t s : window_starts(len, T)) windows.push_back({f, s});
  }

  torch::NoGradGuard no_grad;
  const CastCacheScope cast_once(precision);
  for (size_t b0 = 0; b0 < windows.size(); b0 += static_cast<size_t>(o.batch_size)) {
    const size_t b1 = std::min(windows.size(), b0 + static_cast<size_t>(o.batch_size));
    std::vector<torch::Tensor> clips;
    for (size_t w = b0; w < b1; ++w) {
      const auto& win = windows[w];
      const auto& r = rows[win.file];
      std::vector<torch::Tensor> frames;
      for (int64_t k = 0; k < T; ++k) {
        const auto& row = r[std::min<size_t>(win.start + k, r.size() - 1)];
        try {
          frames.push_back(data::read_image_rgb(data::resolve_clip_path(files[win.file], row.path),
                                                short_side, short_side));
        } catch (const Error& e) {
          throw Error(fmt::format("{}:{}: {}", files[win.file], row.line, e.what()), e.kind());
        }
      }
      clips.push_back(data::resize_eval_transform(torch::stack(frames), short_side, spec.img_size));
    }
    torch::Tensor out;
    {
      AutocastScope autocast(precision, device);
      out = model->forward(torch::stack(clips).to(device));
    }
    auto gaze = predicted_gaze(task, out.to(torch::kCPU, torch::kFloat)).to(torch::kDouble);
    if (gaze.dim() == 2) gaze = gaze.unsqueeze(1).expand({gaze.size(0), T, 2});  // per clip
    auto g = gaze.contiguous();
    auto ga = g.accessor<double, 3>();
    for (size_t w = b0; w < b1; ++w) {
      const auto& win = windows[w];
      auto& a = acc[win.file];
      for (int64_t k = 0; k < T; ++k) {
        const int64_t i = win.start + k;
        if (i >= static_cast<int64_t>(a.size())) break;  // padding of a short file
        a[i][0] += ga[w - b0][k][0];
        a[i][1] += ga[w - b0][k][1];
        a[i][2] += 1;
      }
    }
    sum.windows += static_cast<int64_t>(b1 - b0);
  }

  fs::create_directories(o.out_dir);
  for (size_t f = 0; f < files.size(); ++f) {
    std::ostringstream text;
    for (size_t i = 0; i < rows[f].size(); ++i) {
      const auto& row = rows[f][i];
      const auto& a = acc[f][i];  // overlapping windows: the mean of their predictions
      const fs::path frame = data::resolve_clip_path(files[f], row.path);
      text << data::detail::path_for_list(frame, o.out_dir) << ' ' << row.label << ' '
           << fmt::format("{:.6f} {:.6f}", a[0] / a[2], a[1] / a[2]) << '\n';
    }
    data::detail::write_list(fs::path(o.out_dir) / fs::path(files[f]).filename(), text.str());
    sum.frames += static_cast<int64_t>(rows[f].size());
  }
  sum.files = static_cast<int64_t>(files.size());
  return sum;
}

}  // namespace dfer::train
