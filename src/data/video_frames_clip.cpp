// Video -> frame folders, one video (video_frames.h): the resume check against the folder's marker,
// plain frames or two-pass face crops, and the marker written last.
#include <fmt/format.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dfer/data/face_boxes.h"
#include "dfer/io/atomic_file.h"
#include "dfer/util/error.h"
#include "video_frames_internal.h"

namespace fs = std::filesystem;

namespace dfer::data::detail {
namespace {

constexpr int64_t kMaxFrames = 99999;  // five-digit names sort in frame order up to here

std::string frame_name(int64_t index) {
  return fmt::format("{:05d}.jpg", index);
}

// True when `folder` holds a marker "frames N\n<settings>" and its last frame file.
bool is_complete(const fs::path& folder, const std::string& settings) {
  std::ifstream in(folder / kFramesDoneMarker, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  const auto eol = s.find('\n');
  if (eol == std::string::npos || s.compare(0, 7, "frames ") != 0 || s.substr(eol + 1) != settings)
    return false;
  int64_t n = 0;
  try {
    n = std::stoll(s.substr(7, eol - 7));
  } catch (const std::exception&) {
    return false;
  }
  std::error_code ec;
  return n >= 1 && fs::is_regular_file(folder / frame_name(n), ec);
}

// Removes the marker and the frame files (`<digits>.jpg`) of an earlier attempt, nothing else.
void clear_folder(const fs::path& folder) {
  std::error_code ec;
  fs::remove(folder / kFramesDoneMarker, ec);
  if (fs::is_directory(folder, ec)) {
    for (const auto& entry : fs::directory_iterator(folder)) {
      const std::string stem = entry.path().stem().string();
      if (entry.path().extension() == ".jpg" && !stem.empty() &&
          std::all_of(stem.begin(), stem.end(), [](unsigned char c) { return std::isdigit(c); }))
        fs::remove(entry.path());
    }
  }
  fs::create_directories(folder);
}

// A skipped video leaves no half-filled folder behind (the folder itself only if empty).
ClipOutcome skip(const fs::path& folder, std::string reason) {
  clear_folder(folder);
  std::error_code ec;
  fs::remove(folder, ec);
  return {false, false, 0, std::move(reason)};
}

cv::Mat resized(const cv::Mat& img, cv::Size to) {
  if (img.size() == to) return img;
  cv::Mat out;
  const bool shrink = to.width < img.cols || to.height < img.rows;
  cv::resize(img, out, to, 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

cv::Mat short_side_to(const cv::Mat& img, int size) {
  const int short_side = std::min(img.cols, img.rows);
  if (size <= 0 || short_side == size) return img;
  const double f = double(size) / short_side;
  const auto side = [&](int v) { return v == short_side ? size : int(std::lround(v * f)); };
  return resized(img, cv::Size(side(img.cols), side(img.rows)));
}

void write_frame(const fs::path& file, const cv::Mat& img, int quality) {
  bool ok = false;
  try {
    ok = cv::imwrite(file.string(), img, {cv::IMWRITE_JPEG_QUALITY, quality});
  } catch (const cv::Exception& e) {
    throw Error("cannot write frame file " + file.string() + ": " + e.what());
  }
  if (!ok) throw Error("cannot write frame file " + file.string());
}

// "" when the video opened, else why not.
std::string open_video(cv::VideoCapture& cap, const fs::path& video) {
  std::error_code ec;
  if (!fs::exists(video, ec)) return "video file not found";
  if (!fs::is_regular_file(video, ec)) return "not a video file (extract reads videos)";
  if (!cap.open(video.string()) || !cap.isOpened())
    return "cannot open the video (unreadable or unsupported format)";
  return "";
}

const std::string kNoFrame = "no frame could be decoded";
const std::string kTooLong = fmt::format("more than {} frames", kMaxFrames);

ClipOutcome plain_frames(const ClipJob& job, const ExtractOptions& o) {
  cv::VideoCapture cap;
  if (std::string why = open_video(cap, job.video); !why.empty()) return skip(job.folder, why);
  clear_folder(job.folder);
  int64_t n = 0;
  for (cv::Mat frame; cap.read(frame) && !frame.empty();) {
    if (++n > kMaxFrames) return skip(job.folder, kTooLong);
    write_frame(job.folder / frame_name(n), short_side_to(frame, o.size), o.jpeg_quality);
  }
  if (n == 0) return skip(job.folder, kNoFrame);
  return {true, false, n, ""};
}

ClipOutcome face_frames(const ClipJob& job, const ExtractOptions& o, FaceDetector& detector) {
  cv::VideoCapture cap;
  if (std::string why = open_video(cap, job.video); !why.empty()) return skip(job.folder, why);
  std::vector<std::optional<cv::Rect>> found;
  cv::Size first;
  for (cv::Mat frame; cap.read(frame) && !frame.empty();) {
    if (found.empty()) first = frame.size();
    if (int64_t(found.size()) == kMaxFrames) return skip(job.folder, kTooLong);
    found.push_back(detector.largest_face(frame));
  }
  if (found.empty()) return skip(job.folder, kNoFrame);
  const std::vector<cv::Rect> boxes = smooth_face_boxes(found, o.margin, first);
  if (boxes.empty())
    return skip(job.folder, fmt::format("no face found in any of its {} frames", found.size()));
  cap.release();
  if (std::string why = open_video(cap, job.video); !why.empty()) return skip(job.folder, why);
  clear_folder(job.folder);
  int64_t n = 0;
  for (cv::Mat frame; n < int64_t(boxes.size()) && cap.read(frame) && !frame.empty();) {
    // A frame of another size than the first (rare) gets the box clipped to it.
    cv::Rect box = boxes[std::size_t(n)] & cv::Rect(0, 0, frame.cols, frame.rows);
    if (box.empty()) box = cv::Rect(0, 0, frame.cols, frame.rows);
    ++n;
    write_frame(job.folder / frame_name(n), resized(frame(box), cv::Size(o.size, o.size)),
                o.jpeg_quality);
  }
  if (n != int64_t(boxes.size()))
    return skip(job.folder,
                fmt::format("decoded {} frames, then {} on the second pass", boxes.size(), n));
  return {true, false, n, ""};
}

}  // namespace

// What decides the pixels of the frames: a marker with other settings means "redo".
std::string extract_settings(const ExtractOptions& o) {
  std::string s = fmt::format("size {}\nface_crop {}\n", o.size, o.face_crop ? 1 : 0);
  if (o.face_crop) s += fmt::format("margin {}\n", o.margin);
  return s + fmt::format("jpeg_quality {}\n", o.jpeg_quality);
}

ClipOutcome extract_clip(const ClipJob& job, const ExtractOptions& o, const std::string& settings,
                         FaceDetector* detector) {
  if (is_complete(job.folder, settings)) return {false, true, 0, ""};
  ClipOutcome r;
  try {
    r = detector ? face_frames(job, o, *detector) : plain_frames(job, o);
  } catch (const cv::Exception& e) {  // a decoder failure is the video's problem, not the job's
    return skip(job.folder, std::string("OpenCV: ") + e.what());
  }
  if (r.done)
    io::write_file_atomic((job.folder / kFramesDoneMarker).string(),
                          fmt::format("frames {}\n{}", r.frames, settings));
  return r;
}

}  // namespace dfer::data::detail
