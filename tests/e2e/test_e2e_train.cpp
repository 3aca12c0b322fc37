// End-to-end runs of the real executables on a tiny synthetic dataset: pre-train -> fine-tune with
// checkpoints, metrics.jsonl and final results that match the saved predictions; bitwise-exact
// resume after SIGKILL; SIGTERM leaves a loadable checkpoint and exit code 143.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "dfer/io/safetensors.h"
#include "dfer/train/checkpoint.h"
#include "dfer/train/metrics.h"
#include "support/fixtures.h"
#include "support/programs.h"
#include "support/tiny_runs.h"

namespace fs = std::filesystem;
using dfer::test::bin;
using dfer::test::read_jsonl;
using dfer::test::run;
using dfer::test::slurp;
using dfer::test::spawn;
using dfer::test::wait_for;

using dfer::test::finetune_cmd;
using dfer::test::pretrain_cmd;

TEST_CASE("pre-train 2 epochs, then fine-tune 2 epochs from it", "[e2e][train]") {
  const auto& d = dfer::test::tiny_data();
  const auto pre = d.root / "pre";
  REQUIRE(run(pretrain_cmd(pre), (d.root / "pre.log").string()) == 0);
  CHECK(fs::exists(pre / "checkpoint-1.safetensors"));
  CHECK(fs::exists(pre / "checkpoint-1.state.safetensors"));
  CHECK(fs::exists(pre / "config.yaml"));
  CHECK(fs::exists(pre / "log.txt"));
  CHECK(fs::exists(pre / "train.log"));
  const auto pre_lines = read_jsonl(pre / "metrics.jsonl");
  REQUIRE(pre_lines.size() == 2);
  CHECK(std::isfinite(pre_lines[1].at("train_loss").get<double>()));

  const auto ft = d.root / "ft";
  auto cmd = finetune_cmd(ft, 2);
  cmd.insert(cmd.end(), {"training.finetune", (pre / "checkpoint-1.safetensors").string(),
                         "training.eval_best", "true"});
  REQUIRE(run(cmd, (d.root / "ft.log").string()) == 0);
  // The best validation epoch's weights are kept and, with eval_best, tested.
  CHECK(fs::exists(ft / "checkpoint-best.safetensors"));
  CHECK(nlohmann::json::parse(slurp(ft / "final_results.json"))
            .at("weights")
            .get<std::string>()
            .find("best-epoch model") == 0);
  CHECK(slurp(ft / "train.log").find("loaded pre-trained weights") != std::string::npos);
  CHECK(fs::exists(ft / "checkpoint-1.safetensors"));
  const auto lines = read_jsonl(ft / "metrics.jsonl");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].contains("val_uar"));

  const auto results = nlohmann::json::parse(slurp(ft / "final_results.json"));
  const double uar = results.at("final_uar"), war = results.at("final_war");
  // Recompute from the saved per-video predictions (a range check would always hold).
  std::ifstream in(ft / "test_predictions.csv");
  std::string line;
  std::getline(in, line);
  std::vector<int64_t> labels, preds;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string id, label, pred;
    std::getline(ss, id, ',');
    std::getline(ss, label, ',');
    std::getline(ss, pred, ',');
    labels.push_back(std::stoll(label));
    preds.push_back(std::stoll(pred));
  }
  REQUIRE(static_cast<int64_t>(labels.size()) == results.at("num_videos").get<int64_t>());
  const auto m = dfer::train::compute_classification_metrics(labels, preds, 7);
  CHECK(m.uar == Approx(uar).margin(1e-12));
  CHECK(m.war == Approx(war).margin(1e-12));
}

TEST_CASE("resume after SIGKILL is bitwise exact", "[e2e][train][resume]") {
  const auto& d = dfer::test::tiny_data();
  const auto straight = d.root / "straight";
  REQUIRE(run(finetune_cmd(straight, 4), (d.root / "straight.log").string()) == 0);

  const auto killed = d.root / "killed";
  const std::string log = (d.root / "killed.log").string();
  const pid_t pid = spawn(finetune_cmd(killed, 4), log, {{"DFER_TEST_STEP_DELAY_MS", "300"}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(killed / "checkpoint-1.state.safetensors") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(pid, SIGKILL);
  CHECK(wait_for(pid) == 128 + SIGKILL);
  REQUIRE(fs::exists(killed / "checkpoint-1.state.safetensors"));
  CHECK_FALSE(fs::exists(killed / "final_results.json"));

  REQUIRE(run(finetune_cmd(killed, 4), log) == 0);
  CHECK(slurp(log).find("resumed from checkpoint-") != std::string::npos);
  const auto a = dfer::io::load_safetensors((straight / "checkpoint-3.safetensors").string());
  const auto b = dfer::io::load_safetensors((killed / "checkpoint-3.safetensors").string());
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].first);
    CHECK(a[i].first == b[i].first);
    CHECK(torch::equal(a[i].second, b[i].second));
  }
  const auto ra = nlohmann::json::parse(slurp(straight / "final_results.json"));
  const auto rb = nlohmann::json::parse(slurp(killed / "final_results.json"));
  CHECK(ra.at("final_uar") == rb.at("final_uar"));
}

TEST_CASE("SIGTERM saves a loadable checkpoint and exits 143", "[e2e][train][signal]") {
  const auto& d = dfer::test::tiny_data();
  const auto out = d.root / "term";
  const std::string log = (d.root / "term.log").string();
  const pid_t pid = spawn(finetune_cmd(out, 4), log, {{"DFER_TEST_STEP_DELAY_MS", "300"}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (slurp(out / "train.log").find("finetune: 4 epochs") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ::kill(pid, SIGTERM);
  CHECK(wait_for(pid) == 143);
  auto c = dfer::train::find_resume_checkpoint(out.string());
  REQUIRE(c);
  CHECK(c->state.at("global_step").get<int64_t>() > 0);
  CHECK(slurp(log).find("signal 15") != std::string::npos);
  // The run continues from there to the end.
  REQUIRE(run(finetune_cmd(out, 4), log) == 0);
  CHECK(fs::exists(out / "final_results.json"));
}

TEST_CASE("a bad test list fails in seconds, before training, naming every problem",
          "[e2e][train][preflight]") {
  const auto& d = dfer::test::tiny_data();
  const auto bad = d.root / "bad_lists";
  fs::create_directories(bad);
  fs::create_directory_symlink(d.root / "synth" / "clips", bad / "clips");
  fs::copy_file(d.root / "synth" / "train.csv", bad / "train.csv");
  fs::copy_file(d.root / "synth" / "val.csv", bad / "val.csv");
  {
    std::ifstream in(d.root / "synth" / "test.csv");
    std::ofstream out(bad / "test.csv");
    std::string line;
    for (int i = 0; std::getline(in, line); ++i) out << (i == 2 ? "clips/missing 1" : line) << "\n";
  }
  auto cmd = finetune_cmd(d.root / "bad_run", 2);
  for (size_t i = 0; i + 1 < cmd.size(); ++i)
    if (cmd[i] == "data.data_path") cmd[i + 1] = bad.string();
  cmd.insert(cmd.end(), {"data.short_side_size", "24"});
  const std::string log = (d.root / "bad_run.log").string();
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = spawn(cmd, log);
  const int code = wait_for(pid);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(slurp(log));
  CHECK(code == 2);
  CHECK(seconds < 5.0);
  CHECK(slurp(log).find("test.csv:3: clip 'clips/missing' does not exist") != std::string::npos);
  CHECK(slurp(log).find("data.short_side_size 24 is smaller") != std::string::npos);
  CHECK_FALSE(fs::exists(d.root / "bad_run" / "metrics.jsonl"));
}

TEST_CASE("dfer-model bench -v prints the per-step debug lines, without -v none", "[e2e][bench]") {
  const auto& d = dfer::test::tiny_data();
  const std::vector<std::string> cmd = {
      bin("dfer-model"), "bench", "--train",  "--eval", "--config", "configs/synth_finetune.yaml",
      "--steps",         "2",     "--warmup", "1",      "--batch",  "1"};
  const std::string quiet = (d.root / "bench_quiet.log").string();
  REQUIRE(run(cmd, quiet) == 0);
  CHECK(slurp(quiet).find("[debug]") == std::string::npos);
  auto verbose_cmd = cmd;
  verbose_cmd.push_back("-v");
  const std::string verbose = (d.root / "bench_verbose.log").string();
  REQUIRE(run(verbose_cmd, verbose) == 0);
  const std::string text = slurp(verbose);
  CHECK(text.find("[debug] bench train step 1 (warm-up): data ") != std::string::npos);
  CHECK(text.find("[debug] bench train step 3: data ") != std::string::npos);
  CHECK(text.find("[debug] bench eval step 3: ") != std::string::npos);
}

TEST_CASE("the later reference's runner flags: --resume --seed --eval --dist_eval --local_rank",
          "[e2e][cli]") {
  const auto& d = dfer::test::tiny_data();
  const auto dump = (d.root / "runner_dump.log").string();
  REQUIRE(run({bin("dfer-finetune"), "--config", "configs/synth_finetune.yaml", "--output_dir",
               (d.root / "runner").string(), "--resume", "some/checkpoint-3.pth", "--seed", "7",
               "--eval", "--dist_eval", "--local_rank=1", "--dump-config"},
              dump) == 0);
  const std::string text = slurp(dump);
  CHECK(text.find("resume: some/checkpoint-3.pth") != std::string::npos);
  CHECK(text.find("seed: 7") != std::string::npos);
  CHECK(text.find("eval_only: true") != std::string::npos);
  CHECK(text.find("dist_eval: true") != std::string::npos);
  // Pre-training has no evaluation to run: its runner takes --resume and --seed only.
  const auto pre = (d.root / "runner_pre.log").string();
  CHECK(dfer::test::wait_for(
            dfer::test::spawn({bin("dfer-pretrain"), "--config", "configs/synth_pretrain.yaml",
                               "--eval", "--dump-config"},
                              pre)) == 2);
  CHECK(slurp(pre).find("--eval") != std::string::npos);
  // `--eval --resume CKPT` evaluates a trained run's checkpoint and exits.
  const auto trained = d.root / "runner_trained";
  REQUIRE(run(finetune_cmd(trained, 1), (d.root / "runner_trained.log").string()) == 0);
  auto eval = finetune_cmd(d.root / "runner_eval", 1);
  eval.insert(eval.begin() + 1,
              {"--eval", "--resume", (trained / "checkpoint-0.safetensors").string()});
  REQUIRE(run(eval, (d.root / "runner_eval.log").string()) == 0);
  const auto a = nlohmann::json::parse(slurp(d.root / "runner_eval" / "final_results.json"));
  const auto b = nlohmann::json::parse(slurp(trained / "final_results.json"));
  for (const char* key : {"final_uar", "final_war", "final_confusion_matrix", "num_videos"})
    CHECK(a.at(key) == b.at(key));  // the same weights tested the same way
  // No training step: no checkpoint and no epoch line; log.txt holds the --eval result only.
  CHECK_FALSE(fs::exists(d.root / "runner_eval" / "checkpoint-0.safetensors"));
  CHECK_FALSE(fs::exists(d.root / "runner_eval" / "metrics.jsonl"));
  const auto eval_log = slurp(d.root / "runner_eval" / "log.txt");
  CHECK(std::count(eval_log.begin(), eval_log.end(), '\n') == 1);
  CHECK(nlohmann::json::parse(eval_log).at("final_uar") == b.at("final_uar"));
}

namespace {

// Every line of a log.txt as JSON (a line that does not parse fails the test, naming it).
std::vector<nlohmann::json> original_log_lines(const fs::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    INFO(path.string() << ": " << line);
    REQUIRE(nlohmann::json::accept(line));
    out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// The dfer-finetune / dfer-pretrain --dump-config output of `args`.
std::string dumped_config(std::vector<std::string> args, const fs::path& log) {
  args.push_back("--dump-config");
  REQUIRE(run(args, log.string()) == 0);
  return slurp(log);
}

}  // namespace

TEST_CASE("MAE-DFER's script flags run dfer-pretrain and dfer-finetune, log.txt as the reference",
          "[e2e][cli]") {
  const auto& d = dfer::test::tiny_data();
  const auto pre = d.root / "mae_dfer_pre", ft = d.root / "mae_dfer_ft";
  const std::vector<std::string> tiny = {"model.patch_size",   "16", "model.embed_dim", "32",
                                         "model.num_heads",    "2",  "system.device",   "cpu",
                                         "system.num_threads", "1"};
  // MAE-DFER's scripts/voxceleb2/pretrain_*.sh and scripts/dfew/finetune_*.sh, argument for
  // argument, with tiny sizes; the model's width only exists as dfer KEY VALUE pairs.
  std::vector<std::string> pretrain = {bin("dfer-pretrain"),
                                       "--data_path",
                                       (d.root / "synth" / "pretrain.csv").string(),
                                       "--mask_type",
                                       "part_window",
                                       "--mask_ratio",
                                       "0.5",
                                       "--input_size",
                                       "32",
                                       "--model",
                                       "pretrain_videomae_base_dim512_no_depth_patch16_160",
                                       "--encoder_depth",
                                       "2",
                                       "--decoder_depth",
                                       "1",
                                       "--batch_size",
                                       "8",
                                       "--num_frames",
                                       "4",
                                       "--sampling_rate",
                                       "2",
                                       "--opt",
                                       "adamw",
                                       "--opt_betas",
                                       "0.9",
                                       "0.95",
                                       "--warmup_epochs",
                                       "1",
                                       "--save_ckpt_freq",
                                       "1",
                                       "--epochs",
                                       "2",
                                       "--log_dir",
                                       pre.string(),
                                       "--output_dir",
                                       pre.string(),
                                       "--lr",
                                       "3e-4",
                                       "--num_workers",
                                       "2",
                                       "--attn_type",
                                       "local_global",
                                       "--part_win_size",
                                       "2",
                                       "1",
                                       "2",
                                       "--lg_region_size",
                                       "2",
                                       "1",
                                       "2",
                                       "--use_frame_diff_as_target"};
  pretrain.insert(pretrain.end(), tiny.begin(), tiny.end());
  pretrain.insert(pretrain.end(),
                  {"model.decoder_embed_dim", "16", "model.decoder_num_heads", "2"});
  REQUIRE(run(pretrain, (d.root / "mae_dfer_pre.log").string()) == 0);
  const auto pre_log = original_log_lines(pre / "log.txt");
  REQUIRE(pre_log.size() == 2);
  for (const char* key : {"train_lr", "train_min_lr", "train_loss", "train_loss_scale",
                          "train_weight_decay", "train_grad_norm", "epoch", "n_parameters"})
    CHECK(pre_log[1].contains(key));
  CHECK(pre_log[1].at("epoch") == 1);

  std::vector<std::string> finetune = {bin("dfer-finetune"),
                                       "--model",
                                       "vit_base_dim512_no_depth_patch16_160",
                                       "--depth",
                                       "2",
                                       "--data_set",
                                       "DFEW",
                                       "--nb_classes",
                                       "7",
                                       "--data_path",
                                       (d.root / "synth").string(),
                                       "--finetune",
                                       (pre / "checkpoint-1.safetensors").string(),
                                       "--log_dir",
                                       ft.string(),
                                       "--output_dir",
                                       ft.string(),
                                       "--batch_size",
                                       "8",
                                       "--num_sample",
                                       "1",
                                       "--input_size",
                                       "32",
                                       "--short_side_size",
                                       "32",
                                       "--save_ckpt_freq",
                                       "1000",
                                       "--num_frames",
                                       "4",
                                       "--sampling_rate",
                                       "2",
                                       "--opt",
                                       "adamw",
                                       "--lr",
                                       "1e-3",
                                       "--opt_betas",
                                       "0.9",
                                       "0.999",
                                       "--weight_decay",
                                       "0.05",
                                       "--epochs",
                                       "2",
                                       "--warmup_epochs",
                                       "1",
                                       "--dist_eval",
                                       "--test_num_segment",
                                       "2",
                                       "--test_num_crop",
                                       "2",
                                       "--attn_type",
                                       "local_global",
                                       "--lg_region_size",
                                       "2",
                                       "1",
                                       "2",
                                       "--lg_classify_token_type",
                                       "region",
                                       "--num_workers",
                                       "2"};
  finetune.insert(finetune.end(), tiny.begin(), tiny.end());
  // The same settings in YAML form give the same effective config.
  const auto yaml = d.root / "mae_dfer_ft.yaml";
  std::ofstream(yaml) << "model: {name: vit_base_dim512_no_depth_patch16_160, depth: 2, "
                         "input_size: 32, attn_type: local_global, lg_region_size: [2, 1, 2], "
                         "lg_classify_token_type: region, patch_size: 16, embed_dim: 32, "
                         "num_heads: 2}\n"
                      << "data: {dataset_name: DFEW, num_classes: 7, data_path: '"
                      << (d.root / "synth").string()
                      << "', batch_size: 8, short_side_size: 32, num_frames: 4, sampling_rate: 2, "
                         "test_num_segment: 2, test_num_crop: 2, num_workers: 2}\n"
                      << "augmentation: {num_sample: 1}\n"
                      << "optimization: {optimizer: adamw, lr: 1.0e-3, opt_betas: [0.9, 0.999], "
                         "weight_decay: 0.05, warmup_epochs: 1}\n"
                      << "training: {finetune: '" << (pre / "checkpoint-1.safetensors").string()
                      << "', save_ckpt_freq: 1000, epochs: 2, dist_eval: true}\n"
                      << "system: {log_dir: '" << ft.string()
                      << "', device: cpu, num_threads: 1, log_txt: mae_dfer}\n";
  const std::string from_flags = dumped_config(finetune, d.root / "mae_dfer_flags.yaml");
  const std::string from_yaml =
      dumped_config({bin("dfer-finetune"), "--config", yaml.string(), "--output_dir", ft.string()},
                    d.root / "mae_dfer_yaml.yaml");
  CHECK(from_flags == from_yaml);
  CHECK(from_flags.find("lg_region_size: [2, 1, 2]") != std::string::npos);

  REQUIRE(run(finetune, (d.root / "mae_dfer_ft.log").string()) == 0);
  const auto results = nlohmann::json::parse(slurp(ft / "final_results.json"));
  const auto lines = original_log_lines(ft / "log.txt");
  REQUIRE(lines.size() == 3);  // two epochs, then the final results
  for (const char* key :
       {"train_lr", "train_min_lr", "train_loss", "train_weight_decay", "train_grad_norm",
        "val_loss", "val_acc1", "val_acc5", "epoch", "n_parameters"})
    CHECK(lines[0].contains(key));
  CHECK(lines[1].at("epoch") == 1);
  CHECK_FALSE(lines[0].contains("train_clips_per_s"));  // dfer's own fields stay in metrics.jsonl
  CHECK(lines[2].at("Final Top-1 (last epoch)") == results.at("final_acc1"));
  CHECK(lines[2].at("Final UAR") == results.at("final_uar"));
  CHECK(lines[2].at("Final WAR") == results.at("final_war"));
  // The human log moved beside it.
  CHECK(slurp(ft / "train.log").find("loaded pre-trained weights") != std::string::npos);
}
