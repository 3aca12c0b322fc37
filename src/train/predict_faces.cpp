// dfer-predict's face pass (predict_internal.h): detection, tracking between detections,
// smoothing, and the square face crops the model sees.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "dfer/data/face_boxes.h"
#include "dfer/data/pil_resize.h"
#include "dfer/train/progress.h"
#include "dfer/util/error.h"
#include "predict_internal.h"

namespace dfer::train::detail {

namespace {

// Detection and tracking run on a grey copy whose longer side is at most this: the cascade's cost
// grows with the pixel count, and a subject's face stays well above its minimum size.
constexpr int kMaxSide = 640;
// Template matching accepts a position whose normalised correlation with the last detected face
// reaches this; below it the face is taken as lost (turned away, occluded, out of the frame).
constexpr double kTrackScore = 0.6;

cv::Mat rgb_view(const torch::Tensor& frame) {  // [H, W, 3] uint8, contiguous
  return cv::Mat(static_cast<int>(frame.size(0)), static_cast<int>(frame.size(1)), CV_8UC3,
                 frame.data_ptr<uint8_t>());
}

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> v;
  for (int64_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

// Follows `face` (in `scale`d grey pixels) from the frame where it was detected into `grey` by
// matching its patch in a neighbourhood of twice its size.
std::optional<cv::Rect> follow(const cv::Mat& grey, const cv::Mat& patch, const cv::Rect& face) {
  const cv::Rect area =
      cv::Rect(face.x - face.width / 2, face.y - face.height / 2, face.width * 2, face.height * 2) &
      cv::Rect(0, 0, grey.cols, grey.rows);
  if (area.width < patch.cols || area.height < patch.rows) return std::nullopt;
  cv::Mat score;
  cv::matchTemplate(grey(area), patch, score, cv::TM_CCOEFF_NORMED);
  double best = 0;
  cv::Point at;
  cv::minMaxLoc(score, nullptr, &best, nullptr, &at);
  if (best < kTrackScore) return std::nullopt;
  return cv::Rect(area.x + at.x, area.y + at.y, patch.cols, patch.rows);
}

}  // namespace

FaceTrack track_faces(data::FrameSource& source, const std::string& cascade, double margin,
                      const std::string& what, bool progress) {
  const int64_t n = source.num_frames();
  FaceTrack t;
  t.found.assign(static_cast<std::size_t>(n), false);
  data::FaceDetector detector(cascade, /*min_neighbors=*/3);
  std::vector<std::optional<cv::Rect>> boxes(static_cast<std::size_t>(n));
  cv::Size image;
  cv::Mat patch;  // grey patch of the last detected face (tracking template)
  cv::Rect last;  // the last detected or tracked face, in grey pixels
  double scale = 1.0;
  std::optional<Progress> bar;
  if (progress && n > 4 * kChunk) bar.emplace("faces " + what, n, "frame");
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const auto frames = source.read(range(c0, std::min(n, c0 + kChunk)), 0, 0).contiguous();
    for (int64_t k = 0; k < frames.size(0); ++k) {
      const cv::Mat rgb = rgb_view(frames[k]);
      image = rgb.size();
      scale = std::min(1.0, double(kMaxSide) / std::max(rgb.cols, rgb.rows));
      cv::Mat grey;
      cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
      if (scale < 1.0) cv::resize(grey, grey, cv::Size(), scale, scale, cv::INTER_AREA);
      const auto i = static_cast<std::size_t>(c0 + k);
      std::optional<cv::Rect> face = detector.largest_face(grey);
      if (face) {
        ++t.detected;
        patch = grey(*face).clone();
        last = *face;
      } else if (!patch.empty() && (face = follow(grey, patch, last))) {
        ++t.tracked;
        last = *face;
      }
      if (!face) continue;
      t.found[i] = true;
      boxes[i] = cv::Rect(cvRound(face->x / scale), cvRound(face->y / scale),
                          cvRound(face->width / scale), cvRound(face->height / scale));
    }
    if (bar) bar->update(std::min(n, c0 + kChunk));
  }
  if (bar) bar->finish(fmt::format("{} detected, {} tracked", t.detected, t.tracked));
  if (t.detected == 0)
    throw Error(
        fmt::format("{}: no face found in any of its {} frames (give --no-face-detect if "
                    "the frames are face crops already)",
                    what, n));
  t.boxes = data::smooth_face_boxes(boxes, margin, image);
  return t;
}

torch::Tensor face_crops(data::FrameSource& source, const FaceTrack& track, int64_t side) {
  const int64_t n = source.num_frames();
  auto out = torch::empty({n, side, side, 3}, torch::kUInt8);
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const auto frames = source.read(range(c0, std::min(n, c0 + kChunk)), 0, 0).contiguous();
    for (int64_t k = 0; k < frames.size(0); ++k) {
      const cv::Mat rgb = rgb_view(frames[k]);
      const cv::Rect box = track.boxes.empty() ? cv::Rect(0, 0, rgb.cols, rgb.rows)
                                               : track.boxes[static_cast<std::size_t>(c0 + k)];
      // Pillow's antialiased bilinear, as every training frame is resized (data/pil_resize.h).
      const cv::Mat crop = rgb(box).clone();
      data::pil_bilinear_resize(crop.data, crop.rows, crop.cols, crop.step[0], 3,
                                out[c0 + k].data_ptr<uint8_t>(), static_cast<int>(side),
                                static_cast<int>(side));
    }
  }
  return out;
}

}  // namespace dfer::train::detail
