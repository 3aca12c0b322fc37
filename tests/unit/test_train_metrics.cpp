// UAR / WAR / confusion / top-k / F1 against hand-computed values, malformed inputs, JSONL.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "dfer/train/metrics.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

using namespace dfer::train;
namespace fs = std::filesystem;
using Catch::Matchers::WithinAbs;

TEST_CASE("metrics of a small 3-class example", "[train][metrics]") {
  // class 0: 3 samples, 2 right; class 1: 1 sample, right; class 2: 2 samples, 0 right.
  const std::vector<int64_t> y = {0, 0, 0, 1, 2, 2};
  const std::vector<int64_t> p = {0, 0, 1, 1, 0, 1};
  const auto m = compute_classification_metrics(y, p, 3);
  CHECK(m.confusion == std::vector<std::vector<int64_t>>{{2, 1, 0}, {0, 1, 0}, {1, 1, 0}});
  CHECK_THAT(m.per_class_recall[0], WithinAbs(2.0 / 3, 1e-12));
  CHECK(m.per_class_recall[1] == 1.0);
  CHECK(m.per_class_recall[2] == 0.0);
  CHECK_THAT(m.uar, WithinAbs((2.0 / 3 + 1.0 + 0.0) / 3, 1e-12));
  CHECK_THAT(m.war, WithinAbs(0.5, 1e-12));
  CHECK_THAT(m.acc1, WithinAbs(50.0, 1e-12));
  // F1: class 0: tp 2, row 3, col 3 -> 2/3; class 1: tp 1, row 1, col 3 -> 0.5; class 2: 0.
  CHECK_THAT(m.macro_f1, WithinAbs((2.0 / 3 + 0.5 + 0) / 3, 1e-12));
  CHECK_THAT(m.weighted_f1, WithinAbs((3 * 2.0 / 3 + 1 * 0.5) / 6, 1e-12));
  CHECK_THAT(m.micro_f1, WithinAbs(0.5, 1e-12));
  const auto j = m.to_json("final_");
  CHECK(j.at("final_uar").get<double>() == m.uar);
  CHECK(m.to_string({"a", "b", "c"}).find("UAR") != std::string::npos);
}

TEST_CASE("top-k uses the scores, absent classes do not count in UAR", "[train][metrics]") {
  const std::vector<int64_t> y = {0, 1};
  const std::vector<int64_t> p = {1, 1};
  // 7 classes; sample 0's true class is ranked 2nd, sample 1's 1st.
  std::vector<float> s(14, 0.0f);
  s[1] = 0.9f;
  s[0] = 0.5f;
  s[7 + 1] = 0.8f;
  const auto m = compute_classification_metrics(y, p, 7, s);
  CHECK(m.acc1 == 50.0);
  CHECK(m.acc5 == 100.0);
  CHECK(m.uar == 0.5);  // mean over classes 0 and 1 only
}

TEST_CASE("malformed metric inputs throw", "[train][metrics]") {
  CHECK_THROWS_AS(compute_classification_metrics({0, 1}, {0}, 2), dfer::Error);
  CHECK_THROWS_AS(compute_classification_metrics({0, 2}, {0, 1}, 2), dfer::Error);
  CHECK_THROWS_AS(compute_classification_metrics({0, -1}, {0, 1}, 2), dfer::Error);
  CHECK_THROWS_AS(compute_classification_metrics({0}, {0}, 0), dfer::Error);
  CHECK_THROWS_AS(compute_classification_metrics({0}, {0}, 2, {0.1f}), dfer::Error);
  const auto empty = compute_classification_metrics({}, {}, 3);
  CHECK(empty.uar == 0.0);
  CHECK(empty.war == 0.0);
}

TEST_CASE("append_jsonl writes one object per line", "[train][metrics]") {
  const auto dir = dfer::test::temp_dir("train_jsonl");
  const std::string path = (dir / "metrics.jsonl").string();
  append_jsonl(path, {{"epoch", 0}, {"loss", 1.5}});
  append_jsonl(path, {{"epoch", 1}, {"loss", 1.25}});
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    CHECK(j.at("epoch").get<int>() == n);
    ++n;
  }
  CHECK(n == 2);
  CHECK_THROWS_AS(append_jsonl((dir / "missing" / "x.jsonl").string(), {}), dfer::Error);
  CHECK(class_names_for("DFEW", 7)[2] == "Neutral");
  CHECK(class_names_for("MAFW", 11)[4] == "Neutral");
  CHECK(class_names_for("other", 3) == std::vector<std::string>{"0", "1", "2"});
  CHECK(class_names_for("FERV39k", 7)[0] == "Happy");
  CHECK(class_names_for("DFEW_combine", 7)[6] == "Fear");
  CHECK(class_names_for("RAVDESS", 8)[7] == "surprised");
  CHECK(class_names_for("CREMA-D", 6)[3] == "HAP");
  CHECK(class_names_for("ENTERFACE", 6)[5] == "surprise");
}

TEST_CASE("keep_epochs_before drops the epochs a resume repeats and a torn last line",
          "[train][metrics]") {
  const auto dir = dfer::test::temp_dir("train_jsonl_resume");
  const std::string path = (dir / "metrics.jsonl").string();
  for (int e = 0; e < 4; ++e) append_jsonl(path, {{"epoch", e}, {"loss", 1.0 / (e + 1)}});
  { std::ofstream(path, std::ios::app) << R"({"epoch": 4, "lo)"; }  // killed mid-append
  CHECK(keep_epochs_before(path, 2) == 3);
  CHECK(dfer::test::read_file(path) == "{\"epoch\":0,\"loss\":1.0}\n{\"epoch\":1,\"loss\":0.5}\n");
  CHECK(keep_epochs_before(path, 2) == 0);
  CHECK(keep_epochs_before((dir / "none.jsonl").string(), 0) == 0);
  CHECK_FALSE(fs::exists(dir / "none.jsonl"));
  { std::ofstream(path, std::ios::app) << "not json\n{\"epoch\": 1}\n"; }
  CHECK_THROWS_WITH(keep_epochs_before(path, 1), Catch::Contains("metrics.jsonl:3"));
}
