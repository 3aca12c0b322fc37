// Data-parallel training end to end: 2 processes launched by the real torchrun (--no-python, Gloo
// on loopback, through tools/launch.sh) and by a hand-made Slurm environment reach the parameters
// and metrics of 1 process with the same global batch; a killed or stalled rank makes the other
// exit non-zero with a clear message within system.dist_timeout.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "dfer/io/safetensors.h"
#include "support/fixtures.h"
#include "support/programs.h"

namespace fs = std::filesystem;
using dfer::test::bin;
using dfer::test::read_jsonl;
using dfer::test::run;
using dfer::test::slurp;
using dfer::test::spawn;
using dfer::test::wait_for;
using Env = std::vector<std::pair<std::string, std::string>>;

namespace {

// 12 training clips: 3 optimizer steps of a global batch of 4, the same 4 clips per step whatever
// the split into processes. 7 validation clips: the 2 ranks' shards differ in size. Stochastic
// depth and RandAugment stay on (their draws follow the sample), mixup is off (it pairs within
// a process's batch, as the reference).
const char* kConfig = R"(
model:
  name: vit_base_dim512_no_depth_patch16_160
  input_size: 32
  patch_size: 16
  tubelet_size: 2
  embed_dim: 32
  depth: 2
  num_heads: 2
  attn_type: local_global
  lg_region_size: [2, 1, 2]
  lg_classify_token_type: region
  drop_path: 0.1
data:
  dataset_name: synth
  num_classes: 7
  num_frames: 4
  sampling_rate: 2
  short_side_size: 32
  num_workers: 1
  test_num_segment: 2
  test_num_crop: 1
augmentation:
  mixup: 0.0
  cutmix: 0.0
optimization:
  lr: 0.05
  warmup_steps: 1
training:
  epochs: 1
system:
  device: cpu
  num_threads: 1
  seed: 5
  dist_backend: gloo
  dist_timeout: 20
)";

struct Data {
  fs::path root, data, yaml;
};

const Data& data() {
  static Data d = [] {
    Data x;
    x.root = dfer::test::temp_dir("e2e_dist");
    const auto synth = x.root / "synth";
    REQUIRE(run({bin("dfer-prep"), "synth", "--out", synth.string(), "--videos", "40", "--size",
                 "40", "--min-frames", "8", "--max-frames", "10"},
                (x.root / "prep.log").string()) == 0);
    x.data = x.root / "data";
    fs::create_directories(x.data);
    fs::create_directory_symlink(synth / "clips", x.data / "clips");
    auto take = [&](const char* split, int n) {
      std::ifstream in(synth / (std::string(split) + ".csv"));
      std::ofstream out(x.data / (std::string(split) + ".csv"));
      std::string line;
      for (int i = 0; i < n && std::getline(in, line); ++i) out << line << "\n";
    };
    take("train", 12);
    take("val", 7);
    take("test", 5);
    x.yaml = x.root / "dist.yaml";
    std::ofstream(x.yaml) << kConfig;
    return x;
  }();
  return d;
}

std::vector<std::string> finetune_args(const fs::path& out, int batch, int update_freq,
                                       std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--config",
                                data().yaml.string(),
                                "--output_dir",
                                out.string(),
                                "data.data_path",
                                data().data.string(),
                                "data.batch_size",
                                std::to_string(batch),
                                "training.update_freq",
                                std::to_string(update_freq)};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// One process, the whole global batch.
fs::path single(const std::string& tag, int batch) {
  const auto out = data().root / tag;
  if (!fs::exists(out / "final_results.json")) {
    auto args = finetune_args(out, batch, 1);
    args.insert(args.begin(), bin("dfer-finetune"));
    REQUIRE(run(args, (data().root / (tag + ".log")).string()) == 0);
  }
  return out;
}

void check_same_run(const fs::path& one, const fs::path& two) {
  const auto a = dfer::io::load_safetensors((one / "checkpoint-0.safetensors").string());
  const auto b = dfer::io::load_safetensors((two / "checkpoint-0.safetensors").string());
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].first == b[i].first);
    worst = std::max(worst, (a[i].second - b[i].second).abs().max().item<double>());
  }
  INFO("largest parameter difference " << worst);
  CHECK(worst <= 1e-6);
  // The three steps changed the weights: the comparison is not between two initialisations.
  const auto la = read_jsonl(one / "metrics.jsonl"), lb = read_jsonl(two / "metrics.jsonl");
  REQUIRE(la.size() == 1);
  REQUIRE(lb.size() == 1);
  CHECK(la[0].at("train_loss").get<double>() ==
        Approx(lb[0].at("train_loss").get<double>()).epsilon(1e-5));
  for (const char* k : {"val_uar", "val_war", "val_acc1", "val_macro_f1"}) {
    INFO(k);
    CHECK(la[0].at(k).get<double>() == lb[0].at(k).get<double>());
  }
  CHECK(la[0].at("val_loss").get<double>() ==
        Approx(lb[0].at("val_loss").get<double>()).epsilon(1e-5));
  const auto ra = nlohmann::json::parse(slurp(one / "final_results.json"));
  const auto rb = nlohmann::json::parse(slurp(two / "final_results.json"));
  CHECK(ra.at("num_videos") == rb.at("num_videos"));
  CHECK(ra.at("final_uar") == rb.at("final_uar"));
  CHECK(ra.at("final_war") == rb.at("final_war"));
  // The test predictions, video by video.
  CHECK(slurp(one / "test_predictions.csv").size() == slurp(two / "test_predictions.csv").size());
}

}  // namespace

TEST_CASE("torchrun: 2 processes reach the parameters and metrics of 1", "[e2e][dist]") {
  const auto one = single("one_b4", 4);
  const auto two = data().root / "torchrun_b2";
  auto args = finetune_args(two, 2, 1);
  args.insert(args.begin(), {std::string(DFER_SOURCE_DIR) + "/tools/launch.sh", "--nproc", "2",
                             bin("dfer-finetune")});
  const std::string log = (data().root / "torchrun_b2.log").string();
  REQUIRE(run(args, log) == 0);
  INFO(slurp(log));
  CHECK(slurp(two / "train.log").find("distributed: 2 processes over gloo") != std::string::npos);
  // torchrun (not the fallback) ran it: its agent's store served the rendezvous.
  CHECK(slurp(log).find("starting 2 processes directly") == std::string::npos);
  check_same_run(one, two);

  SECTION("with update_freq 2: 2 processes x batch 1 x 2 micro-steps") {
    const auto acc = data().root / "torchrun_b1_uf2";
    auto a2 = finetune_args(acc, 1, 2);
    a2.insert(a2.begin(), {std::string(DFER_SOURCE_DIR) + "/tools/launch.sh", "--nproc", "2",
                           bin("dfer-finetune")});
    REQUIRE(run(a2, (data().root / "torchrun_b1_uf2.log").string()) == 0);
    check_same_run(one, acc);
  }
}

TEST_CASE("Slurm environment: 2 tasks reach the parameters and metrics of 1", "[e2e][dist]") {
  const auto one = single("one_b4", 4);
  const auto two = data().root / "slurm_b2";
  const std::string port = std::to_string(dfer::test::free_loopback_port());
  std::vector<pid_t> pids;
  for (int r = 0; r < 2; ++r) {
    auto args = finetune_args(two, 2, 1);
    args.insert(args.begin(), {bin("dfer-finetune"), "--local-rank=" + std::to_string(r)});
    pids.push_back(spawn(args, (data().root / ("slurm_" + std::to_string(r) + ".log")).string(),
                         {{"SLURM_PROCID", std::to_string(r)},
                          {"SLURM_LOCALID", std::to_string(r)},
                          {"SLURM_NTASKS", "2"},
                          {"SLURM_TASKS_PER_NODE", "2"},
                          {"SLURM_JOB_NODELIST", "localhost"},
                          {"MASTER_PORT", port}}));
  }
  for (pid_t p : pids) CHECK(wait_for(p) == 0);
  INFO(slurp(data().root / "slurm_0.log") << slurp(data().root / "slurm_1.log"));
  CHECK(slurp(two / "train.log").find("slurm rank 0 of 2") != std::string::npos);
  check_same_run(one, two);
}

TEST_CASE("a dead or stalled rank stops the other with a clear message", "[e2e][dist][fault]") {
  for (const int sig : {SIGKILL, SIGSTOP}) {
    const std::string tag = sig == SIGKILL ? "killed" : "stalled";
    const auto out = data().root / ("fault_" + tag);
    const std::string port = std::to_string(dfer::test::free_loopback_port());
    std::vector<pid_t> pids;
    for (int r = 0; r < 2; ++r) {
      auto args = finetune_args(out, 1, 1, {"training.epochs", "20", "system.dist_timeout", "6"});
      args.insert(args.begin(), bin("dfer-finetune"));
      pids.push_back(spawn(args, (data().root / (tag + std::to_string(r) + ".log")).string(),
                           {{"RANK", std::to_string(r)},
                            {"LOCAL_RANK", std::to_string(r)},
                            {"WORLD_SIZE", "2"},
                            {"MASTER_ADDR", "127.0.0.1"},
                            {"MASTER_PORT", port},
                            {"DFER_TEST_STEP_DELAY_MS", "100"}}));
    }
    const auto log0 = data().root / (tag + "0.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (slurp(log0).find("finetune epoch 1/20") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(pids[1], sig);
    const auto t0 = std::chrono::steady_clock::now();
    const int code = wait_for(pids[0]);
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO(tag << ": rank 0 exited with " << code << " after " << waited << " s\n" << slurp(log0));
    CHECK(code != 0);
    CHECK(waited < 6 + 10);  // the timeout, plus shutting down
    CHECK(slurp(log0).find("distributed: rank 0 of 2:") != std::string::npos);
    CHECK(slurp(log0).find("Another rank has probably died") != std::string::npos);
    if (sig == SIGSTOP) ::kill(pids[1], SIGKILL);
    wait_for(pids[1]);
  }
}

namespace {
// The pids of running processes whose command line contains `needle` (a run's output folder).
std::vector<pid_t> processes_with(const std::string& needle, const std::string& program) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = slurp(e.path() / "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) != std::string::npos && cmd.rfind(program) != std::string::npos &&
        cmd.find("torchrun") == std::string::npos && cmd.find("launch.sh") == std::string::npos)
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}
}  // namespace

TEST_CASE("torchrun restarts a job whose rank died, and it resumes exactly", "[e2e][dist][fault]") {
  const std::string launch = std::string(DFER_SOURCE_DIR) + "/tools/launch.sh";
  const std::vector<std::string> more = {"training.epochs", "3", "training.save_ckpt_freq", "1"};
  const auto straight = data().root / "restart_straight";
  auto a = finetune_args(straight, 2, 1, more);
  a.insert(a.begin(), {launch, "--nproc", "2", bin("dfer-finetune")});
  REQUIRE(run(a, (data().root / "restart_straight.log").string()) == 0);

  const auto restarted = data().root / "restart_killed";
  auto b = finetune_args(restarted, 2, 1, more);
  b.insert(b.begin(), {launch, "--nproc", "2", "--max-restarts", "1", bin("dfer-finetune")});
  const std::string log = (data().root / "restart_killed.log").string();
  const pid_t launcher = spawn(b, log, {{"DFER_TEST_STEP_DELAY_MS", "300"}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(restarted / "checkpoint-0.state.safetensors") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(fs::exists(restarted / "checkpoint-0.state.safetensors"));
  const auto workers = processes_with(restarted.string(), "dfer-finetune");
  REQUIRE(workers.size() == 2);
  ::kill(workers.back(), SIGKILL);
  REQUIRE(wait_for(launcher) == 0);
  INFO(slurp(log));
  CHECK(slurp(restarted / "train.log").find("resumed from checkpoint-") != std::string::npos);
  CHECK(slurp(restarted / "train.log").find("restart 1") != std::string::npos);
  const auto x = dfer::io::load_safetensors((straight / "checkpoint-2.safetensors").string());
  const auto y = dfer::io::load_safetensors((restarted / "checkpoint-2.safetensors").string());
  REQUIRE(x.size() == y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    INFO(x[i].first);
    CHECK(torch::equal(x[i].second, y[i].second));
  }
}
