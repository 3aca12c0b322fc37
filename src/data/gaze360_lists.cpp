// Gaze360 list conversion (gaze360_lists.h): the gaze360 job of dfer-prep, with face cropping.
#include "dfer/data/gaze360_lists.h"

#include <fmt/format.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <set>
#include <tuple>
#include <unordered_map>

#include "dfer/data/frame_lists.h"  // detail:: list helpers
#include "dfer/util/error.h"
#include "dfer/util/gaze.h"
#include "frame_internal.h"

namespace fs = std::filesystem;

namespace dfer::data {

// Label lists are read, named and written by the same rules as the frame lists (frame_lists.h).
using detail::check_sequence_options;
using detail::finite_number;
using detail::for_each_row;
using detail::frame_number;
using detail::path_for_list;
using detail::remove_stale;
using detail::where;
using detail::write_list;

namespace {

constexpr int kJpegQuality = 95;      // crops are training inputs: keep JPEG loss negligible
constexpr double kMaxBoxCoord = 1e6;  // pixels; beyond this a box is a unit mix-up, not a face

struct FaceBox {
  double x = 0, y = 0, w = 0, h = 0;
  std::size_t line = 0;
};
using FaceBoxes = std::unordered_map<std::string, FaceBox>;  // by normalised relative image path

struct GazeRow {
  std::string image, rec, person;  // image relative to the image root
  int64_t frame = 0;
  double pitch = 0, yaw = 0;
  std::size_t line = 0;
};

FaceBoxes read_face_boxes(const std::string& file) {
  FaceBoxes boxes;
  for_each_row(file, [&](std::size_t line, const std::vector<std::string>& f) {
    const std::string at = where(file, line);
    if (f.size() != 5)
      throw UsageError(at + "expected 5 columns (image x y w h), found " +
                       std::to_string(f.size()));
    static const char* names[4] = {"x", "y", "w", "h"};
    double v[4];
    for (int k = 0; k < 4; ++k) {
      auto n = finite_number(f[k + 1]);
      if (!n) throw UsageError(at + names[k] + " '" + f[k + 1] + "' is not a finite number");
      if (std::abs(*n) > kMaxBoxCoord) throw UsageError(at + names[k] + " is out of range");
      v[k] = *n;
    }
    if (v[2] <= 0 || v[3] <= 0) throw UsageError(at + "box width and height must be positive");
    auto [it, added] = boxes.emplace(fs::path(f[0]).lexically_normal().generic_string(),
                                     FaceBox{v[0], v[1], v[2], v[3], line});
    if (!added)
      throw UsageError(at + "second box for '" + f[0] + "' (first on line " +
                       std::to_string(it->second.line) + ")");
  });
  return boxes;
}

// Reads one Gaze360 label list; images without a face box (when boxes are given) are skipped.
std::vector<GazeRow> read_gaze_labels(const std::string& file, const fs::path& root,
                                      const FaceBoxes* boxes, Gaze360Summary& s) {
  std::vector<GazeRow> rows;
  for_each_row(file, [&](std::size_t line, const std::vector<std::string>& f) {
    const std::string at = where(file, line);
    if (f.size() != 4)
      throw UsageError(at + "expected 4 columns (image gx gy gz), found " +
                       std::to_string(f.size()));
    double g[3];
    for (int k = 0; k < 3; ++k) {
      auto n = finite_number(f[k + 1]);
      if (!n) throw UsageError(at + "g" + "xyz"[k] + " '" + f[k + 1] + "' is not a finite number");
      g[k] = *n;
    }
    if (g[0] == 0 && g[1] == 0 && g[2] == 0) throw UsageError(at + "the gaze vector is zero");
    const PitchYaw py = gaze_vector_to_pitch_yaw(g[0], g[1], g[2]);
    if (const char* problem = gaze_label_problem(py.pitch, py.yaw); *problem)
      throw UsageError(at + problem);
    // rec_<n>/head/<person>/<frame>.jpg: the recording is the first folder, the person the last.
    const fs::path rel = fs::path(f[0]).lexically_normal();
    const auto depth = std::distance(rel.begin(), rel.end());
    const auto frame = frame_number(rel);
    if (rel.is_absolute() || depth < 3 || *rel.begin() == ".." || !frame)
      throw UsageError(at +
                       "expected an image path rec_<n>/head/<person>/<frame>.jpg relative to "
                       "--images, found '" +
                       f[0] + "'");
    std::error_code ec;
    if (!fs::is_regular_file(root / rel, ec))
      throw UsageError(at + "image '" + (root / rel).string() + "' not found");
    ++s.labels;
    if (boxes && boxes->count(rel.generic_string()) == 0) {
      s.skipped.push_back({file, line, f[0], "no face box"});
      return;
    }
    rows.push_back({rel.generic_string(), rel.begin()->string(),
                    rel.parent_path().filename().string(), *frame, py.pitch, py.yaw, line});
  });
  return rows;
}

// Crops `src` to the face's square (black outside the image), resizes it and writes a JPEG.
void write_face_crop(const fs::path& src, const fs::path& dst, const FaceBox& box,
                     const std::string& boxes_file, int size) {
  const cv::Mat image = detail::decode_image_bgr(src.string());
  const SquareCrop c = face_crop_square(box.x, box.y, box.w, box.h);
  const cv::Rect want(c.x, c.y, c.side, c.side);
  const cv::Rect inside = want & cv::Rect(0, 0, image.cols, image.rows);
  if (inside.empty())
    throw UsageError(where(boxes_file, box.line) +
                     fmt::format("the face box lies outside the {}x{} image {}", image.cols,
                                 image.rows, src.string()));
  cv::Mat square(c.side, c.side, image.type(), cv::Scalar::all(0));
  image(inside).copyTo(square(inside - want.tl()));
  cv::Mat out;
  cv::resize(square, out, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
  fs::create_directories(dst.parent_path());
  if (!cv::imwrite(dst.string(), out, {cv::IMWRITE_JPEG_QUALITY, kJpegQuality}))
    throw Error("cannot write the face crop " + dst.string());
}

}  // namespace

SquareCrop face_crop_square(double x, double y, double w, double h) {
  const int side = std::max(1, static_cast<int>(std::lround(std::max(w, h))));
  return {static_cast<int>(std::lround(x + w / 2 - side / 2.0)),
          static_cast<int>(std::lround(y + h / 2 - side / 2.0)), side};
}

Gaze360Summary convert_gaze360(const Gaze360Options& o) {
  check_sequence_options("gaze360", o.min_len, o.max_gap);
  if (o.label_files.empty()) throw UsageError("gaze360: give at least one --labels file");
  if (o.size < 1 || o.size > 4096) throw UsageError("gaze360: --size must be in [1, 4096]");
  std::error_code ec;
  if (!fs::is_directory(o.image_root, ec))
    throw UsageError("gaze360: --images '" + o.image_root + "' is not a folder");
  std::set<std::string> splits = {"images"};  // the crops' folder is no split name
  for (const auto& file : o.label_files) {
    if (!splits.insert(fs::path(file).stem().string()).second)
      throw UsageError("gaze360: the split name (file stem) of '" + file + "' is taken");
  }
  const FaceBoxes boxes = o.boxes_file.empty() ? FaceBoxes{} : read_face_boxes(o.boxes_file);
  const fs::path root(o.image_root), out(o.out_dir);
  std::set<std::string> cropped;  // an image listed by two splits is cropped once
  Gaze360Summary s;
  for (const auto& file : o.label_files) {
    const std::string split = fs::path(file).stem().string();
    auto rows = read_gaze_labels(file, root, o.boxes_file.empty() ? nullptr : &boxes, s);
    const auto key = [](const GazeRow& r) { return std::tie(r.rec, r.person, r.frame); };
    std::sort(rows.begin(), rows.end(),
              [&](const auto& a, const auto& b) { return key(a) < key(b); });
    const fs::path dir = out / split;
    fs::create_directories(dir);
    s.stale_removed += remove_stale(dir, split);
    int k = 0;
    for (std::size_t b = 0, e = 0; b < rows.size(); b = e) {
      const auto same_track = [&](const GazeRow& r) {
        return r.rec == rows[b].rec && r.person == rows[b].person;
      };
      if (b > 0 && !same_track(rows[b - 1])) k = 0;  // k counts one person's sequences
      for (e = b + 1;
           e < rows.size() && same_track(rows[e]) && rows[e].frame - rows[e - 1].frame <= o.max_gap;
           ++e) {
        if (rows[e].frame == rows[e - 1].frame)
          throw UsageError(where(file, rows[e].line) + "same recording, person and frame as line " +
                           std::to_string(rows[e - 1].line));
      }
      const int64_t steps = rows[e - 1].frame - rows[b].frame + 1;  // after filling the gaps
      const std::string name =
          fmt::format("{}_{}_{}_{}.csv", split, rows[b].rec, rows[b].person, k++);
      if (steps < o.min_len) {
        s.skipped.push_back({file, rows[b].line, name,
                             fmt::format("{} time steps < --min-len {}", steps, o.min_len)});
        continue;
      }
      std::string text;
      for (std::size_t i = b; i < e; ++i) {
        const GazeRow& r = rows[i];
        fs::path image = root / r.image;
        if (!o.boxes_file.empty()) {
          fs::path crop = (out / "images" / r.image).replace_extension(".jpg");  // always a JPEG
          if (cropped.insert(r.image).second) {
            write_face_crop(image, crop, boxes.at(r.image), o.boxes_file, o.size);
            ++s.crops;
          }
          image = crop;
        }
        const std::string row =
            fmt::format("{} 0 {:.6f} {:.6f}\n", path_for_list(image, dir), r.pitch, r.yaw);
        // Frames missing before the next row repeat this one, so each row is one time step.
        const int64_t copies = i + 1 < e ? rows[i + 1].frame - r.frame : 1;
        for (int64_t c = 0; c < copies; ++c) text += row;
        s.filled += copies - 1;
      }
      write_list(dir / name, text);
      ++s.sequences;
      s.rows += steps;
    }
  }
  return s;
}

}  // namespace dfer::data
