// Dataset list builders (dfer-prep dfew, ferv39k, mafw, voxceleb2): mock trees in each dataset's
// official layout -> the exact CSV text, label orders, and the errors and reported skips.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dfer/data/dataset_lists.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace dfer::data;
using dfer::test::read_file;
using dfer::test::usage_error_of;
using dfer::test::write_file;

namespace {

// A clip folder with one tiny frame file: the lists only look at names, never decode.
void clip(const fs::path& folder, const char* frame = "00001.jpg") {
  write_file(folder / frame, "x");
}

DatasetListOptions options(const fs::path& root, const fs::path& out) {
  DatasetListOptions o;
  o.root = root.string();
  o.out_dir = out.string();
  return o;
}

// A DFEW tree: clips 1..8; fold k trains on 1..7 (every label once) and tests on clip 8.
fs::path dfew_tree(const fs::path& dir) {
  const fs::path root = dir / "DFEW";
  for (int v = 1; v <= 8; ++v) clip(root / "Clip/jpg_256" / fmt::format("{:05d}", v));
  for (int k = 1; k <= 5; ++k) {
    std::string train = "video_name,label\n";
    for (int v = 1; v <= 7; ++v) train += fmt::format("{},{}\n", v, (v + k) % 7 + 1);
    const fs::path split = root / "EmoLabel_DataSplit";
    write_file(split / "train(single-labeled)" / fmt::format("set_{}.csv", k), train);
    write_file(split / "test(single-labeled)" / fmt::format("set_{}.csv", k),
               fmt::format("video_name,label\r\n8,{}\r\n", k));  // CRLF, as exported on Windows
  }
  return root;
}

}  // namespace

TEST_CASE("dataset lists name the classes in the reference's index order") {
  REQUIRE(dfew_classes() == std::vector<std::string>{"Happy", "Sad", "Neutral", "Angry", "Surprise",
                                                     "Disgust", "Fear"});
  REQUIRE(mafw_classes() == std::vector<std::string>{"anger", "disgust", "fear", "happiness",
                                                     "neutral", "sadness", "surprise", "contempt",
                                                     "anxiety", "helplessness", "disappointment"});
}

TEST_CASE("dfew writes five folds of absolute clip folders with 0-based labels, val = test") {
  const fs::path dir = dfer::test::temp_dir("lists-dfew");
  const fs::path root = dfew_tree(dir);
  auto o = options(root / ".", dir / "out");  // the root is normalised before it is written
  const auto s = build_dfew_lists(o);
  const std::string clips =
      fs::absolute(root).lexically_normal().generic_string() + "/Clip/jpg_256/";
  for (int k = 1; k <= 5; ++k) {
    std::string train;
    for (int v = 1; v <= 7; ++v) train += fmt::format("{}{:05d} {}\n", clips, v, (v + k) % 7);
    const std::string test = fmt::format("{}00008 {}\n", clips, k - 1);
    const fs::path fold = dir / "out" / fmt::format("split0{}", k);
    CHECK(read_file(fold / "train.csv") == train);
    CHECK(read_file(fold / "test.csv") == test);
    CHECK(read_file(fold / "val.csv") == test);
  }
  REQUIRE(s.rows == 40);
  REQUIRE(s.skipped.empty());
  REQUIRE(s.lists.size() == 15);
  REQUIRE(s.lists[0].list == "split01/train.csv");
  REQUIRE(s.lists[0].by_class == std::vector<int64_t>(7, 1));
  REQUIRE(s.lists[4].list == "split02/test.csv");
  REQUIRE(s.lists[4].by_class == std::vector<int64_t>{0, 1, 0, 0, 0, 0, 0});  // label 2 -> Sad
  REQUIRE(s.lists[5].copy_of == "split02/test.csv");
  const std::string text = describe(s);
  REQUIRE_THAT(text, Catch::Contains("split01/train.csv: 7 clips - Happy 1, Sad 1, Neutral 1, "
                                     "Angry 1, Surprise 1, Disgust 1, Fear 1"));
  REQUIRE_THAT(text, Catch::Contains("split01/val.csv: a copy of split01/test.csv"));

  SECTION("a missing label file is named and nothing is written") {
    fs::remove(root / "EmoLabel_DataSplit/test(single-labeled)/set_3.csv");
    o.out_dir = (dir / "out2").string();
    const auto e = usage_error_of([&] { build_dfew_lists(o); });
    REQUIRE_THAT(e,
                 Catch::Contains("test(single-labeled)/set_3.csv") && Catch::Contains("not found"));
    REQUIRE_FALSE(fs::exists(dir / "out2"));
  }
  SECTION("an out-of-range label names file:line, or is skipped with --skip-bad") {
    write_file(root / "EmoLabel_DataSplit/train(single-labeled)/set_1.csv",
               "video_name,label\n1,1\n2,8\n3,7\n");
    const auto e = usage_error_of([&] { build_dfew_lists(o); });
    REQUIRE_THAT(e, Catch::Contains("set_1.csv:3") && Catch::Contains("not in 1..7"));
    o.skip_bad = true;
    const auto skipped = build_dfew_lists(o);
    REQUIRE(skipped.skipped.size() == 1);
    REQUIRE(skipped.skipped[0].line == 3);
    REQUIRE(skipped.skipped[0].item == "2");
    REQUIRE(read_file(dir / "out/split01/train.csv") ==
            fmt::format("{}00001 0\n{}00003 6\n", clips, clips));
  }
  SECTION("a label file without the header names file:1") {
    write_file(root / "EmoLabel_DataSplit/train(single-labeled)/set_2.csv", "1,1\n");
    const auto e = usage_error_of([&] { build_dfew_lists(o); });
    REQUIRE_THAT(e, Catch::Contains("set_2.csv:1") && Catch::Contains("video_name"));
  }
}

TEST_CASE("ferv39k maps label names in the reference's order and reports bad rows") {
  const fs::path dir = dfer::test::temp_dir("lists-ferv39k");
  const fs::path root = dir / "FERV39k";
  const fs::path setup = root / "4_setups/All_scenes";
  std::string train, expected;
  const std::string clips = root.generic_string() + "/2_ClipsforFaceCrop/";
  // Listed from Fear to Happy, so that the index comes from the name, not the row.
  for (int k = 6; k >= 0; --k) {
    const std::string rel = fmt::format("Crime/{}/{:04d}", dfew_classes()[k], k + 1);
    clip(root / "2_ClipsforFaceCrop" / rel);
    train += rel + " " + dfew_classes()[k] + "\n";
    expected += clips + rel + " " + std::to_string(k) + "\n";
  }
  clip(root / "2_ClipsforFaceCrop/Daily/Angry/0063");
  write_file(setup / "train_All.csv", train);
  write_file(setup / "test_All.csv", "Daily/Angry/0063 Angry\n");
  auto o = options(root, dir / "out");
  const auto s = build_ferv39k_lists(o);
  REQUIRE(read_file(dir / "out/all_scenes/train.csv") == expected);
  REQUIRE(read_file(dir / "out/all_scenes/test.csv") == clips + "Daily/Angry/0063 3\n");
  REQUIRE(read_file(dir / "out/all_scenes/val.csv") == clips + "Daily/Angry/0063 3\n");
  REQUIRE(s.rows == 8);
  REQUIRE(s.lists.size() == 3);
  REQUIRE(s.lists[1].by_class == std::vector<int64_t>{0, 0, 0, 1, 0, 0, 0});

  SECTION("an unknown label names file:line, or is counted and skipped with --skip-bad") {
    write_file(setup / "train_All.csv", "Crime/Happy/0001 Happy\nCrime/Sad/0002 Hapy\n");
    const auto e = usage_error_of([&] { build_ferv39k_lists(o); });
    REQUIRE_THAT(e, Catch::Contains("train_All.csv:2") && Catch::Contains("unknown label 'Hapy'") &&
                        Catch::Contains("Happy, Sad, Neutral"));
    o.skip_bad = true;
    const auto skipped = build_ferv39k_lists(o);
    REQUIRE(skipped.skipped.size() == 1);
    REQUIRE(skipped.skipped[0].line == 2);
    REQUIRE(skipped.skipped[0].item == "Crime/Sad/0002");
    REQUIRE_THAT(skipped.skipped[0].reason, Catch::Contains("unknown label"));
    REQUIRE(read_file(dir / "out/all_scenes/train.csv") == clips + "Crime/Happy/0001 0\n");
  }
  SECTION("clip folders without frames are skipped with the reason unless the check is off") {
    fs::create_directories(root / "2_ClipsforFaceCrop/Crime/Sad/0100");
    write_file(root / "2_ClipsforFaceCrop/Crime/Sad/0101/notes.txt", "not a frame");
    write_file(
        setup / "train_All.csv",
        "Crime/Sad/0100 Sad\nCrime/Sad/0101 Sad\nCrime/Sad/0102 Sad\nCrime/Happy/0001 Happy\n");
    auto s2 = build_ferv39k_lists(o);
    REQUIRE(s2.skipped.size() == 3);
    REQUIRE(s2.skipped[0].line == 1);
    REQUIRE_THAT(s2.skipped[0].reason, Catch::Contains("no .jpg/.jpeg/.png frames"));
    REQUIRE_THAT(s2.skipped[1].reason, Catch::Contains("no .jpg/.jpeg/.png frames"));
    REQUIRE(s2.skipped[2].item == clips + "Crime/Sad/0102");
    REQUIRE(s2.skipped[2].reason == "clip folder not found");
    REQUIRE(s2.lists[0].clips == 1);
    REQUIRE(read_file(dir / "out/all_scenes/train.csv") == clips + "Crime/Happy/0001 0\n");
    REQUIRE_THAT(describe(s2, 2), Catch::Contains("... and 1 more skipped"));
    o.check_frames = false;
    s2 = build_ferv39k_lists(o);
    REQUIRE(s2.skipped.empty());
    REQUIRE(s2.lists[0].clips == 4);
  }
  SECTION("a repeated clip is a duplicate with the same label and an error with another") {
    write_file(setup / "train_All.csv", "Crime/Happy/0001 Happy\nCrime/Happy/0001 happy\n");
    auto s2 = build_ferv39k_lists(o);
    REQUIRE(s2.skipped.size() == 1);
    REQUIRE(s2.skipped[0].reason == "duplicate of line 1");
    write_file(setup / "train_All.csv", "Crime/Happy/0001 Happy\nCrime/Happy/0001 Sad\n");
    const auto e = usage_error_of([&] { build_ferv39k_lists(o); });
    REQUIRE_THAT(e, Catch::Contains("train_All.csv:2") && Catch::Contains("another label"));
  }
}

TEST_CASE("mafw writes five single-label folds with eleven classes, names or indices") {
  const fs::path dir = dfer::test::temp_dir("lists-mafw");
  const fs::path root = dir / "MAFW";
  const std::string clips = root.generic_string() + "/data/frames/";
  for (int v = 1; v <= 12; ++v) clip(root / "data/frames" / fmt::format("{:05d}", v), "1.png");
  std::string train, expected;
  for (int k = 0; k < 11; ++k) {  // clip k+1 has class k, listed by name
    train += fmt::format("{:05d}.mp4 {}\n", k + 1, mafw_classes()[k]);
    expected += fmt::format("{}{:05d} {}\n", clips, k + 1, k);
  }
  const fs::path split = root / "split/single/no_caption";
  for (int k = 1; k <= 5; ++k) {
    write_file(split / fmt::format("set_{}/train.txt", k), train);
    write_file(split / fmt::format("set_{}/test.txt", k), "00012.mp4 10\n");  // a 0-based index
  }
  auto o = options(root, dir / "out");
  const auto s = build_mafw_lists(o);
  for (int k = 1; k <= 5; ++k) {
    const fs::path fold = dir / "out/single" / fmt::format("split0{}", k);
    CHECK(read_file(fold / "train.csv") == expected);
    CHECK(read_file(fold / "test.csv") == clips + "00012 10\n");
    CHECK(read_file(fold / "val.csv") == clips + "00012 10\n");
  }
  REQUIRE(s.rows == 60);
  REQUIRE(s.lists.size() == 15);
  REQUIRE(s.lists[0].list == "single/split01/train.csv");
  REQUIRE(s.lists[0].by_class == std::vector<int64_t>(11, 1));
  REQUIRE_THAT(describe(s), Catch::Contains("helplessness 1, disappointment 1"));

  SECTION("an index out of range or an unknown name names file:line") {
    write_file(split / "set_4/test.txt", "00012.mp4 11\n");
    auto e = usage_error_of([&] { build_mafw_lists(o); });
    REQUIRE_THAT(e, Catch::Contains("set_4/test.txt:1") && Catch::Contains("not in 0..10"));
    write_file(split / "set_4/test.txt", "00012.mp4 anger\n00011.mp4 joy\n");
    e = usage_error_of([&] { build_mafw_lists(o); });
    REQUIRE_THAT(e, Catch::Contains("set_4/test.txt:2") && Catch::Contains("unknown label 'joy'"));
  }
  SECTION("a row with a third column names file:line") {
    write_file(split / "set_2/train.txt", "00001.mp4 anger extra\n");
    const auto e = usage_error_of([&] { build_mafw_lists(o); });
    REQUIRE_THAT(e, Catch::Contains("set_2/train.txt:1") && Catch::Contains("2 columns"));
  }
}

TEST_CASE("voxceleb2 lists the sorted speaker/video/clip.mp4 files minus the excluded ones") {
  const fs::path dir = dfer::test::temp_dir("lists-vox");
  const fs::path root = dir / "VoxCeleb2/dev/mp4";
  for (const char* f : {"id00002/vidB/00001.mp4", "id00001/vidA/00002.mp4",
                        "id00001/vidA/00001.mp4", "id00001/vidC/00007.mp4"})
    write_file(root / f, "mp4");
  write_file(root / "id00001/vidA/.hidden.mp4", "mp4");  // glob's * skips hidden names
  write_file(root / "id00001/vidA/00003.avi", "avi");
  write_file(root / "id00001/top.mp4", "mp4");  // not at the speaker/video/clip depth
  write_file(root / "id00002/vidB/00002.mp4", "");
  write_file(dir / "exclude.txt", "id00001/vidC/00007.mp4\nid00009/x/00001.mp4\n");
  auto o = options(root, dir / "out");
  o.exclude_file = (dir / "exclude.txt").string();
  const auto s = build_voxceleb2_list(o);
  const std::string base = root.generic_string() + "/";
  REQUIRE(read_file(dir / "out/info_clean.csv") == base + "id00001/vidA/00001.mp4 0\n" + base +
                                                       "id00001/vidA/00002.mp4 0\n" + base +
                                                       "id00002/vidB/00001.mp4 0\n");
  REQUIRE(s.rows == 5);
  REQUIRE(s.lists.size() == 1);
  REQUIRE(s.lists[0].clips == 3);
  REQUIRE(s.skipped.size() == 3);
  REQUIRE(s.skipped[0].item == "id00001/vidC/00007.mp4");
  REQUIRE(s.skipped[0].line == 1);
  REQUIRE(s.skipped[1].reason == "empty file");
  REQUIRE(s.skipped[2].item == "id00009/x/00001.mp4");
  REQUIRE_THAT(s.skipped[2].reason, Catch::Contains("matches no video"));
}
