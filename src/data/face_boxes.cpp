// Face boxes (face_boxes.h): finding the Haar cascade, detecting the largest face of a frame and
// turning a clip's detections into smoothed square crop boxes.
#include "dfer/data/face_boxes.h"

#include <fmt/format.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::data {
namespace {

// Where Debian's opencv-data (and a source install of OpenCV) put the cascades.
constexpr const char* kCascadeDirs[] = {
    "/usr/share/opencv4/haarcascades",
    "/usr/local/share/opencv4/haarcascades",
    "/usr/share/opencv/haarcascades",
    "/usr/local/share/opencv/haarcascades",
};

// Detection runs on a copy whose shorter side is at most this: a face in a training clip fills a
// good part of the frame, and the cascade's cost grows with the pixel count (a 1280x720 RAVDESS
// frame is searched at 640x360).
constexpr int kDetectShortSide = 360;

double median(std::vector<double> v) {
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {  // the mean of the two middle values, so an even window is symmetric
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

}  // namespace

std::string find_face_cascade(const std::string& explicit_file, const std::string& name) {
  std::error_code ec;
  if (!explicit_file.empty()) {
    if (!fs::is_regular_file(explicit_file, ec))
      throw UsageError("face crop: cascade file '" + explicit_file + "' not found");
    return explicit_file;
  }
  for (const char* dir : kCascadeDirs) {
    const fs::path file = fs::path(dir) / name;
    if (fs::is_regular_file(file, ec)) return file.string();
  }
  throw UsageError(fmt::format(
      "face crop: {} not found in {} or its usual alternatives: install Debian's opencv-data "
      "(apt-get install opencv-data) or give --cascade FILE",
      name, kCascadeDirs[0]));
}

FaceDetector::FaceDetector(const std::string& cascade_file, int min_neighbors)
    : cascade_(std::make_unique<cv::CascadeClassifier>()), min_neighbors_(min_neighbors) {
  bool loaded = false;
  try {
    loaded = cascade_->load(cascade_file);
  } catch (const cv::Exception& e) {
    throw UsageError("face crop: '" + cascade_file +
                     "' is not an OpenCV cascade file: " + e.what());
  }
  if (!loaded || cascade_->empty())
    throw UsageError("face crop: '" + cascade_file + "' is not an OpenCV cascade file");
}

FaceDetector::~FaceDetector() = default;

std::optional<cv::Rect> FaceDetector::largest_face(const cv::Mat& frame) {
  if (frame.empty()) return std::nullopt;
  cv::Mat grey;
  if (frame.channels() == 1) {
    grey = frame;
  } else {
    cv::cvtColor(frame, grey, frame.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  }
  const int short_side = std::min(grey.rows, grey.cols);
  const double scale = short_side > kDetectShortSide ? double(kDetectShortSide) / short_side : 1.0;
  if (scale < 1.0) cv::resize(grey, grey, cv::Size(), scale, scale, cv::INTER_AREA);
  // Histogram equalisation is the cascade's usual companion: it was trained on normalised
  // contrast, and dim or washed-out frames otherwise lose detections.
  cv::equalizeHist(grey, grey);
  // Faces smaller than an eighth of the frame are background people or false hits, not the subject.
  const int min_side = std::max(24, std::min(grey.rows, grey.cols) / 8);
  std::vector<cv::Rect> faces;
  cascade_->detectMultiScale(grey, faces, 1.1, min_neighbors_, 0, cv::Size(min_side, min_side));
  if (faces.empty()) return std::nullopt;
  const cv::Rect best =
      *std::max_element(faces.begin(), faces.end(),
                        [](const cv::Rect& a, const cv::Rect& b) { return a.area() < b.area(); });
  const auto back = [scale](int v) { return static_cast<int>(std::lround(v / scale)); };
  return cv::Rect(back(best.x), back(best.y), back(best.width), back(best.height)) &
         cv::Rect(0, 0, frame.cols, frame.rows);
}

std::vector<cv::Rect> smooth_face_boxes(const std::vector<std::optional<cv::Rect>>& boxes,
                                        double margin, cv::Size image, int window) {
  if (!(margin > 0)) throw Error(fmt::format("face crop: margin {} must be positive", margin));
  if (image.width <= 0 || image.height <= 0)
    throw Error(fmt::format("face crop: empty image size {}x{}", image.width, image.height));
  const std::size_t n = boxes.size();
  // 1. Nearest detection: the last one at or before each frame, then the first one after it.
  std::vector<std::ptrdiff_t> before(n, -1), after(n, -1);
  for (std::size_t i = 0; i < n; ++i)
    before[i] = boxes[i] ? std::ptrdiff_t(i) : (i > 0 ? before[i - 1] : -1);
  for (std::size_t i = n; i-- > 0;)
    after[i] = boxes[i] ? std::ptrdiff_t(i) : (i + 1 < n ? after[i + 1] : -1);
  if (n == 0 || before[n - 1] < 0) return {};  // no frame has a face
  std::vector<double> cx(n), cy(n), side(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::ptrdiff_t at = std::ptrdiff_t(i);
    std::ptrdiff_t j = before[i];
    if (after[i] >= 0 && (j < 0 || after[i] - at < at - j)) j = after[i];
    const cv::Rect& b = *boxes[static_cast<std::size_t>(j)];
    cx[i] = b.x + b.width / 2.0;
    cy[i] = b.y + b.height / 2.0;
    side[i] = std::max(b.width, b.height);
  }
  // 2. Centred running medians.
  const std::ptrdiff_t half = std::max(0, window / 2);
  const std::ptrdiff_t last = std::ptrdiff_t(n) - 1;
  const auto smooth = [&](const std::vector<double>& v, std::size_t i) {
    const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, std::ptrdiff_t(i) - half);
    const std::ptrdiff_t hi = std::min<std::ptrdiff_t>(last, std::ptrdiff_t(i) + half);
    return median(std::vector<double>(v.begin() + lo, v.begin() + hi + 1));
  };
  // 3. Enlarge, limit to the image, shift inside it.
  const int max_side = std::min(image.width, image.height);
  std::vector<cv::Rect> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double c_x = smooth(cx, i), c_y = smooth(cy, i);
    const int s = std::clamp(static_cast<int>(std::lround(smooth(side, i) * margin)), 1, max_side);
    const int x = std::clamp(static_cast<int>(std::lround(c_x - s / 2.0)), 0, image.width - s);
    const int y = std::clamp(static_cast<int>(std::lround(c_y - s / 2.0)), 0, image.height - s);
    out[i] = cv::Rect(x, y, s, s);
  }
  return out;
}

}  // namespace dfer::data
