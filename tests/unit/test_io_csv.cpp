// Annotation lists: the two row formats of the original, tolerated variations, and every
// malformed case with the file:line and problem in the message.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "dfer/io/csv.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

using Catch::Matchers::Contains;
using dfer::io::AnnotationColumns;
using dfer::io::parse_annotations;

namespace {
std::string parse_error(const std::string& text, int num_classes = 7,
                        AnnotationColumns cols = AnnotationColumns::kAny) {
  try {
    parse_annotations(text, "list.csv", num_classes, cols);
  } catch (const dfer::UsageError& e) {
    return e.what();
  }
  FAIL("expected a UsageError for:\n" << text);
  return {};
}
}  // namespace

TEST_CASE("path label rows", "[io][csv]") {
  auto rows = parse_annotations("/d/Clip/00001 0\n/d/Clip/00002 6\n", "a.csv", 7,
                                AnnotationColumns::kLabel);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].path == "/d/Clip/00001");
  CHECK(rows[0].label == 0);
  CHECK(rows[1].label == 6);
  CHECK(rows[1].line == 2);
  CHECK_FALSE(rows[0].pitch);
  CHECK_FALSE(rows[0].yaw);
}

TEST_CASE("path label pitch yaw rows", "[io][csv]") {
  auto rows = parse_annotations("f/000001.jpg 3 -0.25 1.5e-1\nf/000002.jpg 0 0 -3.1\n", "c.csv", 7,
                                AnnotationColumns::kLabelPitchYaw);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].label == 3);
  CHECK(*rows[0].pitch == Approx(-0.25f));
  CHECK(*rows[0].yaw == Approx(0.15f));
  CHECK(*rows[1].yaw == Approx(-3.1f));
}

TEST_CASE("blank lines, tabs, CRLF, BOM and integral float labels are tolerated", "[io][csv]") {
  auto rows = parse_annotations(
      "\xEF\xBB\xBF"
      "a 1\r\n\r\n   \n\tb\t\t2  \r\nc 3.0\n\nd +4",
      "x.csv", 0);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].path == "a");
  CHECK(rows[1].path == "b");
  CHECK(rows[1].label == 2);
  CHECK(rows[1].line == 4);
  CHECK(rows[2].label == 3);
  CHECK(rows[3].label == 4);
  CHECK(rows[3].line == 7);
  CHECK(parse_annotations("", "e.csv", 7).empty());
  CHECK(parse_annotations("\n\n", "e.csv", 7).empty());
  // Without num_classes any non-negative label passes (pre-training lists use a dummy 0).
  CHECK(parse_annotations("v.mp4 400\n", "p.csv", 0)[0].label == 400);
}

TEST_CASE("bad column counts name file, line and the expected layout", "[io][csv]") {
  std::string msg = parse_error("a 1\nb\n");
  CHECK_THAT(msg, Contains("list.csv:2:"));
  CHECK_THAT(msg, Contains("found 1"));
  CHECK_THAT(parse_error("a 1 2\n"), Contains("2 or 4 columns"));
  CHECK_THAT(parse_error("a 1 0.1 0.2 9\n"), Contains("found 5"));
  CHECK_THAT(parse_error("a 1\n", 7, AnnotationColumns::kLabelPitchYaw),
             Contains("4 columns (path label pitch yaw), found 2"));
  CHECK_THAT(parse_error("a 1 0.1 0.2\n", 7, AnnotationColumns::kLabel),
             Contains("2 columns (path label), found 4"));
  msg = parse_error("a 1\n\nb 2 0.1 0.2\n");
  CHECK_THAT(msg, Contains("list.csv:3:"));
  CHECK_THAT(msg, Contains("line 1 has 2"));
}

TEST_CASE("non-integer labels are rejected", "[io][csv]") {
  std::string msg = parse_error("a 1\nb happy\n");
  CHECK_THAT(msg, Contains("list.csv:2:"));
  CHECK_THAT(msg, Contains("label 'happy' is not an integer"));
  CHECK_THAT(parse_error("a 1.5\n"), Contains("not an integer"));
  CHECK_THAT(parse_error("a 0x1\n"), Contains("not an integer"));
  CHECK_THAT(parse_error("a nan\n"), Contains("not an integer"));
  CHECK_THAT(parse_error("a +-1\n"), Contains("not an integer"));
}

TEST_CASE("labels out of range for num_classes are rejected", "[io][csv]") {
  std::string msg = parse_error("a 0\nb 7\n", 7);
  CHECK_THAT(msg, Contains("list.csv:2:"));
  CHECK_THAT(msg, Contains("label '7' is out of range [0, 7)"));
  CHECK_THAT(parse_error("a -1\n", 7), Contains("out of range"));
  CHECK_THAT(parse_error("a -1\n", 0), Contains("out of range (negative)"));
  CHECK_THAT(parse_error("a 99999999999\n", 0), Contains("out of range"));
  CHECK_THAT(parse_error("a 99999999999999999999999\n", 0), Contains("out of range"));
}

TEST_CASE("non-finite or non-numeric pitch/yaw are rejected", "[io][csv]") {
  std::string msg = parse_error("a 1 0.1 0.2\nb 1 nan 0.2\n");
  CHECK_THAT(msg, Contains("list.csv:2:"));
  CHECK_THAT(msg, Contains("pitch 'nan' is not finite"));
  CHECK_THAT(parse_error("a 1 0.1 inf\n"), Contains("yaw 'inf' is not finite"));
  CHECK_THAT(parse_error("a 1 0.1 1e40\n"), Contains("yaw '1e40' is not finite"));
  CHECK_THAT(parse_error("a 1 up 0.2\n"), Contains("pitch 'up' is not a number"));
}

TEST_CASE("gaze out of range is rejected, sequence rows may omit the class", "[io][csv]") {
  std::string msg = parse_error("a 1 0.1 0.2\nb 1 1.7 0.2\n");
  CHECK_THAT(msg, Contains("list.csv:2:"));
  CHECK_THAT(msg, Contains("pitch is outside"));
  CHECK_THAT(parse_error("a 1 0.1 -3.5\n"), Contains("yaw is outside"));
  CHECK_THAT(parse_error("a 1 45 10\n"), Contains("degrees"));
  // kGaze: `path pitch yaw` (class 0) or `path class pitch yaw`, one layout per file.
  auto rows =
      parse_annotations("f1 0.1 -0.2\nf2 0.15 0.3\n", "seq.csv", 0, AnnotationColumns::kGaze);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].label == 0);
  CHECK(*rows[1].pitch == Approx(0.15f));
  CHECK(*rows[1].yaw == Approx(0.3f));
  rows = parse_annotations("f1 3 0.1 -0.2\n", "seq.csv", 7, AnnotationColumns::kGaze);
  CHECK(rows[0].label == 3);
  CHECK_THAT(parse_error("f1 0.1 0.2\nf2 1 0.1 0.2\n", 7, AnnotationColumns::kGaze),
             Contains("line 1 has 3"));
  CHECK_THAT(parse_error("f1 0.1 0.2 0.3 0.4\n", 7, AnnotationColumns::kGaze),
             Contains("3 or 4 columns"));
  CHECK_THAT(parse_error("f1 0.5 0.1 0.2\n", 7, AnnotationColumns::kGaze),
             Contains("not an integer"));
}

TEST_CASE("read_annotations reads files and names them in errors", "[io][csv]") {
  const auto dir = dfer::test::temp_dir("csv");
  const auto good = (dir / "train.csv").string();
  std::ofstream(good) << "/x/00001 2\n/x/00002 5\n";
  auto rows = dfer::io::read_annotations(good, 7, AnnotationColumns::kLabel);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].label == 5);

  const auto bad = (dir / "bad.csv").string();
  std::ofstream(bad) << "/x/00001 2\n/x/00002 12\n";
  try {
    dfer::io::read_annotations(bad, 11);
    FAIL("no error");
  } catch (const dfer::UsageError& e) {
    CHECK_THAT(e.what(), Contains(bad + ":2:"));
  }
  CHECK_THROWS_AS(dfer::io::read_annotations((dir / "missing.csv").string(), 7), dfer::UsageError);
}
