// Video datasets whose folds are built from their subjects (dfer-prep ravdess, cremad, enterface):
// mock trees in the official layouts -> the exact lists, label orders, folds and reported skips.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <map>
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

std::string two_digits(int v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}

// Actor_01..Actor_24, each with a neutral full-AV speech video and a surprised video-only song
// (empty files), plus misnamed and audio files in the first actors.
fs::path ravdess_tree() {
  const fs::path root = dfer::test::temp_dir("ravdess") / "RAVDESS";
  for (int a = 1; a <= 24; ++a) {
    const fs::path actor = root / ("Actor_" + two_digits(a));
    write_file(actor / ("01-01-01-01-01-01-" + two_digits(a) + ".mp4"), "");
    write_file(actor / ("02-02-08-02-02-02-" + two_digits(a) + ".mp4"), "");
  }
  write_file(root / "Actor_01/03-01-05-01-01-01-01.wav", "");  // audio-only release
  write_file(root / "Actor_01/03-01-05-01-01-02-01.mp4", "");  // audio-only modality
  write_file(root / "Actor_02/01-01-09-01-01-01-02.mp4", "");  // emotion 09
  write_file(root / "Actor_02/01-01-03-01-01-01-05.mp4", "");  // actor 05 in Actor_02
  write_file(root / "Actor_02/01-01-03-01-01-01.mp4", "");     // six fields
  write_file(root / "Actor_03/notes.txt", "");                 // not a video
  write_file(root / "Actor_03/.DS_Store", "");                 // hidden: not looked at
  write_file(root / "README.md", "");                          // outside the actor folders
  return root;
}

}  // namespace

TEST_CASE("ravdess lists six actor folds of four, labels the emotion code - 1, reports skips") {
  const fs::path root = ravdess_tree();
  DatasetListOptions o;
  o.root = root.string();
  o.out_dir = (root.parent_path() / "lists").string();
  o.check_frames = false;  // the mock videos are empty files
  const auto s = build_ravdess_lists(o);
  const std::string r = fs::absolute(root).lexically_normal().generic_string();
  std::string expected;
  for (int a = 1; a <= 4; ++a) {
    const std::string aa = two_digits(a);
    expected += r + "/Actor_" + aa + "/01-01-01-01-01-01-" + aa + ".mp4 0\n";
    expected += r + "/Actor_" + aa + "/02-02-08-02-02-02-" + aa + ".mp4 7\n";
  }
  const fs::path out = o.out_dir;
  REQUIRE(read_file(out / "split01/test.csv") == expected);
  REQUIRE(read_file(out / "split01/val.csv") == expected);
  std::istringstream train(read_file(out / "split01/train.csv"));
  int rows = 0;
  std::string prev;
  for (std::string line; std::getline(train, line); ++rows) {
    const int actor = std::stoi(line.substr(line.find(".mp4") - 2, 2));
    REQUIRE((actor >= 5 && actor <= 24));
    REQUIRE(line.substr(line.size() - 2) ==
            (line.find("/01-01-01-") != std::string::npos ? " 0" : " 7"));
    REQUIRE(prev < line);  // sorted by path
    prev = line;
  }
  REQUIRE(rows == 40);
  REQUIRE(read_file(out / "split06/test.csv").find("Actor_21/") != std::string::npos);
  REQUIRE(read_file(out / "split06/test.csv").find("Actor_20/") == std::string::npos);
  REQUIRE(s.lists.size() == 18);
  REQUIRE(s.lists[0].list == "split01/train.csv");
  REQUIRE(s.lists[1].by_class == std::vector<int64_t>{4, 0, 0, 0, 0, 0, 0, 4});
  REQUIRE(s.lists[2].copy_of == "split01/test.csv");
  REQUIRE(s.rows == 54);
  std::map<std::string, std::string> reasons;  // file name -> reason
  for (const auto& k : s.skipped) reasons[fs::path(k.item).filename().string()] = k.reason;
  REQUIRE(reasons.size() == 6);
  REQUIRE(reasons["03-01-05-01-01-01-01.wav"] == "audio-only (modality 03)");
  REQUIRE(reasons["03-01-05-01-01-02-01.mp4"] == "audio-only (modality 03)");
  REQUIRE(reasons["01-01-09-01-01-01-02.mp4"] == "emotion 09 outside 01-08");
  REQUIRE_THAT(reasons["01-01-03-01-01-01-05.mp4"], Catch::Contains("Actor_02"));
  REQUIRE_THAT(reasons["01-01-03-01-01-01.mp4"], Catch::Contains("seven two-digit fields"));
  REQUIRE_THAT(reasons["notes.txt"], Catch::Contains("not a RAVDESS video"));
  REQUIRE_THAT(describe(s), Catch::Contains("ravdess: 54 rows read, 18 lists written, 6 skipped") &&
                                Catch::Contains("split01/test.csv: 8 clips - neutral 4"));

  SECTION("empty video files are skipped by default, an actor without videos is reported") {
    o.check_frames = true;
    fs::remove_all(root / "Actor_24");
    const auto c = build_ravdess_lists(o);
    int empty = 0, missing = 0;
    for (const auto& k : c.skipped) {
      empty += k.reason == "empty file";
      missing += k.reason.find("no video of this subject") != std::string::npos;
    }
    REQUIRE(empty == 46);
    REQUIRE(missing == 24);
    REQUIRE(read_file(out / "split01/test.csv").empty());
  }
  SECTION("a root without actor folders is a usage error") {
    o.root = out.string();
    REQUIRE_THAT(usage_error_of([&] { build_ravdess_lists(o); }), Catch::Contains("Actor_XX"));
  }
}

namespace {

DatasetListOptions options(const fs::path& root, bool check_empty) {
  DatasetListOptions o;
  o.root = root.string();
  o.out_dir = (root.parent_path() / "lists").string();
  o.check_frames = check_empty;
  return o;
}

// The rows of a list, one string each.
std::vector<std::string> rows_of(const std::string& text) {
  std::vector<std::string> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  return rows;
}

std::map<std::string, std::string> reasons_by_name(const DatasetListSummary& s) {
  std::map<std::string, std::string> reasons;
  for (const auto& k : s.skipped) reasons[fs::path(k.item).filename().string()] = k.reason;
  return reasons;
}

}  // namespace

TEST_CASE("cremad lists five actor folds, labels ANG DIS FEA HAP NEU SAD, reports skips") {
  REQUIRE(cremad_classes() == std::vector<std::string>{"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"});
  const fs::path root = dfer::test::temp_dir("cremad") / "CREMA-D";
  const fs::path v = root / "VideoFlash";
  const char* emotions[] = {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"};
  for (int a = 1001; a <= 1091; ++a)
    write_file(v / (std::to_string(a) + "_DFA_" + emotions[a % 6] + "_XX.flv"), "video");
  write_file(v / "1019_IEO_HAP_HI.flv", "video");              // last actor of fold 1
  write_file(v / "1020_IEO_SAD_LO.mp4", "video");              // first of fold 2, converted
  write_file(v / "1001_DFA_ANG_XX.flv.bak", "");               // not a video
  write_file(v / "1092_DFA_ANG_XX.flv", "");                   // actor out of range
  write_file(v / "1002_ABC_ANG_XX.flv", "");                   // no such sentence
  write_file(v / "1002_DFA_CAL_XX.flv", "");                   // no such emotion
  write_file(v / "1002_DFA_ANG_ZZ.flv", "");                   // no such level
  write_file(v / "1002-DFA-ANG-XX.flv", "");                   // wrong separators
  write_file(v / "1003_DFA_NEU_XX.flv", "");                   // empty
  write_file(root / "AudioWAV/1001_DFA_ANG_XX.wav", "audio");  // outside VideoFlash
  DatasetListOptions o = options(root, true);
  const auto s = build_cremad_lists(o);
  const std::string r = fs::absolute(v).lexically_normal().generic_string();
  const fs::path out = o.out_dir;

  std::string test1;
  for (int a = 1001; a <= 1019; ++a) {
    test1 += r + "/" + std::to_string(a) + "_DFA_" + emotions[a % 6] + "_XX.flv " +
             std::to_string(a % 6) + "\n";
    if (a == 1019) test1 += r + "/1019_IEO_HAP_HI.flv 3\n";
  }
  REQUIRE(read_file(out / "split01/test.csv") == test1);
  REQUIRE(read_file(out / "split01/val.csv") == test1);
  const auto test2 = rows_of(read_file(out / "split02/test.csv"));
  REQUIRE(test2.size() == 19);  // 1020..1037 and the converted .mp4
  REQUIRE(test2.front() ==
          r + "/1020_DFA_" + emotions[1020 % 6] + "_XX.flv " + std::to_string(1020 % 6));
  REQUIRE(test2[1] == r + "/1020_IEO_SAD_LO.mp4 5");
  REQUIRE(rows_of(read_file(out / "split05/test.csv")).size() == 18);  // 1074..1091
  REQUIRE(rows_of(read_file(out / "split05/train.csv")).size() == 93 - 18);
  REQUIRE(read_file(out / "split05/train.csv").find("/1074_") == std::string::npos);
  REQUIRE(s.lists.size() == 15);
  REQUIRE(s.rows == 91 + 2 + 7);
  const auto reasons = reasons_by_name(s);
  REQUIRE(reasons.size() == 7);
  REQUIRE_THAT(reasons.at("1001_DFA_ANG_XX.flv.bak"), Catch::Contains("not a CREMA-D video"));
  REQUIRE(reasons.at("1092_DFA_ANG_XX.flv") == "actor 1092 outside 1001-1091");
  REQUIRE(reasons.at("1002_ABC_ANG_XX.flv") == "unknown sentence code ABC");
  REQUIRE_THAT(reasons.at("1002_DFA_CAL_XX.flv"), Catch::StartsWith("unknown emotion code CAL"));
  REQUIRE_THAT(reasons.at("1002_DFA_ANG_ZZ.flv"), Catch::StartsWith("unknown intensity level ZZ"));
  REQUIRE_THAT(reasons.at("1002-DFA-ANG-XX.flv"), Catch::Contains("not a CREMA-D name"));
  REQUIRE(reasons.at("1003_DFA_NEU_XX.flv") == "empty file");
  REQUIRE_THAT(describe(s), Catch::Contains("cremad: 100 rows read, 15 lists written, 7 skipped"));

  SECTION("an actor without videos is reported with its fold") {
    fs::remove(v / "1050_DFA_ANG_XX.flv");
    const auto c = build_cremad_lists(o);
    REQUIRE(c.skipped.size() == 8);
    REQUIRE_THAT(c.skipped.back().reason, Catch::Contains("no video of this subject") &&
                                              Catch::Contains("fold 3 are 1038-1055"));
  }
  SECTION("a root without VideoFlash is a usage error") {
    o.root = (root / "AudioWAV").string();
    REQUIRE_THAT(usage_error_of([&] { build_cremad_lists(o); }), Catch::Contains("VideoFlash"));
  }
}

TEST_CASE("enterface lists five subject folds through links without spaces, reports skips") {
  REQUIRE(enterface_classes() ==
          std::vector<std::string>{"anger", "disgust", "fear", "happiness", "sadness", "surprise"});
  const fs::path root = dfer::test::temp_dir("enterface") / "enterface database";
  const char* codes[] = {"an", "di", "fe", "ha", "sa", "su"};
  for (int n = 1; n <= 44; ++n) {
    const int k = n % 6;
    const fs::path emotion =
        root / fmt::format("subject {}", n) / enterface_classes()[std::size_t(k)];
    const std::string name = fmt::format("s{}_{}_1.avi", n, codes[k]);
    // subject 6 of the archive has no sentence folders
    write_file(n == 6 ? emotion / name : emotion / "sentence 1" / name, "video");
  }
  write_file(root / "subject 2/anger/sentence 2/s2_ha_2.avi", "video");  // misfiled
  write_file(root / "subject 2/anger/sentence 3/s2_an_3.txt", "");       // not a video
  write_file(root / "subject 2/anger/sentence 4/s2_an_4.avi", "");       // empty
  write_file(root / "subject 3/contempt/sentence 1/s3_co_1.avi", "x");   // no such class
  write_file(root / "subject 45/anger/s45_an_1.avi", "x");               // no such subject
  write_file(root / "subject 7/disgust/sentence 2/s7_di_1.avi", "x");    // name of sentence 1
  DatasetListOptions o = options(root, true);
  o.out_dir = (root.parent_path() / "lists").string();
  const auto s = build_enterface_lists(o);
  const fs::path out = fs::absolute(o.out_dir).lexically_normal();
  const std::string links = out.generic_string() + "/videos/";

  const std::string test1 = read_file(out / "split01/test.csv");
  std::string expected;
  for (int n = 1; n <= 9; ++n) {
    const int k = n % 6;
    expected += links + (n < 10 ? "s0" : "s") + std::to_string(n) + "/" +
                enterface_classes()[std::size_t(k)] + "/s" + std::to_string(n) + "_" + codes[k] +
                "_1.avi " + std::to_string(k) + "\n";
  }
  REQUIRE(test1 == expected);
  for (const auto& row : rows_of(test1)) {  // each link reaches a video of the archive
    const fs::path link = row.substr(0, row.find(' '));
    REQUIRE(fs::is_symlink(link));
    REQUIRE(read_file(link) == "video");
  }
  REQUIRE(rows_of(read_file(out / "split05/test.csv")).size() == 8);  // subjects 37..44
  REQUIRE(rows_of(read_file(out / "split05/train.csv")).size() == 36);
  REQUIRE(s.lists.size() == 15);
  const auto reasons = reasons_by_name(s);
  REQUIRE(reasons.size() == 6);
  REQUIRE(reasons.at("s2_ha_2.avi") ==
          "the name says happiness but the file is in the anger folder");
  REQUIRE(reasons.at("s2_an_3.txt") == "not an eNTERFACE video (.avi)");
  REQUIRE(reasons.at("s2_an_4.avi") == "empty file");
  REQUIRE_THAT(reasons.at("contempt"), Catch::Contains("not an emotion folder"));
  REQUIRE_THAT(reasons.at("subject 45"), Catch::Contains("not a subject folder"));
  REQUIRE_THAT(reasons.at("s7_di_1.avi"), Catch::Contains("same file name as"));

  SECTION("a rerun refreshes the links, a missing subject is reported") {
    fs::remove_all(root / "subject 40");
    const auto c = build_enterface_lists(o);
    REQUIRE_THAT(c.skipped.back().reason, Catch::Contains("fold 5 are 37-44"));
    REQUIRE(rows_of(read_file(out / "split05/test.csv")).size() == 7);
  }
  SECTION("an output path with whitespace, or a root without subject folders, is a usage error") {
    o.out_dir = (root / "lists").string();
    REQUIRE_THAT(usage_error_of([&] { build_enterface_lists(o); }), Catch::Contains("whitespace"));
    o.root = (root / "subject 1").string();
    o.out_dir = (root.parent_path() / "lists").string();
    REQUIRE_THAT(usage_error_of([&] { build_enterface_lists(o); }), Catch::Contains("subject N"));
  }
}
