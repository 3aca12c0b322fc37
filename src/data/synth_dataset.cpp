// Writing the synthetic dataset in the original layouts (frame folders, annotation lists,
// per-sequence frame CSVs), the public single-clip renderer and the contact sheet.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "dfer/data/synth.h"
#include "dfer/io/atomic_file.h"
#include "dfer/util/error.h"
#include "dfer/util/log.h"
#include "frame_internal.h"
#include "synth_clip.h"

namespace fs = std::filesystem;

namespace dfer::data {

namespace {

constexpr const char* kSplitNames[3] = {"train", "val", "test"};

void validate(const SynthOptions& o) {
  if (o.videos < 1) throw UsageError("synth: --videos must be >= 1");
  if (o.size < 32 || o.size > 1024) throw UsageError("synth: --size must be in [32, 1024]");
  if (o.min_frames < 2 || o.max_frames < o.min_frames || o.max_frames > 10000) {
    throw UsageError("synth: need 2 <= --min-frames <= --max-frames <= 10000");
  }
  if (o.jpeg_quality < 1 || o.jpeg_quality > 100)
    throw UsageError("synth: JPEG quality in [1, 100]");
  if (!(o.train_fraction > 0 && o.train_fraction <= 1)) {
    throw UsageError("synth: train fraction must be in (0, 1]");
  }
  if (!(o.feature_scale >= 0.5 && o.feature_scale <= 2.0))
    throw UsageError("synth: --feature-scale must be in [0.5, 2]");
  if (!(o.min_intensity >= 0 && o.min_intensity <= 1))
    throw UsageError("synth: --min-intensity must be in [0, 1]");
  if (!(o.face_zoom >= 0.8 && o.face_zoom <= 2.0))
    throw UsageError("synth: --face-zoom must be in [0.8, 2]");
}

// Balanced labels: a round-robin over the classes, shuffled with the seed.
std::vector<int> assign_labels(const SynthOptions& o) {
  std::vector<int> labels(static_cast<size_t>(o.videos));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % kSynthNumClasses);
  detail::SynthRng rng(detail::synth_seed(o.seed, 0xFFFFFFFFull, 7));
  for (size_t i = labels.size(); i > 1; --i) {
    std::swap(labels[i - 1],
              labels[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(i) - 1))]);
  }
  return labels;
}

// Stratified: within each class, the first train_fraction of its clips (in index order) train,
// the rest half val, half test (test takes the odd one).
std::vector<int> assign_splits(const std::vector<int>& labels, double train_fraction) {
  std::array<int64_t, kSynthNumClasses> total{}, seen{};
  for (int l : labels) ++total[static_cast<size_t>(l)];
  std::vector<int> split(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    size_t c = static_cast<size_t>(labels[i]);
    int64_t n_train = std::llround(train_fraction * static_cast<double>(total[c]));
    int64_t n_val = (total[c] - n_train) / 2;
    int64_t r = seen[c]++;
    split[i] = r < n_train ? 0 : (r < n_train + n_val ? 1 : 2);
  }
  return split;
}

std::string zero_pad(int64_t v, int width) {
  std::string s = std::to_string(v);
  return std::string(static_cast<size_t>(std::max(0, width - static_cast<int>(s.size()))), '0') + s;
}

std::string fmt6(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

struct ClipRecord {
  std::string name;
  int label = 0, split = 0, frames = 0;
  double pitch = 0, yaw = 0;  // clip means
  nlohmann::json truth;
};

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw Error("cannot write " + p.string());
}

ClipRecord write_clip(const fs::path& root, const SynthOptions& o, int64_t index, int label,
                      int split, int name_width) {
  ClipRecord rec;
  rec.name = zero_pad(index + 1, name_width);
  rec.label = label;
  rec.split = split;
  detail::ClipPlan plan = detail::plan_clip(o, index, label);
  const int T = static_cast<int>(plan.states.size());
  rec.frames = T;
  const fs::path dir = root / "clips" / rec.name;
  std::error_code ec;
  fs::remove_all(dir, ec);  // stale frames of an earlier, longer clip would join this one
  fs::create_directories(dir);
  const std::vector<int> params = {cv::IMWRITE_JPEG_QUALITY, o.jpeg_quality};
  std::ostringstream combine, gaze;
  for (int t = 0; t < T; ++t) {
    const std::string frame = zero_pad(t + 1, 5) + ".jpg";
    cv::Mat bgr = detail::render_frame(plan, t);
    if (!cv::imwrite((dir / frame).string(), bgr, params)) {
      throw Error("cannot write " + (dir / frame).string());
    }
    const std::string rel = "../../clips/" + rec.name + "/" + frame;
    const std::string angles =
        fmt6(plan.pitch[static_cast<size_t>(t)]) + " " + fmt6(plan.yaw[static_cast<size_t>(t)]);
    combine << rel << ' ' << label << ' ' << angles << '\n';
    gaze << rel << " 0 " << angles << '\n';
    rec.pitch += plan.pitch[static_cast<size_t>(t)] / T;
    rec.yaw += plan.yaw[static_cast<size_t>(t)] / T;
  }
  const std::string sp = kSplitNames[split];
  write_text(root / "combine" / sp / (rec.name + ".csv"), combine.str());
  write_text(root / "gaze" / sp / (rec.name + ".csv"), gaze.str());
  rec.truth = {{"clip", "clips/" + rec.name},
               {"label", label},
               {"class", kSynthClassNames[static_cast<size_t>(label)]},
               {"split", sp},
               {"frames", T},
               {"onset", plan.onset},
               {"apex_begin", plan.apex_begin},
               {"apex_end", plan.apex_end},
               {"offset_end", plan.offset_end},
               {"apex_intensity", plan.apex_intensity},
               {"pitch_mean", rec.pitch},
               {"yaw_mean", rec.yaw}};
  return rec;
}

constexpr const char* kReadme = R"(# Synthetic DFER dataset (dfer-prep synth)

Procedurally rendered face videos; classes differ in facial dynamics (onset -> apex -> offset).
Labels (DFEW order): 0 Happy, 1 Sad, 2 Neutral, 3 Angry, 4 Surprise, 5 Disgust, 6 Fear.
Paths in every list are relative to the folder of the list file that contains them.

- clips/NNNNN/00001.jpg ...          one frame folder per clip (JPEG, 1-based frame numbers)
- train.csv val.csv test.csv         "clips/NNNNN <label>"
- pretrain.csv                       "clips/NNNNN 0" (training clips, label unused)
- gaze_<split>.csv                   "clips/NNNNN 0 <pitch> <yaw>" (radians, mean over the clip)
- combine_<split>.csv                "clips/NNNNN <label> <pitch> <yaw>"
- gaze/<split>/NNNNN.csv             one row per frame: "../../clips/NNNNN/00001.jpg 0 <pitch> <yaw>"
- combine/<split>/NNNNN.csv          one row per frame: "../../clips/NNNNN/00001.jpg <label> <pitch> <yaw>"
- synth.json                         generator options and per-clip ground truth

Gaze: pitch > 0 looks up, yaw > 0 looks towards the right of the image (camera space: head pose
plus eye-in-head direction). A horizontal flip must negate yaw.
)";

}  // namespace

SynthVideo render_synth_video(const SynthOptions& options, int64_t index, int label) {
  validate(options);
  detail::ClipPlan plan = detail::plan_clip(options, index, label);
  const int T = static_cast<int>(plan.states.size());
  SynthVideo v;
  v.label = label;
  v.frames = torch::empty({T, options.size, options.size, 3}, torch::kUInt8);
  for (int t = 0; t < T; ++t) {
    cv::Mat bgr = detail::render_frame(plan, t);
    detail::store_frame(bgr, true, options.size, options.size, v.frames[t].data_ptr<uint8_t>());
  }
  v.pitch = plan.pitch;
  v.yaw = plan.yaw;
  v.intensity = plan.intensity;
  v.onset = plan.onset;
  v.apex_begin = plan.apex_begin;
  v.apex_end = plan.apex_end;
  v.offset_end = plan.offset_end;
  return v;
}

SynthSummary write_synth_dataset(const std::string& out_dir, const SynthOptions& options) {
  validate(options);
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path root(out_dir);
  // Loaders glob the per-sequence folders, so per-sequence lists of an earlier dataset written
  // here (other seed or split) must not survive. Clip folders are rewritten one by one.
  for (const char* owned : {"combine", "gaze"}) {
    std::error_code ec;
    fs::remove_all(root / owned, ec);
    if (ec) throw Error("cannot clear " + (root / owned).string() + ": " + ec.message());
  }
  for (const char* sub : {"clips", "combine/train", "combine/val", "combine/test", "gaze/train",
                          "gaze/val", "gaze/test"}) {
    std::error_code ec;
    fs::create_directories(root / sub, ec);
    if (ec) throw Error("cannot create " + (root / sub).string() + ": " + ec.message());
  }
  const std::vector<int> labels = assign_labels(options);
  const std::vector<int> splits = assign_splits(labels, options.train_fraction);
  const int width = std::max(5, static_cast<int>(std::to_string(options.videos).size()));
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  spdlog::info("synth: rendering {} clips of {}-{} frames at {}x{} into {} ({} threads)",
               options.videos, options.min_frames, options.max_frames, options.size, options.size,
               out_dir, threads);

  std::vector<ClipRecord> records(static_cast<size_t>(options.videos));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex error_mu;
  auto work = [&] {
    for (int64_t i = next++; i < options.videos && !failed; i = next++) {
      try {
        records[static_cast<size_t>(i)] =
            write_clip(root, options, i, labels[static_cast<size_t>(i)],
                       splits[static_cast<size_t>(i)], width);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!failed.exchange(true)) error = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failed) throw Error("synth: " + error);

  // Lists, written atomically once every clip is on disk.
  SynthSummary sum;
  std::array<std::ostringstream, 3> cls, gaze, comb;
  std::ostringstream pretrain;
  nlohmann::json clips = nlohmann::json::array();
  for (const auto& r : records) {
    const std::string path = "clips/" + r.name;
    const std::string angles = fmt6(r.pitch) + " " + fmt6(r.yaw);
    cls[static_cast<size_t>(r.split)] << path << ' ' << r.label << '\n';
    gaze[static_cast<size_t>(r.split)] << path << " 0 " << angles << '\n';
    comb[static_cast<size_t>(r.split)] << path << ' ' << r.label << ' ' << angles << '\n';
    if (r.split == 0) pretrain << path << " 0\n";
    ++sum.per_class[static_cast<size_t>(r.label)];
    ++sum.per_split[static_cast<size_t>(r.split)];
    sum.frames += r.frames;
    clips.push_back(r.truth);
  }
  for (size_t s = 0; s < 3; ++s) {
    const std::string sp = kSplitNames[s];
    io::write_file_atomic((root / (sp + ".csv")).string(), cls[s].str());
    io::write_file_atomic((root / ("gaze_" + sp + ".csv")).string(), gaze[s].str());
    io::write_file_atomic((root / ("combine_" + sp + ".csv")).string(), comb[s].str());
  }
  io::write_file_atomic((root / "pretrain.csv").string(), pretrain.str());
  io::write_file_atomic((root / "README.md").string(), std::string(kReadme));
  nlohmann::json meta = {{"generator", "dfer-prep synth"},
                         {"version", 1},
                         {"options",
                          {{"videos", options.videos},
                           {"seed", options.seed},
                           {"size", options.size},
                           {"min_frames", options.min_frames},
                           {"max_frames", options.max_frames},
                           {"jpeg_quality", options.jpeg_quality},
                           {"train_fraction", options.train_fraction},
                           {"feature_scale", options.feature_scale},
                           {"min_intensity", options.min_intensity},
                           {"face_zoom", options.face_zoom}}},
                         {"classes", kSynthClassNames},
                         {"clips", clips}};
  io::write_file_atomic((root / "synth.json").string(), meta.dump(1) + "\n");
  sum.videos = options.videos;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("synth: {} clips, {} frames (train/val/test {}/{}/{}) in {:.1f} s", sum.videos,
               sum.frames, sum.per_split[0], sum.per_split[1], sum.per_split[2], sum.seconds);
  return sum;
}

void write_synth_contact_sheet(const std::string& png_path, const SynthOptions& options,
                               int columns, int scale) {
  validate(options);
  if (columns < 2 || scale < 1) throw UsageError("contact sheet: need >= 2 columns and scale >= 1");
  const std::vector<int> labels = assign_labels(options);
  const int tile = options.size * scale, strip = 110;
  cv::Mat sheet(tile * kSynthNumClasses, strip + tile * columns, CV_8UC3,
                cv::Scalar(255, 255, 255));
  for (int c = 0; c < kSynthNumClasses; ++c) {
    // The first clip of the class in the dataset (or one past its end for tiny datasets).
    int64_t index = options.videos + c;
    for (size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] == c) {
        index = static_cast<int64_t>(i);
        break;
      }
    }
    detail::ClipPlan plan = detail::plan_clip(options, index, c);
    const int T = static_cast<int>(plan.states.size());
    cv::putText(sheet, kSynthClassNames[static_cast<size_t>(c)], {6, c * tile + tile / 2},
                cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::putText(sheet, "I=" + fmt6(plan.apex_intensity).substr(0, 4), {6, c * tile + tile / 2 + 22},
                cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(80, 80, 80), 1, cv::LINE_AA);
    for (int k = 0; k < columns; ++k) {
      int t = static_cast<int>(std::lround(static_cast<double>(k) * (T - 1) / (columns - 1)));
      cv::Mat f = detail::render_frame(plan, t), big;
      cv::resize(f, big, cv::Size(tile, tile), 0, 0, cv::INTER_CUBIC);
      big.copyTo(sheet(cv::Rect(strip + k * tile, c * tile, tile, tile)));
      cv::putText(sheet, std::to_string(t + 1), {strip + k * tile + 3, c * tile + 14},
                  cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
    }
  }
  std::vector<uchar> png;
  if (!cv::imencode(".png", sheet, png)) throw Error("cannot encode contact sheet " + png_path);
  io::write_file_atomic(png_path,
                        std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
  spdlog::info("synth: contact sheet {} ({} classes x {} frames)", png_path, kSynthNumClasses,
               columns);
}

}  // namespace dfer::data
