// Frame-list preparation: clip list -> frame list, frame list -> per-sequence CSVs, Gaze360 labels
// -> gaze sequences (conversion, breaks, gap filling, face crops), and file:line errors.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dfer/data/frame_lists.h"
#include "dfer/data/frame_source.h"
#include "dfer/data/gaze360_lists.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;
using namespace dfer::data;

namespace {

constexpr double kPi = 3.14159265358979323846;

// A fresh folder under the system temp directory, removed with its contents at scope exit.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path =
        fs::temp_directory_path() / ("dfer-frame-lists-" + tag + "-" + std::to_string(::getpid()) +
                                     "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  REQUIRE(in);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> f;
  for (std::string s; in >> s;) f.push_back(s);
  return f;
}

// A small JPEG of uniform grey `value`.
void write_image(const fs::path& p, int value = 128, int size = 8) {
  fs::create_directories(p.parent_path());
  REQUIRE(cv::imwrite(p.string(), cv::Mat(size, size, CV_8UC3, cv::Scalar::all(value))));
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const dfer::UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("frames expands a clip list into frame rows in folder order, labels kept") {
  TempDir t("frames");
  for (int k : {3, 1, 2}) write_image(t.path / "clips/a" / ("0000" + std::to_string(k) + ".jpg"));
  for (int k : {2, 1}) write_image(t.path / "clips/b" / ("0000" + std::to_string(k) + ".jpg"));
  fs::create_directories(t.path / "clips/empty");
  write(t.path / "lists/videos.csv",
        "../clips/a 3 0.1 -0.2\n../clips/empty 1 0 0\n../clips/b 5 0 0.5\n");
  FrameListOptions o{(t.path / "lists/videos.csv").string(), (t.path / "out/frames.csv").string()};
  auto s = expand_frame_list(o);
  REQUIRE(s.videos == 2);
  REQUIRE(s.frames == 5);
  REQUIRE(s.skipped.size() == 1);
  REQUIRE(s.skipped[0].line == 2);
  REQUIRE(s.skipped[0].item == "../clips/empty");
  REQUIRE(lines_of(t.path / "out/frames.csv") ==
          std::vector<std::string>{"../clips/a/00001.jpg 3 0.1 -0.2",
                                   "../clips/a/00002.jpg 3 0.1 -0.2",
                                   "../clips/a/00003.jpg 3 0.1 -0.2",
                                   "../clips/b/00001.jpg 5 0 0.5", "../clips/b/00002.jpg 5 0 0.5"});

  SECTION("a missing clip folder or an out-of-range angle names file:line") {
    write(t.path / "lists/bad.csv", "../clips/a 3\n../clips/nope 2\n");
    o.video_list = (t.path / "lists/bad.csv").string();
    auto e = error_of([&] { expand_frame_list(o); });
    REQUIRE_THAT(e, Catch::Contains("bad.csv:2") && Catch::Contains("not found"));
    write(t.path / "lists/deg.csv", "../clips/a 3 0 0\n../clips/b 3 45 0\n");
    o.video_list = (t.path / "lists/deg.csv").string();
    e = error_of([&] { expand_frame_list(o); });
    REQUIRE_THAT(e, Catch::Contains("deg.csv:2") && Catch::Contains("pitch is outside"));
  }
}

TEST_CASE("split cuts each video at frame gaps, names the chunks and reports short ones") {
  TempDir t("split");
  // Video A: frames 1-5 and 7-8 (a gap at 6); video B: 10-13. Rows shuffled, labels as written.
  write(t.path / "lists/test.csv",
        "../v/A/img_003.jpg 2 1.50 -0.25\n../v/A/img_001.jpg 2 1.50 -0.25\n"
        "../v/B/img_010.jpg 4 0 0\n../v/A/img_002.jpg 2 1.50 -0.25\n"
        "../v/A/img_008.jpg 2 1.50 -0.25\n../v/A/img_004.jpg 2 1.50 -0.25\n"
        "../v/B/img_012.jpg 4 0 0\n../v/A/img_005.jpg 2 1.50 -0.25\n"
        "../v/B/img_011.jpg 4 0 0\n../v/A/img_007.jpg 2 1.50 -0.25\n../v/B/img_013.jpg 4 0 1e-3\n");
  write(t.path / "seq/test_00009_0.csv", "stale\n");
  write(t.path / "seq/notes.csv", "not ours\n");
  SplitOptions o;
  o.frame_list = (t.path / "lists/test.csv").string();
  o.out_dir = (t.path / "seq").string();
  o.min_len = 3;
  o.write_discarded = true;
  auto s = split_frame_list(o);
  REQUIRE(s.videos == 2);
  REQUIRE(s.rows == 11);
  REQUIRE(s.sequences == 2);
  REQUIRE(s.sequence_rows == 9);
  REQUIRE(s.stale_removed == 1);
  REQUIRE(fs::exists(t.path / "seq/notes.csv"));
  REQUIRE(s.skipped.size() == 1);
  REQUIRE(s.skipped[0].item == "test_00000_1.csv");
  REQUIRE(s.skipped[0].line == 10);  // frame 7, the chunk's first row
  REQUIRE_THAT(s.skipped[0].reason, Catch::Contains("2 rows"));
  auto a = lines_of(t.path / "seq/test_00000_0.csv");
  REQUIRE(a.size() == 5);
  REQUIRE(a.front() == "../v/A/img_001.jpg 2 1.50 -0.25");
  REQUIRE(a.back() == "../v/A/img_005.jpg 2 1.50 -0.25");
  REQUIRE(lines_of(t.path / "seq/test_00001_0.csv").back() == "../v/B/img_013.jpg 4 0 1e-3");
  REQUIRE_FALSE(fs::exists(t.path / "seq/test_00000_1.csv"));
  REQUIRE(lines_of(t.path / "seq/test_discarded/test_00000_1.csv") ==
          std::vector<std::string>{"../../v/A/img_007.jpg 2 1.50 -0.25",
                                   "../../v/A/img_008.jpg 2 1.50 -0.25"});

  SECTION("a larger --max-gap joins the chunks; --prefix renames them") {
    o.max_gap = 2;
    o.prefix = "val";
    auto s2 = split_frame_list(o);
    REQUIRE(s2.sequences == 2);
    REQUIRE(s2.skipped.empty());
    REQUIRE(lines_of(t.path / "seq/val_00000_0.csv").size() == 7);
  }
  SECTION("malformed rows name file:line") {
    const auto error_for = [&](const std::string& text) {
      write(t.path / "lists/bad.csv", text);
      o.frame_list = (t.path / "lists/bad.csv").string();
      return error_of([&] { split_frame_list(o); });
    };
    REQUIRE_THAT(error_for("a/1.jpg 0\na/frame.jpg 0\n"),
                 Catch::Contains("bad.csv:2") && Catch::Contains("no frame number"));
    REQUIRE_THAT(error_for("a/1.jpg 0 1\n\na/2.jpg 0 nan\n"),
                 Catch::Contains("bad.csv:3") && Catch::Contains("not a finite number"));
    REQUIRE_THAT(error_for("a/1.jpg 0 1\na/2.jpg 0\n"),
                 Catch::Contains("bad.csv:2") && Catch::Contains("columns"));
    REQUIRE_THAT(error_for("a/1.jpg\n"), Catch::Contains("bad.csv:1"));
    REQUIRE_THAT(error_for("a/1.jpg 0\na/01.png 0\n"),
                 Catch::Contains("bad.csv:2") && Catch::Contains("also on line 1"));
  }
}

TEST_CASE("a face box square is centred on the box, side max(w, h)") {
  auto c = face_crop_square(-20, 30, 40, 20);
  REQUIRE(c.x == -20);
  REQUIRE(c.y == 20);
  REQUIRE(c.side == 40);
  c = face_crop_square(10, 10, 6, 10);
  REQUIRE((c.x == 8 && c.y == 10 && c.side == 10));
}

TEST_CASE("gaze360 converts vectors, breaks sequences, fills gaps and crops faces") {
  TempDir t("gaze");
  const fs::path root = t.path / "gaze360";
  const auto img = [](const std::string& rec, const std::string& person, int frame) {
    char name[64];
    std::snprintf(name, sizeof name, "rec_%s/head/%s/%06d.jpg", rec.c_str(), person.c_str(), frame);
    return std::string(name);
  };
  // rec_001/000000: frames 1, 2, 4 (gap 2: filled), then 20, 21 (gap 16: a new sequence);
  // rec_001/000001: 3-5 (a new person); rec_002/000000: frame 1 alone (too short).
  struct Row {
    std::string image, gaze;
  };
  std::vector<Row> rows = {
      {img("001", "000001", 4), "0 0 -1"}, {img("001", "000000", 2), "1 0 0"},
      {img("001", "000000", 1), "0 0 -1"}, {img("001", "000000", 21), "0 0 -1"},
      {img("002", "000000", 1), "0 0 -1"}, {img("001", "000000", 4), "0 1 0"},
      {img("001", "000001", 3), "0 0 -1"}, {img("001", "000000", 20), "0 0 -1"},
      {img("001", "000001", 5), "0 -2 0"}};
  std::string labels;
  for (const auto& r : rows) {
    write_image(root / r.image);
    labels += r.image + " " + r.gaze + "\n";
  }
  write(root / "code/train.txt", labels);
  Gaze360Options o;
  o.label_files = {(root / "code/train.txt").string()};
  o.image_root = root.string();
  o.out_dir = (t.path / "out").string();
  o.min_len = 2;
  auto s = convert_gaze360(o);
  REQUIRE(s.labels == 9);
  REQUIRE(s.sequences == 3);
  REQUIRE(s.filled == 1);
  REQUIRE(s.rows == 4 + 2 + 3);
  REQUIRE(s.skipped.size() == 1);
  REQUIRE(s.skipped[0].item == "train_rec_002_000000_0.csv");
  REQUIRE(s.skipped[0].line == 5);

  const fs::path first = t.path / "out/train/train_rec_001_000000_0.csv";
  auto seq = lines_of(first);
  REQUIRE(seq.size() == 4);
  REQUIRE(seq[2] == seq[1]);  // frame 3 is missing: frame 2 repeated
  const auto angles = [](const std::string& line) {
    auto f = fields_of(line);
    REQUIRE(f.size() == 4);
    REQUIRE(f[1] == "0");
    return std::make_pair(std::stod(f[2]), std::stod(f[3]));
  };
  REQUIRE(angles(seq[0]) == std::make_pair(0.0, 0.0));  // (0, 0, -1): into the camera
  REQUIRE(angles(seq[1]).first == Approx(0).margin(1e-6));
  REQUIRE(angles(seq[1]).second == Approx(kPi / 2).margin(1e-6));  // (1, 0, 0): image right
  REQUIRE(angles(seq[3]).first == Approx(kPi / 2).margin(1e-6));   // (0, 1, 0): up
  REQUIRE(angles(lines_of(t.path / "out/train/train_rec_001_000001_0.csv")[2]).first ==
          Approx(-kPi / 2).margin(1e-6));
  // Paths point at the images as they are, relative to the CSV's folder.
  REQUIRE(resolve_clip_path(first.string(), fields_of(seq[0])[0]) ==
          (root / img("001", "000000", 1)).lexically_normal().string());
  REQUIRE(lines_of(t.path / "out/train/train_rec_001_000000_1.csv").size() == 2);

  SECTION("with face boxes: square crops, black outside the image; no box -> skipped") {
    write_image(root / img("003", "000000", 1), 200, 40);
    write_image(root / img("003", "000000", 2), 200, 40);
    write_image(root / img("003", "000000", 3), 200, 40);
    write(root / "code/val.txt", img("003", "000000", 1) + " 0 0 -1\n" + img("003", "000000", 2) +
                                     " 0 0 -1\n" + img("003", "000000", 3) + " 0 0 -1\n");
    // Box centre (0, 40) in a 40x40 image: only the crop's top-right quarter is inside.
    write(t.path / "boxes.txt",
          img("003", "000000", 1) + " -20 30 40 20\n" + img("003", "000000", 2) + " 0 0 40 40\n");
    o.label_files = {(root / "code/val.txt").string()};
    o.boxes_file = (t.path / "boxes.txt").string();
    o.size = 40;
    auto c = convert_gaze360(o);
    REQUIRE(c.crops == 2);
    REQUIRE(c.skipped.size() == 1);
    REQUIRE(c.skipped[0].reason == "no face box");
    REQUIRE(c.skipped[0].line == 3);
    auto val = lines_of(t.path / "out/val/val_rec_003_000000_0.csv");
    REQUIRE(val.size() == 2);
    REQUIRE(fields_of(val[0])[0] == "../images/" + img("003", "000000", 1));
    cv::Mat crop = cv::imread((t.path / "out/images" / img("003", "000000", 1)).string());
    REQUIRE(crop.rows == 40);
    REQUIRE(crop.cols == 40);
    const auto at = [&](int y, int x) { return static_cast<int>(crop.at<cv::Vec3b>(y, x)[1]); };
    REQUIRE(at(10, 30) > 180);  // image pixels (rows 20-39, columns 0-19 of the image)
    REQUIRE(at(10, 10) < 20);   // left of the image
    REQUIRE(at(30, 30) < 20);   // below it
    REQUIRE(at(30, 10) < 20);
  }
  SECTION("malformed rows, non-finite values and missing images name file:line") {
    const auto error_for = [&](const std::string& text) {
      write(root / "code/bad.txt", text);
      o.label_files = {(root / "code/bad.txt").string()};
      return error_of([&] { convert_gaze360(o); });
    };
    const std::string ok = img("001", "000000", 1) + " 0 0 -1\n";
    REQUIRE_THAT(error_for(ok + img("001", "000000", 2) + " 0 -1\n"),
                 Catch::Contains("bad.txt:2") && Catch::Contains("4 columns"));
    REQUIRE_THAT(error_for(ok + ok + img("001", "000000", 2) + " 0 inf -1\n"),
                 Catch::Contains("bad.txt:3") && Catch::Contains("not a finite number"));
    REQUIRE_THAT(error_for(img("001", "000000", 9) + " 0 0 -1\n"),
                 Catch::Contains("bad.txt:1") && Catch::Contains("not found"));
    REQUIRE_THAT(error_for(ok + img("001", "000000", 2) + " 0 0 0\n"),
                 Catch::Contains("bad.txt:2") && Catch::Contains("zero"));
    REQUIRE_THAT(error_for("000001.jpg 0 0 -1\n"), Catch::Contains("bad.txt:1"));
    write(t.path / "boxes.txt", img("001", "000000", 1) + " 0 0 -4 4\n");
    o.boxes_file = (t.path / "boxes.txt").string();
    REQUIRE_THAT(error_for(ok), Catch::Contains("boxes.txt:1") && Catch::Contains("positive"));
  }
}
