// Video -> frame folders (dfer-prep extract: frames, sizes, clip list, skips, resume, face-box
// smoothing, face-crop skips).
#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "dfer/data/dataset_lists.h"
#include "dfer/data/face_boxes.h"
#include "dfer/data/frame_source.h"
#include "dfer/data/video_frames.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace dfer::data;
using dfer::test::read_file;
using dfer::test::usage_error_of;
using dfer::test::write_file;

namespace {

// A tiny MJPG .avi (OpenCV's built-in writer needs no codec library): a bar moving over a
// gradient, or uniform grey frames when `grey`.
void write_video(const fs::path& p, int frames, int w = 64, int h = 48, bool grey = false) {
  fs::create_directories(p.parent_path());
  cv::VideoWriter out(p.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10, cv::Size(w, h));
  REQUIRE(out.isOpened());
  for (int t = 0; t < frames; ++t) {
    cv::Mat img(h, w, CV_8UC3, cv::Scalar::all(128));
    if (!grey) {
      for (int x = 0; x < w; ++x) img.col(x).setTo(cv::Scalar(4 * x % 256, 100, 200 - 3 * x % 200));
      cv::rectangle(img, cv::Rect(4 * t % (w - 8), 10, 8, 20), cv::Scalar(255, 255, 255), -1);
    }
    out.write(img);
  }
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> frame_names(int n) {
  std::vector<std::string> names;
  for (int i = 1; i <= n; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%05d.jpg", i);
    names.push_back(buf);
  }
  names.insert(names.begin(), kFramesDoneMarker);  // '.' sorts before digits
  return names;
}

// A dataset: in/videos.csv naming in/a.avi (8 frames) and in/sub/b.avi (10 frames).
struct Videos {
  fs::path dir = dfer::test::temp_dir("video-frames");
  ExtractOptions o;
  Videos() {
    write_video(dir / "in/a.avi", 8);
    write_video(dir / "in/sub/b.avi", 10);
    write_file(dir / "in/videos.csv", "a.avi 0\nsub/b.avi 3\n");
    o.list = (dir / "in/videos.csv").string();
    o.frames_dir = (dir / "frames").string();
    o.list_out = (dir / "lists/out.csv").string();
    o.size = 24;
    o.threads = 2;
  }
};

}  // namespace

TEST_CASE("extract writes every frame with the shorter side resized and lists the folders") {
  Videos v;
  const auto s = extract_video_frames(v.o);
  REQUIRE(s.videos == 2);
  REQUIRE(s.extracted == 2);
  REQUIRE(s.already_done == 0);
  REQUIRE(s.frames == 18);
  REQUIRE(s.skipped.empty());
  REQUIRE(files_in(v.dir / "frames/a") == frame_names(8));
  REQUIRE(files_in(v.dir / "frames/b") == frame_names(10));
  const cv::Mat first = cv::imread((v.dir / "frames/a/00001.jpg").string());
  REQUIRE(first.cols == 32);  // 64x48 -> shorter side 24, aspect kept
  REQUIRE(first.rows == 24);
  REQUIRE(read_file(v.dir / "frames/b/.done").rfind("frames 10\n", 0) == 0);
  REQUIRE(read_file(v.dir / "lists/out.csv") == "../frames/a 0\n../frames/b 3\n");
  // The loader reads the written folder as a clip.
  REQUIRE(open_frame_source(resolve_clip_path(v.o.list_out, "../frames/b"))->num_frames() == 10);
  REQUIRE_THAT(describe(s), Catch::Contains("2 videos listed, 2 extracted, 0 already done") &&
                                Catch::Contains("18 frames written"));

  SECTION("--size 0 keeps the stored size") {
    v.o.size = 0;
    v.o.frames_dir = (v.dir / "native").string();
    extract_video_frames(v.o);
    const cv::Mat img = cv::imread((v.dir / "native/b/00010.jpg").string());
    REQUIRE((img.cols == 64 && img.rows == 48));
  }
}

TEST_CASE("extract skips unreadable and missing videos with their reasons, the others succeed") {
  Videos v;
  write_file(v.dir / "in/broken.avi", "this is not a video\n");
  write_file(v.dir / "in/videos.csv", "broken.avi 1\na.avi 0\nmissing.avi 2\nsub/b.avi 3\n");
  const auto s = extract_video_frames(v.o);
  REQUIRE(s.videos == 4);
  REQUIRE(s.extracted == 2);
  REQUIRE(s.skipped.size() == 2);
  REQUIRE(s.skipped[0].file == v.o.list);
  REQUIRE(s.skipped[0].line == 1);
  REQUIRE(s.skipped[0].item == "broken.avi");
  REQUIRE_THAT(s.skipped[0].reason, Catch::Contains("cannot open") || Catch::Contains("no frame"));
  REQUIRE(s.skipped[1].line == 3);
  REQUIRE(s.skipped[1].reason == "video file not found");
  REQUIRE_FALSE(fs::exists(v.dir / "frames/broken"));
  REQUIRE(read_file(v.dir / "lists/out.csv") == "../frames/a 0\n../frames/b 3\n");
  REQUIRE_THAT(describe(s), Catch::Contains("2 skipped") && Catch::Contains("videos.csv:3"));
}

TEST_CASE("extract resumes: complete folders are kept, incomplete or stale ones are redone") {
  Videos v;
  extract_video_frames(v.o);
  // Sentinels: a file the job would overwrite if it redid a clip, and a stray frame it would clear.
  const fs::path a1 = v.dir / "frames/a/00001.jpg";
  REQUIRE(cv::imwrite(a1.string(), cv::Mat(5, 5, CV_8UC3, cv::Scalar::all(7))));
  const std::string sentinel = read_file(a1);
  const auto marker_time = fs::last_write_time(v.dir / "frames/b/.done");
  const auto again = extract_video_frames(v.o);
  REQUIRE(again.already_done == 2);
  REQUIRE(again.extracted == 0);
  REQUIRE(again.frames == 0);
  REQUIRE(read_file(a1) == sentinel);
  REQUIRE(fs::last_write_time(v.dir / "frames/b/.done") == marker_time);
  REQUIRE(read_file(v.dir / "lists/out.csv") == "../frames/a 0\n../frames/b 3\n");

  SECTION("a folder without its marker is redone, stray frame files removed") {
    fs::remove(v.dir / "frames/b/.done");
    write_file(v.dir / "frames/b/00099.jpg", "stale");
    const auto s = extract_video_frames(v.o);
    REQUIRE(s.already_done == 1);
    REQUIRE(s.extracted == 1);
    REQUIRE(s.frames == 10);
    REQUIRE(files_in(v.dir / "frames/b") == frame_names(10));
    REQUIRE(read_file(a1) == sentinel);
  }
  SECTION("another --size makes every folder stale") {
    v.o.size = 12;
    const auto s = extract_video_frames(v.o);
    REQUIRE(s.extracted == 2);
    REQUIRE(cv::imread(a1.string()).rows == 12);
  }
}

TEST_CASE("extract rejects bad rows, shared folder names and bad options before any work") {
  Videos v;
  write_file(v.dir / "in/other/a.avi", "x");
  write_file(v.dir / "in/dup.csv", "a.avi 0\na.avi 0\nother/a.avi 1\n");
  v.o.list = (v.dir / "in/dup.csv").string();
  REQUIRE_THAT(usage_error_of([&] { extract_video_frames(v.o); }),
               Catch::Contains("dup.csv:3") && Catch::Contains("line 1") &&
                   Catch::Contains("same file stem"));
  REQUIRE_FALSE(fs::exists(v.dir / "frames"));
  write_file(v.dir / "in/bad.csv", "a.avi 0\nsub/b.avi\n");
  v.o.list = (v.dir / "in/bad.csv").string();
  REQUIRE_THAT(usage_error_of([&] { extract_video_frames(v.o); }), Catch::Contains("bad.csv:2"));
  write_file(v.dir / "in/bad.csv", "a.avi happy\n");
  REQUIRE_THAT(usage_error_of([&] { extract_video_frames(v.o); }),
               Catch::Contains("bad.csv:1") && Catch::Contains("not a number"));
  v.o.face_crop = true;
  v.o.size = 0;
  REQUIRE_THAT(usage_error_of([&] { extract_video_frames(v.o); }), Catch::Contains("--size"));
  v.o.size = 24;
  v.o.cascade = (v.dir / "no-such-cascade.xml").string();
  REQUIRE_THAT(usage_error_of([&] { extract_video_frames(v.o); }), Catch::Contains("not found"));
  v.o.cascade = (v.dir / "in/videos.csv").string();
  REQUIRE_THAT(usage_error_of([&] { extract_video_frames(v.o); }),
               Catch::Contains("not an OpenCV cascade"));
}

TEST_CASE("smooth_face_boxes fills gaps from the nearest face, squares, enlarges and clamps") {
  using Box = std::optional<cv::Rect>;
  const cv::Size image(64, 48);
  REQUIRE(smooth_face_boxes({Box{}, Box{}}, 1.25, image).empty());
  REQUIRE(smooth_face_boxes({}, 1.25, image).empty());
  // One detection: every frame takes it; square side = max(w, h), centred on the box.
  auto b = smooth_face_boxes({Box{}, Box{}, cv::Rect(20, 10, 10, 16), Box{}}, 1.0, image);
  REQUIRE(b.size() == 4);
  for (const auto& r : b) REQUIRE(r == cv::Rect(17, 10, 16, 16));
  b = smooth_face_boxes({cv::Rect(20, 10, 10, 16)}, 1.5, image);
  REQUIRE(b[0] == cv::Rect(13, 6, 24, 24));
  // Nearest detection, the earlier one on a tie (window 1: no smoothing).
  const cv::Rect p(10, 10, 10, 10), q(40, 20, 20, 20);
  b = smooth_face_boxes({p, Box{}, Box{}, Box{}, q}, 1.0, image, 1);
  REQUIRE(b == std::vector<cv::Rect>{p, p, p, q, cv::Rect(40, 20, 20, 20)});
  // Clamping: shifted inside at the corner; a side above the shorter image side is limited to it.
  b = smooth_face_boxes({cv::Rect(0, 0, 10, 10)}, 2.0, image);
  REQUIRE(b[0] == cv::Rect(0, 0, 20, 20));
  b = smooth_face_boxes({cv::Rect(50, 30, 14, 18)}, 3.0, image);
  REQUIRE(b[0] == cv::Rect(16, 0, 48, 48));
  // The running median ignores one false detection.
  std::vector<Box> run(9, cv::Rect(20, 10, 16, 16));
  run[4] = cv::Rect(44, 30, 8, 8);
  for (const auto& r : smooth_face_boxes(run, 1.0, image, 5))
    REQUIRE(r == cv::Rect(20, 10, 16, 16));
  REQUIRE_THROWS_AS(smooth_face_boxes(run, 0.0, image), dfer::Error);
}

TEST_CASE("extract --face-crop skips a video without a face with its reason") {
  std::string cascade;
  try {
    cascade = find_face_cascade();
  } catch (const dfer::UsageError& e) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("CI=true needs opencv-data: " << e.what());
    WARN("skipping: " << e.what());
    return;
  }
  Videos v;
  write_video(v.dir / "in/grey.avi", 6, 64, 48, true);
  write_file(v.dir / "in/videos.csv", "grey.avi 2\n");
  v.o.face_crop = true;
  const auto s = extract_video_frames(v.o);
  REQUIRE(s.extracted == 0);
  REQUIRE(s.skipped.size() == 1);
  REQUIRE(s.skipped[0].line == 1);
  REQUIRE_THAT(s.skipped[0].reason, Catch::Contains("no face found in any of its 6 frames"));
  REQUIRE_FALSE(fs::exists(v.dir / "frames/grey"));
  REQUIRE(read_file(v.dir / "lists/out.csv").empty());
}
