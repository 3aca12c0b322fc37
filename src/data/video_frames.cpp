// Video -> frame folders (video_frames.h): the list checks, the worker pool with progress lines
// over the videos (each done by video_frames_clip.cpp), and the clip list.
#include "dfer/data/video_frames.h"

#include <fmt/format.h>

#include <opencv2/core/utility.hpp>  // cv::setNumThreads

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dataset_lists_internal.h"  // has_space
#include "dfer/data/face_boxes.h"
#include "dfer/data/frame_source.h"  // resolve_clip_path
#include "dfer/util/error.h"
#include "dfer/util/log.h"
#include "video_frames_internal.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace dfer::data {
namespace {

constexpr double kProgressSeconds = 10.0;
constexpr std::size_t kProgressSteps = 20;  // a line per 5% as well

// A line to the log (stderr) per 5% of the videos or every kProgressSeconds, and at the end.
class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), start_(Clock::now()), last_(start_) {}
  void tick(int64_t frames) {
    std::lock_guard<std::mutex> lock(m_);
    ++done_;
    frames_ += frames;
    const auto now = Clock::now();
    const std::size_t step = done_ * kProgressSteps / total_;
    if (done_ < total_ && step == step_ &&
        std::chrono::duration<double>(now - last_).count() < kProgressSeconds)
      return;
    step_ = step;
    last_ = now;
    const double secs = std::max(1e-3, std::chrono::duration<double>(now - start_).count());
    const double rate = done_ / secs;
    spdlog::info(
        "extract: {}/{} videos ({:.0f}%), {:.2f} videos/s, {} frames written, ~{:.0f} s left",
        done_, total_, 100.0 * done_ / total_, rate, frames_, (total_ - done_) / rate);
  }

 private:
  std::mutex m_;
  std::size_t total_, done_ = 0, step_ = 0;
  int64_t frames_ = 0;
  Clock::time_point start_, last_;
};

// N workers decoding at once would each fan out over every core through OpenCV's own pool.
class OpenCvThreads {
 public:
  explicit OpenCvThreads(int n) : previous_(cv::getNumThreads()) { cv::setNumThreads(n); }
  ~OpenCvThreads() { cv::setNumThreads(previous_); }

 private:
  int previous_;
};

struct Row {
  std::size_t line = 0, job = 0;
  std::string labels;  // " <label>..." as written
};

}  // namespace

ExtractSummary extract_video_frames(const ExtractOptions& o) {
  if (o.list.empty() || o.frames_dir.empty() || o.list_out.empty())
    throw UsageError("extract: give --list IN.csv, --out FRAMES_DIR and --list-out OUT.csv");
  if (o.size < 0) throw UsageError("extract: --size must be >= 0");
  if (o.face_crop && o.size == 0)
    throw UsageError("extract: --face-crop needs --size > 0 (the side of the square crops)");
  if (o.jpeg_quality < 1 || o.jpeg_quality > 100)
    throw UsageError("extract: --jpeg-quality must be in 1..100");
  if (o.face_crop && !(o.margin >= 1.0)) throw UsageError("extract: --margin must be >= 1");
  const std::string cascade = o.face_crop ? find_face_cascade(o.cascade) : "";
  std::unique_ptr<FaceDetector> main_detector;
  if (o.face_crop) main_detector = std::make_unique<FaceDetector>(cascade);  // fails before work

  const fs::path frames_dir = fs::absolute(o.frames_dir).lexically_normal();
  const fs::path list_dir = fs::path(o.list_out).parent_path();
  if (detail::has_space(detail::path_for_list(frames_dir / "x", list_dir)))
    throw UsageError("extract: the frame folders' path '" + frames_dir.string() +
                     "' contains whitespace, which the space-separated list cannot hold");

  std::vector<detail::ClipJob> jobs;
  std::vector<Row> rows;
  std::map<std::string, std::size_t> by_video;  // resolved path -> job
  std::map<std::string, std::size_t> by_stem;   // folder name -> first row's line
  detail::for_each_row(o.list, [&](std::size_t line, const std::vector<std::string>& f) {
    if (f.size() < 2)
      throw UsageError(detail::where(o.list, line) + "expected `<video path> <label>`");
    Row row{line, 0, ""};
    for (std::size_t i = 1; i < f.size(); ++i) {
      if (!detail::finite_number(f[i]))
        throw UsageError(detail::where(o.list, line) + "label '" + f[i] + "' is not a number");
      row.labels += " " + f[i];
    }
    const fs::path video = resolve_clip_path(o.list, f[0]);
    const auto [it, fresh] = by_video.emplace(video.generic_string(), jobs.size());
    if (fresh) {
      const std::string stem = video.stem().string();
      if (stem.empty()) throw UsageError(detail::where(o.list, line) + "no file name: " + f[0]);
      if (const auto [s, ok] = by_stem.emplace(stem, line); !ok)
        throw UsageError(fmt::format(
            "{}{} and the video of line {} would share the frame folder '{}' (same file stem)",
            detail::where(o.list, line), f[0], s->second, stem));
      jobs.push_back({video, frames_dir / stem, f[0]});
    }
    row.job = it->second;
    rows.push_back(std::move(row));
  });

  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = std::max(
      1, std::min(o.threads > 0 ? o.threads : cores, int(std::max<std::size_t>(1, jobs.size()))));
  spdlog::info("extract: {} videos ({} rows) from {} -> {}{}, {} thread(s)", jobs.size(),
               rows.size(), o.list, frames_dir.string(),
               o.face_crop ? fmt::format(", face crops {0}x{0}", o.size)
                           : fmt::format(", shorter side {}", o.size),
               workers);
  const std::string settings = detail::extract_settings(o);
  std::vector<detail::ClipOutcome> outcomes(jobs.size());
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  Progress progress(std::max<std::size_t>(1, jobs.size()));
  const auto work = [&](FaceDetector* given) {
    std::unique_ptr<FaceDetector> own;
    try {
      if (o.face_crop && !given) given = (own = std::make_unique<FaceDetector>(cascade)).get();
      while (!stop) {
        const std::size_t i = next++;
        if (i >= jobs.size()) break;
        outcomes[i] = detail::extract_clip(jobs[i], o, settings, given);
        progress.tick(outcomes[i].frames);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      stop = true;
    }
  };
  {
    OpenCvThreads opencv_threads(workers > 1 ? 1 : cv::getNumThreads());
    std::vector<std::thread> pool;
    for (int t = 1; t < workers; ++t) pool.emplace_back(work, nullptr);
    work(main_detector.get());
    for (auto& t : pool) t.join();
  }
  if (failure) std::rethrow_exception(failure);

  ExtractSummary s;
  s.videos = int64_t(rows.size());
  s.list_out = o.list_out;
  for (const detail::ClipOutcome& r : outcomes) {
    s.extracted += r.done;
    s.already_done += r.already;
    s.frames += r.frames;
  }
  std::string text;
  for (const Row& row : rows) {
    const detail::ClipOutcome& r = outcomes[row.job];
    if (!r.done && !r.already) {
      s.skipped.push_back({o.list, row.line, jobs[row.job].item, r.skipped});
      continue;
    }
    text += detail::path_for_list(jobs[row.job].folder, list_dir) + row.labels + "\n";
  }
  detail::write_list(o.list_out, text);
  return s;
}

std::string describe(const ExtractSummary& s, std::size_t max_skipped) {
  std::string text = fmt::format(
      "extract: {} videos listed, {} extracted, {} already done, {} skipped; {} frames written; "
      "list {}\n",
      s.videos, s.extracted, s.already_done, s.skipped.size(), s.frames, s.list_out);
  for (std::size_t i = 0; i < s.skipped.size() && i < max_skipped; ++i) {
    const ListSkip& k = s.skipped[i];
    text += fmt::format("  skipped {}:{} {}: {}\n", k.file, k.line, k.item, k.reason);
  }
  if (s.skipped.size() > max_skipped)
    text += fmt::format("  ... and {} more skipped\n", s.skipped.size() - max_skipped);
  return text;
}

}  // namespace dfer::data
