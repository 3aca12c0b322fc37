// The shared CLI front: exit codes (0 ok, 1 failure, 2 usage/config), --dump-config on stdout,
// KEY VALUE overrides, --output_dir and the effective config written before the job.
#include <catch2/catch.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#include "dfer/config/cli.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

using Catch::Matchers::Contains;

namespace {

struct Run {
  int code = -1;
  std::string out;
  bool job_ran = false;
  std::string seen_dump;  // the config the job received, dumped
};

// Runs run_config_tool on argv (argv[0] added) and captures stdout.
Run run_tool(std::vector<std::string> args, std::function<int(const dfer::Config&)> job = {}) {
  args.insert(args.begin(), "dfer-test");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  Run r;
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  r.code = dfer::run_config_tool(int(argv.size()), argv.data(), "dfer-test", "test tool",
                                 [&](const dfer::Config& cfg) {
                                   r.job_ran = true;
                                   r.seen_dump = cfg.dump_yaml();
                                   return job ? job(cfg) : 0;
                                 });
  std::cout.rdbuf(old);
  r.out = captured.str();
  return r;
}

std::string write_file(const std::string& tag, const std::string& text) {
  auto path = dfer::test::temp_dir(tag) / "c.yaml";
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("the --dump-config flag prints the effective config and exits 0", "[config][cli]") {
  const std::string file = write_file("cli-dump", "model:\n  depth: 4\n");
  Run r = run_tool({"--config", file, "--dump-config", "optimization.lr", "0.5"});
  CHECK(r.code == 0);
  CHECK_FALSE(r.job_ran);
  dfer::Config expected;
  expected.apply_override("model.depth", "4");
  expected.apply_override("optimization.lr", "0.5");
  CHECK(r.out == expected.dump_yaml());
}

TEST_CASE("list values and negative numbers pass through as override values", "[config][cli]") {
  int64_t h = 0, steps = 0;
  Run r = run_tool({"model.lg_region_size", "[2,3,6]", "optimization.warmup_steps", "-1",
                    "augmentation.crop_scale", "[0.5, 1.0]"},
                   [&](const dfer::Config& c) {
                     h = c.get_int_list("model.lg_region_size").at(1);
                     steps = c.get_int("optimization.warmup_steps");
                     return c.get_float_list("augmentation.crop_scale").at(0) == 0.5 ? 0 : 1;
                   });
  CHECK(r.code == 0);
  CHECK(r.job_ran);
  CHECK(h == 3);
  CHECK(steps == -1);
}

TEST_CASE("original configs load unchanged through --dump-config", "[config][cli]") {
  for (const char* sub : {"configs/dfew_combine.yaml", "configs/voxceleb2_pretrain.yaml"}) {
    if (!dfer::test::require_fixture(sub)) return;
    const auto path = (dfer::test::fixtures_root() / sub).string();
    Run r = run_tool({"--config", path, "--dump-config"});
    CHECK(r.code == 0);
    dfer::Config direct;
    direct.load_yaml_file(path);
    CHECK(r.out == direct.dump_yaml());
  }
}

TEST_CASE("a misspelt key exits 2", "[config][cli]") {
  const std::string file = write_file("cli-typo", "model:\n  dpeth: 16\n");
  Run r = run_tool({"--config", file, "--dump-config"});
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(run_tool({"--config", file}).code == 2);
  CHECK_FALSE(run_tool({"--config", file}).job_ran);
}

TEST_CASE("command-line mistakes exit 2", "[config][cli]") {
  CHECK(run_tool({"model.depth"}).code == 2);              // odd KEY VALUE count
  CHECK(run_tool({"model.dpeth", "3"}).code == 2);         // unknown override key
  CHECK(run_tool({"data.num_frames", "many"}).code == 2);  // wrong type
  CHECK(run_tool({"--no-such-flag"}).code == 2);           // CLI11 parse error
  CHECK(run_tool({"--config", "does/not/exist.yaml"}).code == 2);
  CHECK(run_tool({"--help"}).code == 0);
}

TEST_CASE("job results map to exit codes", "[config][cli]") {
  CHECK(run_tool({}, [](const dfer::Config&) { return 0; }).code == 0);
  CHECK(run_tool({}, [](const dfer::Config&) -> int { throw dfer::Error("disk full"); }).code == 1);
  CHECK(run_tool({}, [](const dfer::Config&) -> int { throw dfer::UsageError("bad"); }).code == 2);
  CHECK(run_tool({}, [](const dfer::Config&) -> int { throw std::runtime_error("x"); }).code == 1);
  CHECK(run_tool({}, [](const dfer::Config&) { return 3; }).code == 3);
}

TEST_CASE("the --output_dir flag sets system.output_dir and receives config.yaml",
          "[config][cli]") {
  const auto dir = dfer::test::temp_dir("cli-out") / "run";
  Run r = run_tool({"-o", dir.string(), "system.output_dir", "ignored", "optimization.warmup_steps",
                    "-1", "training.epochs", "2"});
  CHECK(r.code == 0);
  REQUIRE(r.job_ran);
  dfer::Config seen;
  seen.load_yaml_string(r.seen_dump, "seen");
  CHECK(seen.get_string("system.output_dir") == dir.string());
  CHECK(seen.get_int("optimization.warmup_steps") == -1);
  std::ifstream in(dir / "config.yaml");
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == r.seen_dump);
}

TEST_CASE("tool flags and the after_load hook", "[config][cli]") {
  bool eval = false;
  dfer::ToolSpec spec;
  spec.name = "dfer-test";
  spec.add_options = [&](CLI::App& app) { (void)app; };
  spec.after_load = [&](dfer::Config& cfg, const dfer::CliArgs& args) {
    CHECK(args.overrides.size() == 1);
    cfg.set_bool("training.eval_only", true);
  };
  spec.write_config = false;
  spec.job = [&](const dfer::Config& cfg) {
    eval = cfg.get_bool("training.eval_only");
    return 0;
  };
  std::vector<const char*> argv = {"dfer-test", "data.num_frames", "8"};
  CHECK(dfer::run_config_tool(int(argv.size()), argv.data(), spec) == 0);
  CHECK(eval);
}

TEST_CASE("pair_overrides pairs tokens and rejects a lone key", "[config][cli]") {
  auto p = dfer::pair_overrides({"a.b", "1", "c.d", "x"});
  REQUIRE(p.size() == 2);
  CHECK(p[1].first == "c.d");
  CHECK(p[1].second == "x");
  try {
    dfer::pair_overrides({"a.b", "1", "c.d"});
    FAIL("no error");
  } catch (const dfer::UsageError& e) {
    CHECK_THAT(e.what(), Contains("'c.d' has no value"));
  }
}
