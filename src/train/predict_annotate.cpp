// dfer-predict --annotate (predict_internal.h): the input video again, with what the model saw and
// said drawn on every frame.
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dfer/util/error.h"
#include "predict_internal.h"

namespace dfer::train::detail {

namespace {

// The window a frame is shown with: the one whose centre is nearest (windows overlap).
std::size_t window_of(const VideoPrediction& v, int64_t frame) {
  std::size_t best = 0;
  double gap = 1e300;
  for (std::size_t w = 0; w < v.windows.size(); ++w) {
    const double d = std::abs(0.5 * double(v.windows[w].first + v.windows[w].last) - double(frame));
    if (d < gap) {
      gap = d;
      best = w;
    }
  }
  return best;
}

void draw(cv::Mat& img, const cv::Rect& box, bool found, const WindowPrediction& w,
          const std::vector<std::string>& classes) {
  const double unit = std::max(0.35, std::min(img.cols, img.rows) / 900.0);  // text scale
  const int thick = std::max(1, int(std::round(2 * unit)));
  const cv::Scalar face = found ? cv::Scalar(60, 220, 60) : cv::Scalar(150, 150, 150);
  if (box.area() > 0) cv::rectangle(img, box, face, thick);
  if (w.top >= 0) {
    const std::string label =
        fmt::format("{} {:.2f}", classes[std::size_t(w.top)], w.probs[std::size_t(w.top)]);
    // Under the box when there is room (the bars' panel sits at the top left), else above it.
    const int below = box.y + box.height + int(22 * unit);
    const int y = below < img.rows ? below : std::max(int(18 * unit), box.y - int(6 * unit));
    cv::putText(img, label, cv::Point(box.x, y), cv::FONT_HERSHEY_SIMPLEX, unit, face, thick,
                cv::LINE_AA);
    // One bar per class at the top left, on a dark panel so it reads on any background.
    const double fs = std::max(0.3, std::min(img.cols, img.rows) / 900.0);  // names' font scale
    const int row = std::max(10, int(std::round(34 * fs))), label_w = int(std::round(190 * fs));
    const int width = int(std::round(220 * fs));
    cv::Mat panel = img(cv::Rect(0, 0, std::min(img.cols, label_w + width + 8),
                                 std::min(img.rows, row * int(classes.size()) + 6)));
    panel *= 0.4;
    for (std::size_t k = 0; k < classes.size() && k < w.probs.size(); ++k) {
      const int y = 3 + int(k) * row;
      if (y + row > img.rows) break;
      cv::putText(img, classes[k], cv::Point(4, y + row - row / 4), cv::FONT_HERSHEY_SIMPLEX, fs,
                  cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
      const int len = int(std::round(w.probs[k] * width));
      cv::rectangle(img, cv::Rect(label_w, y + row / 5, std::max(1, len), row - 2 * (row / 5)),
                    int64_t(k) == w.top ? cv::Scalar(60, 220, 60) : cv::Scalar(200, 160, 60),
                    cv::FILLED);
    }
  }
  if (w.gaze && box.area() > 0) {
    // (pitch, yaw) -> an arrow in the image plane: yaw to the side, pitch up (the image's y grows
    // downwards), as gaze estimation tools usually draw it.
    const double len = 0.6 * box.width, pitch = (*w.gaze)[0], yaw = (*w.gaze)[1];
    const cv::Point c(box.x + box.width / 2, box.y + box.height / 2);
    const cv::Point tip(c.x + int(std::round(-len * std::cos(pitch) * std::sin(yaw))),
                        c.y + int(std::round(-len * std::sin(pitch))));
    cv::arrowedLine(img, c, tip, cv::Scalar(40, 40, 255), thick + 1, cv::LINE_AA, 0, 0.2);
  }
}

}  // namespace

void write_annotated_video(data::FrameSource& source, const FaceTrack& track,
                           const VideoPrediction& v, const std::vector<std::string>& classes,
                           const std::string& path) {
  const int64_t n = source.num_frames();
  cv::VideoWriter out;
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    std::vector<int64_t> idx;
    for (int64_t i = c0; i < std::min(n, c0 + kChunk); ++i) idx.push_back(i);
    const auto frames = source.read(idx, 0, 0).contiguous();
    for (int64_t k = 0; k < frames.size(0); ++k) {
      const int64_t i = c0 + k;
      cv::Mat rgb(int(frames.size(1)), int(frames.size(2)), CV_8UC3, frames[k].data_ptr<uint8_t>());
      cv::Mat img;
      cv::cvtColor(rgb, img, cv::COLOR_RGB2BGR);
      if (!out.isOpened()) {
        out.open(path, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), v.fps, img.size());
        if (!out.isOpened())
          throw Error("cannot write the annotated video " + path +
                      " (OpenCV's writer refused it: check the folder and the .mp4 extension)");
      }
      const cv::Rect box = track.boxes.empty() ? cv::Rect() : track.boxes[std::size_t(i)];
      const bool found = !track.found.empty() && track.found[std::size_t(i)];
      if (!v.windows.empty()) draw(img, box, found, v.windows[window_of(v, i)], classes);
      out.write(img);
    }
  }
}

}  // namespace dfer::train::detail
