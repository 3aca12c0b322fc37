// End-to-end runs of the gaze workflow on the synthetic dataset's gaze labels, with the shipped
// configs: MAE-DFER pre-training, then dfer-gaze360 and dfer-combine from the pre-trained encoder,
// each beating its trivial baseline; the emotion frames relabelled by the gaze model (dfer-prep
// frames -> split -> relabel) load as combine data; bad gaze labels stop a run before training.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dfer/util/gaze.h"
#include "support/fixtures.h"
#include "support/programs.h"

namespace fs = std::filesystem;
using dfer::test::bin;
using dfer::test::run;
using dfer::test::slurp;

namespace {

nlohmann::json read_json(const fs::path& p) {
  return nlohmann::json::parse(slurp(p));
}

// (pitch, yaw) per frame path of every CSV in `dir` (rows `path class pitch yaw`).
std::map<std::string, std::pair<double, double>> gaze_by_frame(const fs::path& dir) {
  std::map<std::string, std::pair<double, double>> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path());
    std::string path;
    double label, p, y;
    while (in >> path >> label >> p >> y)
      out[(e.path().parent_path() / path).lexically_normal().string()] = {p, y};
  }
  return out;
}

}  // namespace

TEST_CASE("gaze and combine train from a pre-trained encoder, relabelled frames are combine data",
          "[e2e][gaze]") {
  const auto root = dfer::test::temp_dir("e2e_gaze");
  const auto synth = root / "synth";
  auto log = [&](const char* name) { return (root / (std::string(name) + ".log")).string(); };
  // The demo's dataset and pre-training recipe (tools/run_demo.sh). Gaze is a few pixels of pupil
  // position, so the test needs the demo's large features and a well pre-trained encoder: with the
  // default feature scale, or 2000 clips pre-trained as long, 4-6 gaze epochs end at 13 degrees.
  REQUIRE(run({bin("dfer-prep"), "--threads", "2", "synth", "--out", synth.string(), "--videos",
               "3000", "--size", "64", "--face-zoom", "1.6", "--feature-scale", "2.0",
               "--min-intensity", "0.9"},
              log("synth")) == 0);
  const auto pre = root / "pretrain";
  REQUIRE(run({bin("dfer-pretrain"), "--config", "configs/synth_pretrain.yaml", "-o", pre.string(),
               "data.data_path", (synth / "pretrain.csv").string(), "training.epochs", "16",
               "system.num_threads", "2"},
              log("pretrain")) == 0);
  const std::string encoder = (pre / "checkpoint-15.safetensors").string();

  // Gaze regression: mean angular error below half that of predicting the training mean gaze.
  const auto gaze = root / "gaze";
  REQUIRE(run({bin("dfer-gaze360"), "--config", "configs/synth_gaze.yaml", "-o", gaze.string(),
               "data.data_path", (synth / "gaze").string(), "training.finetune", encoder,
               "system.num_threads", "2"},
              log("gaze")) == 0);
  const auto g = read_json(gaze / "final_results.json");
  INFO(g.dump(2));
  CHECK(g.at("final_mean_angle_error").get<double>() <
        0.5 * g.at("final_baseline_angle_error").get<double>());
  CHECK(fs::exists(gaze / "checkpoint-best.safetensors"));
  CHECK(fs::exists(gaze / "val_videos.csv"));

  // Combine: UAR and WAR above chance (the classes are balanced, so chance = the majority share),
  // angular error below the mean-gaze baseline, per frame and per video.
  const auto comb = root / "combine";
  REQUIRE(run({bin("dfer-combine"), "--config", "configs/synth_combine.yaml", "-o", comb.string(),
               "data.data_path", (synth / "combine").string(), "training.finetune", encoder,
               "system.num_threads", "2"},
              log("combine")) == 0);
  const auto c = read_json(comb / "final_results.json");
  INFO(c.dump(2));
  const double chance = 1.0 / 7;  // the synthetic classes are balanced
  CHECK(c.at("final_uar").get<double>() > chance + 0.1);
  CHECK(c.at("final_war").get<double>() > chance + 0.1);
  CHECK(c.at("final_video_uar").get<double>() > chance + 0.1);
  CHECK(c.at("final_video_war").get<double>() > chance + 0.1);
  CHECK(c.at("final_mean_angle_error").get<double>() <
        0.9 * c.at("final_baseline_angle_error").get<double>());
  CHECK(c.at("final_video_mean_angle_error").get<double>() <
        0.9 * c.at("final_baseline_angle_error").get<double>());

  // dfer-predict with both models on a frame folder of face crops: gaze alone, and classes + gaze.
  for (const char* run_name : {"gaze", "combine"}) {
    INFO(run_name);
    const auto out = root / (std::string("predict_") + run_name);
    REQUIRE(run({bin("dfer-predict"), "--no-face-detect", "--config",
                 (root / run_name / "config.yaml").string(), "--weights",
                 (root / run_name / "checkpoint-best.safetensors").string(), "--out", out.string(),
                 (synth / "clips" / "00001").string()},
                log("predict")) == 0);
    const std::string csv = slurp(out / "timeline.csv");
    CHECK(csv.substr(0, csv.find('\n')).find(",pitch,yaw") != std::string::npos);
    const bool classes = std::string(run_name) == "combine";
    CHECK((csv.find(",p_Happy,") != std::string::npos) == classes);
    const auto s = read_json(out / "summary.json").at(0);
    CHECK(s.contains("mean_gaze"));
    CHECK(s.contains("top_class") == classes);
    CHECK_FALSE(s.contains("face_fraction"));  // no face search was asked for
  }

  // Relabel the validation videos' emotion frames with the gaze model: video list -> frame list ->
  // per-video CSVs -> `path label pitch yaw`, which dfer-combine then evaluates as its val split.
  const auto rel = root / "relabel";
  REQUIRE(run({bin("dfer-prep"), "frames", "--csv", (synth / "val.csv").string(), "--out",
               (rel / "val_frames.csv").string()},
              log("frames")) == 0);
  REQUIRE(run({bin("dfer-prep"), "split", "--csv", (rel / "val_frames.csv").string(), "--out",
               (rel / "emotion" / "val").string(), "--min-len", "4"},
              log("split")) == 0);
  REQUIRE(run({bin("dfer-prep"), "relabel", "--config", (gaze / "config.yaml").string(),
               "--weights", (gaze / "checkpoint-best.safetensors").string(), "--in",
               (rel / "emotion" / "val").string(), "--out", (rel / "combine" / "val").string()},
              log("relabel")) == 0);
  // Every frame got a label, close to the synthetic ground truth.
  const auto truth = gaze_by_frame(synth / "combine" / "val");
  const auto relabelled = gaze_by_frame(rel / "combine" / "val");
  REQUIRE(relabelled.size() == truth.size());
  double err = 0, base = 0;
  for (const auto& [path, py] : relabelled) {
    const auto& t = truth.at(path);
    err += dfer::angular_error_deg(py.first, py.second, t.first, t.second);
    base += dfer::angular_error_deg(0, 0, t.first, t.second);
  }
  CHECK(err < 0.6 * base);
  REQUIRE(run({bin("dfer-combine"), "--config", "configs/synth_combine.yaml", "-o",
               (rel / "eval").string(), "data.data_path", (rel / "combine").string(),
               "training.eval_only", "true", "training.resume",
               (comb / "checkpoint-best.safetensors").string()},
              log("combine_eval")) == 0);
  const auto e = read_json(rel / "eval" / "final_results.json");
  CHECK(e.at("final_frames").get<int64_t>() > 0);
  CHECK(e.at("final_uar").get<double>() > chance + 0.1);
}

TEST_CASE("a bad gaze label stops dfer-gaze360 before training, naming file and line",
          "[e2e][gaze]") {
  const auto root = dfer::test::temp_dir("e2e_gaze_bad");
  for (const char* split : {"train", "val"}) fs::create_directories(root / "data" / split);
  std::ofstream(root / "data" / "train" / "a.csv") << "f1.jpg 0.1 0.2\nf2.jpg 0.1 nan\n";
  std::ofstream(root / "data" / "val" / "a.csv") << "f1.jpg 0.1 0.2\nf2.jpg 0.1 0.2\n";
  const auto log = (root / "bad.log").string();
  CHECK(dfer::test::wait_for(
            dfer::test::spawn({bin("dfer-gaze360"), "--config", "configs/synth_gaze.yaml", "-o",
                               (root / "out").string(), "data.data_path", (root / "data").string()},
                              log)) == 2);
  CHECK_THAT(slurp(log), Catch::Contains("a.csv:2") && Catch::Contains("yaw"));
  std::ofstream(root / "data" / "train" / "a.csv") << "f1.jpg 0.1 0.2\nf2.jpg 95 0.2\n";
  CHECK(dfer::test::wait_for(dfer::test::spawn(
            {bin("dfer-gaze360"), "--config", "configs/synth_gaze.yaml", "-o",
             (root / "out2").string(), "data.data_path", (root / "data").string()},
            log)) == 2);
  CHECK_THAT(slurp(log), Catch::Contains("a.csv:2") && Catch::Contains("degrees"));
}

TEST_CASE("LoRA fine-tuning trains only adapters and head, merged weights evaluate the same",
          "[e2e][gaze][lora]") {
  const auto root = dfer::test::temp_dir("e2e_lora");
  const auto synth = root / "synth";
  auto log = [&](const char* name) { return (root / (std::string(name) + ".log")).string(); };
  REQUIRE(run({bin("dfer-prep"), "synth", "--out", synth.string(), "--videos", "42", "--size", "64",
               "--face-zoom", "1.6"},
              log("synth")) == 0);
  const std::vector<std::string> common = {"--config",           "configs/synth_gaze.yaml",
                                           "data.data_path",     (synth / "gaze").string(),
                                           "training.finetune",  "",
                                           "data.clip_stride",   "16",
                                           "system.num_threads", "2"};
  auto cmd = [&](const fs::path& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {bin("dfer-gaze360"), "-o", out.string()};
    a.insert(a.end(), common.begin(), common.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const auto lora = root / "lora";
  REQUIRE(run(cmd(lora, {"training.use_lora", "true", "training.freeze", "true", "training.decoder",
                         "mlp", "training.epochs", "2"}),
              log("lora")) == 0);
  // "trainable parameters: N of M": adapters, decoder and head only, and what metrics.jsonl
  // counts as the trained parameters.
  const auto text = slurp(log("lora"));
  const auto at = text.find("trainable parameters: ");
  REQUIRE(at != std::string::npos);
  std::istringstream counts(text.substr(at + 22));
  int64_t trainable = 0, total = 0;
  std::string of;
  counts >> trainable >> of >> total;
  CHECK(trainable > 0);
  CHECK(trainable < total / 4);
  const auto lines = dfer::test::read_jsonl(lora / "metrics.jsonl");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].at("n_parameters").get<int64_t>() == trainable);

  const auto merged = (root / "merged.safetensors").string();
  REQUIRE(
      run({bin("dfer-model"), "merge-lora", (lora / "checkpoint-1.safetensors").string(), merged},
          log("merge")) == 0);
  // The adapted model (use_lora) and the merged plain weights (no LoRA) score the same (in fp32:
  // bf16 would round W x + B A x and (W + B A) x differently).
  REQUIRE(run(cmd(root / "eval_lora",
                  {"training.use_lora", "true", "training.decoder", "mlp", "training.eval_only",
                   "true", "training.resume", (lora / "checkpoint-1.safetensors").string(),
                   "system.precision", "fp32"}),
              log("eval_lora")) == 0);
  REQUIRE(run(cmd(root / "eval_merged", {"training.decoder", "mlp", "training.eval_only", "true",
                                         "training.resume", merged, "system.precision", "fp32"}),
              log("eval_merged")) == 0);
  const auto a = nlohmann::json::parse(slurp(root / "eval_lora" / "final_results.json"));
  const auto b = nlohmann::json::parse(slurp(root / "eval_merged" / "final_results.json"));
  CHECK(b.at("final_mean_angle_error").get<double>() ==
        Approx(a.at("final_mean_angle_error").get<double>()).margin(1e-3));
  CHECK(b.at("final_loss").get<double>() == Approx(a.at("final_loss").get<double>()).epsilon(1e-3));
}
