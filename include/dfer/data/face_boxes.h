// Face boxes of a clip for `dfer-prep extract --face-crop`: the largest face per frame (OpenCV Haar
// cascade), then one square crop box per frame, smoothed over the clip so the crop does not jitter.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cv {
class CascadeClassifier;
}

namespace dfer::data {

// The cascade file: `explicit_file` when given (it must exist), else the cascade `name` of Debian's
// opencv-data package, looked up in the usual install folders (/usr/share/opencv4/haarcascades,
// ...). Throws dfer::UsageError naming what was looked for, with the fix (install opencv-data or
// give --cascade FILE).
inline constexpr const char* kDefaultCascade = "haarcascade_frontalface_default.xml";
std::string find_face_cascade(const std::string& explicit_file = "",
                              const std::string& name = kDefaultCascade);

// A loaded cascade. Not thread-safe (detectMultiScale keeps scratch buffers): one per worker.
class FaceDetector {
 public:
  // dfer::UsageError if it cannot load. `min_neighbors`: overlapping hits a face needs (fewer finds
  // more faces and more false ones; 5 suits dataset extraction, where a miss only costs a frame).
  explicit FaceDetector(const std::string& cascade_file, int min_neighbors = 5);
  ~FaceDetector();
  FaceDetector(const FaceDetector&) = delete;
  FaceDetector& operator=(const FaceDetector&) = delete;

  // The largest face found in a BGR (or grey) frame, in that frame's pixels, or nullopt.
  std::optional<cv::Rect> largest_face(const cv::Mat& frame);

 private:
  std::unique_ptr<cv::CascadeClassifier> cascade_;
  int min_neighbors_ = 5;
};

// Per-frame detections (nullopt: no face in that frame) -> one square crop box per frame inside an
// image of `image` size, or an empty vector when no frame has a face:
//  1. a frame without a detection takes the nearest detected frame's box (the earlier one on a
//  tie);
//  2. box centre and side (the larger of width and height) are each replaced by their median over
//     `window` frames centred on the frame (fewer at the clip ends; window <= 1: no smoothing): the
//     median ignores a single false detection or a missed frame, where a mean would be pulled;
//  3. the side is multiplied by `margin` (room for the chin and the forehead) and limited to the
//     image's shorter side, then the square is shifted (not shrunk) to lie inside the image.
// Throws dfer::Error on margin <= 0 or an empty image size.
std::vector<cv::Rect> smooth_face_boxes(const std::vector<std::optional<cv::Rect>>& boxes,
                                        double margin, cv::Size image, int window = 9);

}  // namespace dfer::data
