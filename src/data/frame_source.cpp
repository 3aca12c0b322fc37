// Frame-source factory, annotation path resolution and the frame resize/store helper.
#include "dfer/data/frame_source.h"

#include <opencv2/imgproc.hpp>

#include <filesystem>

#include "dfer/data/pil_resize.h"
#include "dfer/data/shard.h"
#include "dfer/util/error.h"
#include "frame_internal.h"

namespace fs = std::filesystem;

namespace dfer::data {

namespace detail {

void store_frame(const cv::Mat& src, bool src_is_bgr, int out_h, int out_w, uint8_t* dst) {
  if (src.type() != CV_8UC3) throw Error("store_frame: expected an 8-bit 3-channel image");
  cv::Mat out(out_h, out_w, CV_8UC3, dst);
  const bool same_size = src.rows == out_h && src.cols == out_w;
  // Resizing is Pillow's antialiased bilinear (the reference's), not OpenCV's INTER_LINEAR.
  auto resize_into = [&](cv::Mat& to) {
    pil_bilinear_resize(src.data, src.rows, src.cols, src.step[0], 3, to.data, out_h, out_w);
  };
  if (src_is_bgr) {
    if (same_size) {
      cv::cvtColor(src, out, cv::COLOR_BGR2RGB);
    } else {
      cv::Mat resized(out_h, out_w, CV_8UC3);
      resize_into(resized);
      cv::cvtColor(resized, out, cv::COLOR_BGR2RGB);
    }
  } else if (same_size) {
    src.copyTo(out);
  } else {
    resize_into(out);  // `out` wraps the destination buffer: written in place
  }
  if (out.data != dst) throw Error("store_frame: OpenCV reallocated the output buffer");
}

void resolve_out_size(int stored_h, int stored_w, int& out_h, int& out_w, const std::string& what) {
  if (out_h == 0 && out_w == 0) {
    out_h = stored_h;
    out_w = stored_w;
    return;
  }
  if (out_h <= 0 || out_w <= 0) {
    throw Error(what + ": invalid output size " + std::to_string(out_h) + "x" +
                std::to_string(out_w) + " (both > 0, or both 0 for the stored size)");
  }
}

void check_indices(const std::vector<int64_t>& indices, int64_t n, const std::string& what) {
  for (int64_t i : indices) {
    if (i < 0 || i >= n) {
      throw Error(what + ": frame index " + std::to_string(i) + " out of range [0, " +
                  std::to_string(n) + ")");
    }
  }
}

}  // namespace detail

std::string resolve_clip_path(const std::string& annotation_file, const std::string& entry) {
  fs::path p(entry);
  if (p.is_absolute()) return p.lexically_normal().string();
  fs::path base = fs::path(annotation_file).parent_path();
  return (base / p).lexically_normal().string();
}

namespace {

// "<pack>#<key>": the first '#' whose prefix names a pack directory or index file.
bool split_pack_reference(const std::string& path, std::string& pack, std::string& key) {
  for (size_t pos = path.find('#'); pos != std::string::npos; pos = path.find('#', pos + 1)) {
    std::string prefix = path.substr(0, pos);
    std::error_code ec;
    if (prefix.empty()) continue;
    bool is_pack = fs::is_regular_file(prefix, ec) ||
                   (fs::is_directory(prefix, ec) &&
                    fs::is_regular_file(fs::path(prefix) / kPackIndexName, ec));
    if (is_pack) {
      pack = prefix;
      key = path.substr(pos + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

std::unique_ptr<FrameSource> open_frame_source(const std::string& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (fs::is_directory(status)) return detail::open_folder_source(path);
  if (fs::exists(status)) return detail::open_video_source(path);
  std::string pack, key;
  if (split_pack_reference(path, pack, key)) return open_packed_source(pack, key);
  throw Error("clip not found: " + path +
              " (neither a frame folder, a video file nor a <pack>#<key>)");
}

}  // namespace dfer::data
