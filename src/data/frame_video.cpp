// Video-file clips (pre-training lists of mp4/avi files) decoded with cv::VideoCapture.
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <atomic>
#include <map>

#include "dfer/data/frame_source.h"
#include "dfer/util/error.h"
#include "dfer/util/log.h"
#include "frame_internal.h"

namespace dfer::data {

namespace {

class VideoSource final : public FrameSource {
 public:
  explicit VideoSource(std::string file) : file_(std::move(file)) {
    open_capture();
    double count = cap_.get(cv::CAP_PROP_FRAME_COUNT);
    // Probing frame 0 turns "opens but cannot decode" (wrong codec, damaged stream) into an error
    // at open time, where the caller can still name the annotation line.
    cv::Mat first;
    if (!cap_.read(first) || first.empty()) {
      throw Error("unreadable video " + file_ + ": no decodable frame");
    }
    pos_ = 1;
    height_ = first.rows;
    width_ = first.cols;
    if (count >= 1.0 && count < 1e9) {
      frames_ = static_cast<int64_t>(count);
    } else {
      // Streams without a frame count in the header: count by demuxing (no decoding).
      frames_ = 1;
      while (cap_.grab()) ++frames_;
      pos_ = frames_;
    }
  }

  int64_t num_frames() const override { return frames_; }
  SourceKind kind() const override { return SourceKind::kVideo; }
  std::string describe() const override { return file_; }

  torch::Tensor read(const std::vector<int64_t>& indices, int out_h, int out_w) override {
    detail::check_indices(indices, frames_, "video " + file_);
    detail::resolve_out_size(height_, width_, out_h, out_w, "video " + file_);
    // Decode sequentially in index order (seeking by frame number is unreliable for many codecs),
    // then scatter into the requested order.
    std::vector<int64_t> wanted(indices);
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    if (!wanted.empty() && wanted.front() < pos_) {
      open_capture();
      pos_ = 0;
    }
    std::map<int64_t, torch::Tensor> decoded;
    cv::Mat frame, last;
    int64_t last_index = -1;
    for (int64_t idx : wanted) {
      bool ok = true;
      while (ok && pos_ < idx) {
        ok = cap_.grab();
        if (ok) ++pos_;
      }
      if (ok) ok = cap_.read(frame) && !frame.empty();
      if (ok) {
        ++pos_;
        last = frame;
        last_index = idx;
      } else {
        // Container frame counts are often a few frames too high: repeat the last decoded frame
        // (what a reader clamping to the real length would do) and say so once.
        if (last.empty()) {
          throw Error("unreadable video " + file_ + ": cannot decode frame " + std::to_string(idx) +
                      " of " + std::to_string(frames_));
        }
        if (!warned_.exchange(true))
          spdlog::warn(
              "video {}: header says {} frames, decoding stopped at {}; repeating frame {} "
              "(said for the first such video of the run only)",
              file_, frames_, pos_, last_index);
      }
      auto t = torch::empty({out_h, out_w, 3}, torch::kUInt8);
      if (last.type() != CV_8UC3) throw Error("video " + file_ + ": unsupported pixel format");
      detail::store_frame(last, true, out_h, out_w, t.data_ptr<uint8_t>());
      decoded.emplace(idx, t);
    }
    auto out = torch::empty({static_cast<int64_t>(indices.size()), out_h, out_w, 3}, torch::kUInt8);
    for (size_t k = 0; k < indices.size(); ++k)
      out[static_cast<int64_t>(k)].copy_(decoded.at(indices[k]));
    return out;
  }

 private:
  void open_capture() {
    cap_.release();
    bool opened = false;
    try {
      opened = cap_.open(file_, cv::CAP_ANY);
    } catch (const cv::Exception& e) {
      throw Error("unreadable video " + file_ + ": " + e.what());
    }
    if (!opened || !cap_.isOpened()) throw Error("unreadable video " + file_ + ": cannot open");
  }

  std::string file_;
  cv::VideoCapture cap_;
  int64_t frames_ = 0;
  int64_t pos_ = 0;  // index of the frame the next grab() returns
  int height_ = 0, width_ = 0;
  // One source is opened per sample: the flag is the process's, so a dataset of such videos
  // (common in VoxCeleb2) gives one line, not one per sample.
  static inline std::atomic<bool> warned_{false};
};

}  // namespace

namespace detail {

std::unique_ptr<FrameSource> open_video_source(const std::string& file) {
  return std::make_unique<VideoSource>(file);
}

}  // namespace detail

}  // namespace dfer::data
