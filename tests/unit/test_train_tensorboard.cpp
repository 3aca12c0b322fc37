// TensorBoard event files read back by PyPI's `tensorboard` (its EventAccumulator, from the
// project's .venv; tools/test.sh installs it): the writer's scalars, a restart hiding a killed
// run's later steps, and a tiny fine-tuning with system.log_dir (per-step train/*, per-epoch
// epoch/*, and a resumed run adding a second file).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

#include "dfer/train/tensorboard.h"
#include "support/fixtures.h"
#include "support/programs.h"
#include "support/tiny_runs.h"

namespace fs = std::filesystem;
using dfer::train::TensorBoardWriter;

namespace {

std::string python() {
  return std::string(DFER_SOURCE_DIR) + "/.venv/bin/python";
}

bool have_tensorboard() {
  const std::string cmd = python() +
                          " -c 'import tensorboard.backend.event_processing.event_accumulator' "
                          "> /dev/null 2>&1";
  if (std::system(cmd.c_str()) == 0) return true;
  if (std::getenv("CI")) FAIL("tensorboard is missing from .venv (tools/test.sh installs it)");
  WARN("tensorboard not in .venv: skipped (tools/test.sh installs it)");
  return false;
}

// What TensorBoard makes of a log folder: the file version and, per scalar tag, its points.
const char* const kReader = R"(
import json, sys
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})
acc.Reload()
out = {"file_version": acc.file_version, "scalars": {}}
for tag in acc.Tags()["scalars"]:
    out["scalars"][tag] = [[e.step, e.value, e.wall_time] for e in acc.Scalars(tag)]
json.dump(out, open(sys.argv[2], "w"))
)";

struct Point {
  int64_t step;
  double value, wall_time;
};
struct Read {
  double file_version = 0;
  std::map<std::string, std::vector<Point>> scalars;
};

Read read_back(const fs::path& log_dir) {
  const auto script = log_dir.parent_path() / "read_events.py";
  const auto json = log_dir.parent_path() / "events.json";
  std::ofstream(script) << kReader;
  const auto err = log_dir.parent_path() / "reader.log";
  const std::string cmd = python() + " " + script.string() + " " + log_dir.string() + " " +
                          json.string() + " 2> " + err.string();
  if (std::system(cmd.c_str()) != 0)
    FAIL("the TensorBoard reader failed:\n" + dfer::test::slurp(err));
  const auto j = nlohmann::json::parse(dfer::test::read_file(json));
  Read r;
  r.file_version = j.at("file_version").get<double>();
  for (const auto& [tag, points] : j.at("scalars").items())
    for (const auto& p : points)
      r.scalars[tag].push_back({p[0].get<int64_t>(), p[1].get<double>(), p[2].get<double>()});
  return r;
}

std::vector<int64_t> steps_of(const std::vector<Point>& points) {
  std::vector<int64_t> s;
  for (const auto& p : points) s.push_back(p.step);
  return s;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int event_files_in(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  return n;
}

}  // namespace

TEST_CASE("crc32c gives the standard check values", "[train][tensorboard]") {
  CHECK(dfer::train::crc32c("123456789", 9) == 0xe3069283u);
  const std::string zeros(32, '\0'), ones(32, '\xff');  // RFC 3720, B.4
  CHECK(dfer::train::crc32c(zeros.data(), zeros.size()) == 0x8a9136aau);
  CHECK(dfer::train::crc32c(ones.data(), ones.size()) == 0x62a8ab43u);
}

TEST_CASE("TensorBoard reads the writer's scalars at their steps", "[train][tensorboard]") {
  if (!have_tensorboard()) return;
  const auto dir = dfer::test::temp_dir("tensorboard") / "logs";
  const double t0 = unix_now();
  {
    TensorBoardWriter w(dir.string());
    CHECK(fs::path(w.path()).filename().string().rfind("events.out.tfevents.", 0) == 0);
    for (int64_t step = 0; step < 5; ++step)
      w.add_scalars(step, {{"train/loss", 2.0 - 0.25 * step}, {"train/lr", 1e-4 * (step + 1)}});
    w.add_scalar("epoch/val_uar", 0.625, 0);
    w.add_scalar("epoch/val_uar", -1.5e10, 1);  // a large magnitude survives float32
    w.flush();
  }
  const double t1 = unix_now();
  const Read r = read_back(dir);
  CHECK(r.file_version == 2.0);
  REQUIRE(r.scalars.size() == 3);
  const auto& loss = r.scalars.at("train/loss");
  const auto& lr = r.scalars.at("train/lr");
  CHECK(steps_of(loss) == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(steps_of(lr) == std::vector<int64_t>{0, 1, 2, 3, 4});
  for (int64_t s = 0; s < 5; ++s) {
    CHECK(loss[s].value == 2.0 - 0.25 * s);  // exact in float32
    CHECK(lr[s].value == static_cast<double>(static_cast<float>(1e-4 * (s + 1))));
    CHECK(loss[s].wall_time >= t0 - 1e-3);
    CHECK(loss[s].wall_time <= t1 + 1e-3);
  }
  const auto& uar = r.scalars.at("epoch/val_uar");
  CHECK(steps_of(uar) == std::vector<int64_t>{0, 1});
  CHECK(uar[0].value == 0.625);
  CHECK(uar[1].value == static_cast<double>(-1.5e10f));
}

TEST_CASE("a restarted writer hides what the killed run logged past the restart",
          "[train][tensorboard]") {
  if (!have_tensorboard()) return;
  const auto dir = dfer::test::temp_dir("tensorboard_restart") / "logs";
  {
    TensorBoardWriter killed(dir.string());
    for (int64_t step = 0; step < 6; ++step) killed.add_scalar("train/loss", step, step);
  }
  {
    TensorBoardWriter resumed(dir.string());
    resumed.restart_at(3);
    for (int64_t step = 3; step < 8; ++step) resumed.add_scalar("train/loss", 10 + step, step);
  }
  CHECK(event_files_in(dir) == 2);
  const Read r = read_back(dir);
  const auto& loss = r.scalars.at("train/loss");
  REQUIRE(steps_of(loss) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  for (int64_t s = 0; s < 8; ++s) CHECK(loss[s].value == (s < 3 ? s : 10 + s));
}

TEST_CASE("training with system.log_dir logs train/* per step and epoch/* per epoch",
          "[train][tensorboard][e2e]") {
  if (!have_tensorboard()) return;
  const auto& d = dfer::test::tiny_data();
  const auto out = d.root / "tensorboard_ft";
  const auto logs = out / "tb";
  const auto cmd = [&](int epochs) {
    auto c = dfer::test::finetune_cmd(out, epochs);
    c.insert(c.end(), {"system.log_dir", logs.string()});
    return c;
  };
  const std::string log = (d.root / "tensorboard_ft.log").string();
  REQUIRE(dfer::test::run(cmd(2), log) == 0);
  // A second process resumes from the last checkpoint and adds a third epoch in its own file.
  REQUIRE(dfer::test::run(cmd(3), log) == 0);
  CHECK(dfer::test::slurp(log).find("resumed from checkpoint-1") != std::string::npos);
  CHECK(event_files_in(logs) == 2);

  const auto lines = dfer::test::read_jsonl(out / "metrics.jsonl");
  REQUIRE(lines.size() == 3);
  const Read r = read_back(logs);
  const auto& lr = r.scalars.at("train/lr");
  const auto& loss = r.scalars.at("train/loss");
  // One point per optimizer step, numbered 0, 1, ... across both processes.
  const int64_t steps = static_cast<int64_t>(lr.size());
  REQUIRE(steps % 3 == 0);
  REQUIRE(steps >= 3);
  for (int64_t s = 0; s < steps; ++s) CHECK(lr[s].step == s);
  CHECK(steps_of(loss) == steps_of(lr));  // the tiny run skips no step
  // Each epoch's train_lr / train_loss is the mean of its steps' values: the steps sit in the
  // right epochs.
  const int64_t per_epoch = steps / 3;
  for (int64_t e = 0; e < 3; ++e) {
    double lr_sum = 0, loss_sum = 0;
    for (int64_t s = e * per_epoch; s < (e + 1) * per_epoch; ++s) {
      lr_sum += lr[s].value;
      loss_sum += loss[s].value;
    }
    INFO("epoch " << e);
    CHECK(lr_sum / per_epoch == Approx(lines[e].at("train_lr").get<double>()).epsilon(1e-5));
    CHECK(loss_sum / per_epoch == Approx(lines[e].at("train_loss").get<double>()).epsilon(1e-5));
  }
  // Every numeric field of each metrics.jsonl line, at the epoch index.
  for (const auto& line : lines) {
    const int64_t epoch = line.at("epoch").get<int64_t>();
    for (const auto& [key, value] : line.items()) {
      if (!value.is_number() || key == "epoch") continue;
      INFO("epoch/" << key);
      REQUIRE(r.scalars.count("epoch/" + key) == 1);
      const auto& points = r.scalars.at("epoch/" + key);
      REQUIRE(points.size() == 3);
      CHECK(points[epoch].step == epoch);
      CHECK(points[epoch].value == static_cast<double>(static_cast<float>(value.get<double>())));
    }
  }
  CHECK(r.scalars.count("epoch/val_uar") == 1);
}
