// dfer-predict's outputs (predict.h): the per-window timeline as CSV and JSON, the per-video
// summary, and the lines printed at the end.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>

#include "dfer/io/atomic_file.h"
#include "dfer/train/predict.h"

namespace fs = std::filesystem;

namespace dfer::train {

namespace {

// CSV fields are paths or class names: quote when they hold a separator or a quote.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

struct Summary {
  int64_t top = -1;
  std::vector<double> mean_probs;
  std::optional<std::array<double, 2>> mean_gaze;
};

Summary summarise(const VideoPrediction& v) {
  Summary s;
  std::map<int64_t, int64_t> votes;
  std::array<double, 2> g{0, 0};
  for (const auto& w : v.windows) {
    if (s.mean_probs.size() < w.probs.size()) s.mean_probs.resize(w.probs.size(), 0.0);
    for (std::size_t k = 0; k < w.probs.size(); ++k)
      s.mean_probs[k] += w.probs[k] / double(v.windows.size());
    if (w.top >= 0) ++votes[w.top];
    if (w.gaze) {
      g[0] += (*w.gaze)[0] / double(v.windows.size());
      g[1] += (*w.gaze)[1] / double(v.windows.size());
      s.mean_gaze = g;
    }
  }
  // The video's class: the one most windows name (ties: the higher mean probability).
  for (const auto& [k, n] : votes)
    if (s.top < 0 || n > votes[s.top] ||
        (n == votes[s.top] && s.mean_probs[std::size_t(k)] > s.mean_probs[std::size_t(s.top)]))
      s.top = k;
  return s;
}

std::string name_of(const PredictResult& r, int64_t k) {
  return k >= 0 && std::size_t(k) < r.class_names.size() ? r.class_names[std::size_t(k)] : "";
}

}  // namespace

void write_predictions(const PredictResult& r, const std::string& out_dir) {
  fs::create_directories(out_dir);
  std::string csv =
      "video,window,first_frame,last_frame,start_s,end_s,face_frames,top_class,top_prob";
  for (const auto& c : r.class_names) csv += ",p_" + csv_field(c);
  if (r.gaze) csv += ",pitch,yaw";
  csv += "\n";
  nlohmann::json timeline = nlohmann::json::array(), summary = nlohmann::json::array();
  for (const auto& v : r.videos) {
    nlohmann::json windows = nlohmann::json::array();
    for (std::size_t i = 0; i < v.windows.size(); ++i) {
      const auto& w = v.windows[i];
      csv += fmt::format("{},{},{},{},{:.3f},{:.3f},{},{},{}", csv_field(v.input), i, w.first,
                         w.last, w.start_s, w.end_s, w.face_frames, csv_field(name_of(r, w.top)),
                         w.top >= 0 ? fmt::format("{:.6f}", w.probs[std::size_t(w.top)]) : "");
      for (float p : w.probs) csv += fmt::format(",{:.6f}", p);
      if (r.gaze) csv += w.gaze ? fmt::format(",{:.6f},{:.6f}", (*w.gaze)[0], (*w.gaze)[1]) : ",,";
      csv += "\n";
      nlohmann::json j = {{"window", i},          {"first_frame", w.first},
                          {"last_frame", w.last}, {"start_s", w.start_s},
                          {"end_s", w.end_s},     {"face_frames", w.face_frames}};
      if (w.top >= 0) {
        j["top_class"] = name_of(r, w.top);
        j["probabilities"] = w.probs;
      }
      if (w.gaze) j["gaze"] = {{"pitch", (*w.gaze)[0]}, {"yaw", (*w.gaze)[1]}};
      windows.push_back(std::move(j));
    }
    timeline.push_back({{"video", v.input}, {"fps", v.fps}, {"windows", std::move(windows)}});
    nlohmann::json s = {
        {"video", v.input}, {"frames", v.frames}, {"fps", v.fps}, {"windows", v.windows.size()}};
    if (v.face_search) {
      s["faces_detected"] = v.detected;
      s["faces_tracked"] = v.tracked;
      s["face_fraction"] = v.frames ? double(v.detected + v.tracked) / double(v.frames) : 0.0;
    }
    if (!v.error.empty()) s["error"] = v.error;
    const Summary sm = summarise(v);
    if (sm.top >= 0) {
      s["top_class"] = name_of(r, sm.top);
      nlohmann::json mean = nlohmann::json::object();
      for (std::size_t k = 0; k < sm.mean_probs.size(); ++k)
        mean[name_of(r, int64_t(k))] = sm.mean_probs[k];
      s["mean_probabilities"] = mean;
    }
    if (sm.mean_gaze) s["mean_gaze"] = {{"pitch", (*sm.mean_gaze)[0]}, {"yaw", (*sm.mean_gaze)[1]}};
    summary.push_back(std::move(s));
  }
  io::write_file_atomic((fs::path(out_dir) / "timeline.csv").string(), csv);
  io::write_file_atomic((fs::path(out_dir) / "timeline.json").string(), timeline.dump(2) + "\n");
  io::write_file_atomic((fs::path(out_dir) / "summary.json").string(), summary.dump(2) + "\n");
}

std::string describe(const PredictResult& r) {
  std::string text;
  for (const auto& v : r.videos) {
    if (!v.error.empty()) {
      text += fmt::format("{}: FAILED: {}\n", v.input, v.error);
      continue;
    }
    const Summary s = summarise(v);
    text += fmt::format("{}: {} frames at {:.2f} fps, ", v.input, v.frames, v.fps);
    text += v.face_search ? fmt::format("face in {} ({} detected, {} tracked), ",
                                        v.detected + v.tracked, v.detected, v.tracked)
                          : std::string("frames used whole (no face search), ");
    text += fmt::format("{} windows", v.windows.size());
    if (s.top >= 0)
      text +=
          fmt::format(", {} (mean p {:.3f})", name_of(r, s.top), s.mean_probs[std::size_t(s.top)]);
    if (s.mean_gaze)
      text += fmt::format(", gaze pitch {:.1f} deg yaw {:.1f} deg", (*s.mean_gaze)[0] * 57.29578,
                          (*s.mean_gaze)[1] * 57.29578);
    text += "\n";
  }
  return text;
}

}  // namespace dfer::train
