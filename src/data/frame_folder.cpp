// Frame-folder clips (DFEW/FERV39k/MAFW layout): validated image decoding and the folder source.
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "dfer/data/frame_source.h"
#include "dfer/util/error.h"
#include "frame_internal.h"

namespace fs = std::filesystem;

namespace dfer::data {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_frame_file(const fs::path& p) {
  std::string ext = lower(p.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<uint8_t> read_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot open image " + file);
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  if (size < 0) throw Error("cannot read image " + file);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw Error("cannot read image " + file);
  }
  return bytes;
}

// libjpeg decodes a truncated file with only a warning (grey-filling the rest), and OpenCV returns
// that image as if it were fine. The structural end markers catch truncation before decoding.
void check_complete(const std::vector<uint8_t>& b, const std::string& file) {
  if (b.empty()) throw Error("corrupt image " + file + ": empty file");
  if (b.size() >= 2 && b[0] == 0xFF && b[1] == 0xD8) {
    size_t end = b.size();
    // Some writers pad after the end-of-image marker with zero bytes; tolerate that only.
    while (end > 2 && b[end - 1] == 0x00) --end;
    if (end < 4 || b[end - 2] != 0xFF || b[end - 1] != 0xD9) {
      throw Error("corrupt image " + file + ": truncated JPEG (no end-of-image marker)");
    }
    return;
  }
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (b.size() >= 8 && std::equal(kPng, kPng + 8, b.begin())) {
    static const uint8_t kIend[4] = {'I', 'E', 'N', 'D'};
    if (b.size() < 20 || !std::equal(kIend, kIend + 4, b.end() - 8)) {
      throw Error("corrupt image " + file + ": truncated PNG (no IEND chunk)");
    }
  }
}

class FolderSource final : public FrameSource {
 public:
  explicit FolderSource(std::string folder)
      : folder_(std::move(folder)), files_(list_frame_files(folder_)) {}

  int64_t num_frames() const override { return static_cast<int64_t>(files_.size()); }
  SourceKind kind() const override { return SourceKind::kFolder; }
  std::string describe() const override { return folder_; }

  torch::Tensor read(const std::vector<int64_t>& indices, int out_h, int out_w) override {
    detail::check_indices(indices, num_frames(), "frame folder " + folder_);
    const int64_t t = static_cast<int64_t>(indices.size());
    torch::Tensor out;
    const bool keep_size = out_h == 0 && out_w == 0;
    // Temporal sampling repeats indices (padding with the last frame): decode each file once.
    std::unordered_map<int64_t, int64_t> done;
    for (int64_t k = 0; k < t; ++k) {
      auto it = done.find(indices[k]);
      if (it != done.end()) {
        out[k].copy_(out[it->second]);
        continue;
      }
      const std::string& file = files_[static_cast<size_t>(indices[k])];
      cv::Mat bgr = detail::decode_image_bgr(file);
      if (!out.defined()) {
        detail::resolve_out_size(bgr.rows, bgr.cols, out_h, out_w, "frame folder " + folder_);
        out = torch::empty({t, out_h, out_w, 3}, torch::kUInt8);
      } else if (keep_size && (bgr.rows != out_h || bgr.cols != out_w)) {
        throw Error("frame " + file + " is " + std::to_string(bgr.rows) + "x" +
                    std::to_string(bgr.cols) + ", earlier frames are " + std::to_string(out_h) +
                    "x" + std::to_string(out_w) + " (read at the stored size needs equal sizes)");
      }
      detail::store_frame(bgr, true, out_h, out_w, out[k].data_ptr<uint8_t>());
      done.emplace(indices[k], k);
    }
    if (!out.defined()) {
      int h = out_h, w = out_w;
      detail::resolve_out_size(0, 0, h, w, "frame folder " + folder_);
      out = torch::empty({0, h, w, 3}, torch::kUInt8);
    }
    return out;
  }

 private:
  std::string folder_;
  std::vector<std::string> files_;
};

}  // namespace

std::vector<std::string> list_frame_files(const std::string& folder) {
  std::error_code ec;
  auto status = fs::status(folder, ec);
  if (!fs::exists(status)) throw Error("frame folder not found: " + folder);
  if (!fs::is_directory(status)) throw Error("not a frame folder: " + folder);
  std::vector<std::string> names;
  fs::directory_iterator it(folder, ec), end;
  if (ec) throw Error("cannot list frame folder " + folder + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error("cannot list frame folder " + folder + ": " + ec.message());
    if (is_frame_file(it->path()) && it->is_regular_file(ec)) {
      names.push_back(it->path().filename().string());
    }
  }
  if (names.empty()) throw Error("empty clip: no *.jpg/*.png frames in " + folder);
  std::sort(names.begin(), names.end());  // byte-wise, like Python's sorted(glob(...))
  std::vector<std::string> files;
  files.reserve(names.size());
  for (auto& n : names) files.push_back((fs::path(folder) / n).string());
  return files;
}

namespace detail {

cv::Mat decode_image_bgr(const std::string& file) {
  std::vector<uint8_t> bytes = read_bytes(file);
  check_complete(bytes, file);
  cv::Mat img;
  if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8) {
    img = decode_jpeg_bgr_strict(bytes, file);
    if (!img.empty()) return img;
  }
  try {
    img = cv::imdecode(bytes, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    throw Error("corrupt image " + file + ": " + e.what());
  }
  if (img.empty() || img.rows <= 0 || img.cols <= 0) {
    throw Error("corrupt image " + file + ": cannot decode");
  }
  if (img.depth() == CV_16U) img.convertTo(img, CV_8U, 1.0 / 257.0);  // 16-bit PNGs, as PIL
  if (img.depth() != CV_8U) throw Error("unsupported image depth in " + file);
  return img;
}

std::unique_ptr<FrameSource> open_folder_source(const std::string& folder) {
  return std::make_unique<FolderSource>(folder);
}

}  // namespace detail

torch::Tensor read_image_rgb(const std::string& file, int out_h, int out_w) {
  cv::Mat bgr = detail::decode_image_bgr(file);
  detail::resolve_out_size(bgr.rows, bgr.cols, out_h, out_w, file);
  auto out = torch::empty({out_h, out_w, 3}, torch::kUInt8);
  detail::store_frame(bgr, true, out_h, out_w, out.data_ptr<uint8_t>());
  return out;
}

}  // namespace dfer::data
