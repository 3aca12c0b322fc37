// Training-trajectory parity on the reference's own fine-tuning run (float64): the recipe
// replays within the stated tolerances, and a wrong layer decay fails, naming the tensors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "dfer/models/parity.h"
#include "dfer/train/trajectory.h"
#include "support/fixtures.h"

namespace {

bool any_starts_with(const std::vector<std::string>& names, const std::string& prefix) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

}  // namespace

TEST_CASE("trajectory parity: the reference fine-tuning recipe, step by step in float64",
          "[train][parity]") {
  if (!dfer::test::require_fixture("reference/trajectory_lgi_small")) return;
  const auto dir = (dfer::test::fixtures_root() / "reference" / "trajectory_lgi_small").string();
  REQUIRE(dfer::train::is_trajectory_fixture(dir));
  dfer::train::TrajectoryOptions o;  // the trainer's settings, no deviation
  const auto good = dfer::train::run_trajectory(dir, o);
  INFO(good.to_string());
  CHECK(good.passed());
  CHECK(good.checks.size() > 20);

  SECTION("a deliberately wrong layer decay fails and names the tensors") {
    o.layer_decay_override = 0.7;  // the recipe's is 0.75
    const auto bad = dfer::train::run_trajectory(dir, o);
    INFO(bad.to_string());
    CHECK_FALSE(bad.passed());
    const auto failed = bad.failed();
    CHECK(any_starts_with(failed, "group "));     // lr scales differ from config.json's
    CHECK(any_starts_with(failed, "blocks.0."));  // and the weight changes of the scaled layers
    // The first loss precedes any update, so it still agrees: the failure is the recipe's.
    CHECK(std::find(failed.begin(), failed.end(), "loss[0]") == failed.end());
  }
}

TEST_CASE("trajectory parity: an unsupported recipe or a missing tensor names the file",
          "[train][parity]") {
  namespace fs = std::filesystem;
  if (!dfer::test::require_fixture("reference/trajectory_lgi_small")) return;
  const auto src = dfer::test::fixtures_root() / "reference" / "trajectory_lgi_small";
  const auto dir = dfer::test::temp_dir("trajectory-bad") / "trajectory_lgi_small";
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(src))
    fs::copy_file(e.path(), dir / e.path().filename());
  const auto config_file = (dir / "config.json").string();
  auto config = dfer::models::read_fixture_config(dir.string());

  SECTION("a recipe with mixup is refused before any step") {
    config["recipe"]["mixup"] = {{"mixup_alpha", 0.8}};
    std::ofstream(config_file) << config.dump();
    CHECK_THROWS_WITH(dfer::train::run_trajectory(dir.string()),
                      Catch::Contains(config_file) && Catch::Contains("mixup"));
  }
  SECTION("more steps than the fixture recorded: the file and tensor are named") {
    config["steps"] = config["steps"].get<int>() + 1;
    std::ofstream(config_file) << config.dump();
    CHECK_THROWS_WITH(
        dfer::train::run_trajectory(dir.string()),
        Catch::Contains("expected.safetensors") && Catch::Contains("no tensor 'lr6'"));
  }
}
