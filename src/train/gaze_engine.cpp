// Gaze-regression and combined emotion + gaze fine-tuning (see engines.h; SPEC 5, SPEC-later b):
// the same recipe as fine-tuning (layer decay, AdamW, cosine schedule, Trainer) on the
// per-sequence frame-CSV datasets, scored by angular error (and UAR / WAR for combine) each epoch,
// with the best epoch's weights kept as checkpoint-best.safetensors.
#include <filesystem>

#include <spdlog/spdlog.h>

#include "dfer/dist/world.h"
#include "dfer/io/atomic_file.h"
#include "dfer/models/build.h"
#include "dfer/models/weights.h"
#include "dfer/train/checkpoint.h"
#include "dfer/train/data_setup.h"
#include "dfer/train/engines.h"
#include "dfer/train/gaze_evaluate.h"
#include "dfer/train/model_factory.h"
#include "dfer/train/original_log.h"
#include "dfer/train/param_groups.h"
#include "dfer/train/trainer.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::train {

namespace {

// The best-model metric and its direction: regression always by mean angular error (as the
// reference); combine by training.val_metric.
struct Selection {
  std::string key;  // a key of GazeEvalResult::to_json("")
  bool lower_is_better = true;
};

Selection selection_for(const Config& cfg, bool combine) {
  if (!combine) return {"mean_angle_error", true};
  const std::string m = cfg.get_string("training.val_metric");
  if (m == "mse" || m == "acc5" || m == "weighted_f1" || m == "macro_f1")
    throw UsageError("training.val_metric: '" + m +
                     "' is not scored by the combine task; use acc1, uar, war, video_uar, "
                     "video_war, mean_angle_error, video_mean_angle_error or loss");
  const bool lower = m == "loss" || m.find("angle_error") != std::string::npos;
  return {m, lower};
}

std::array<double, 2> mean_gaze(const data::SequenceClipDataset& ds) {
  double p = 0, y = 0;
  int64_t n = 0;
  for (const auto& s : ds.sequences())
    for (const auto& f : s.frames) {
      p += f.pitch.value_or(0.0f);
      y += f.yaw.value_or(0.0f);
      ++n;
    }
  return {n ? p / n : 0.0, n ? y / n : 0.0};
}

struct Best {
  double metric = 0;
  int64_t epoch = -1;
};

void write_final(const Config& cfg, const GazeEvalResult& r, const GazeTask& task, const Best& best,
                 const Selection& sel, int64_t epochs) {
  const std::string out = cfg.get_string("system.output_dir");
  if (out.empty() || !dist::world().is_main()) return;
  nlohmann::json j = r.to_json("final_");
  j["task"] = task.combine ? "combine" : "regression";
  j["epochs"] = epochs;
  j["best_epoch"] = best.epoch;
  j["best_metric"] = best.metric;
  j["val_metric"] = sel.key;
  j["videos_file"] = "val_videos.csv";
  io::write_file_atomic((fs::path(out) / "final_results.json").string(), j.dump(2) + "\n");
  append_original_log(
      out, original_final_line(j, parse_original_log_style(cfg.get_string("system.log_txt")),
                               cfg.get_bool("training.eval_only")));
  write_gaze_video_csv((fs::path(out) / "val_videos.csv").string(), r, task.combine);
  spdlog::info("wrote {}/final_results.json and val_videos.csv", out);
}

std::string summary_line(const GazeEvalResult& r, bool combine) {
  std::string s = fmt::format(
      "loss {:.4f}  angular error {:.2f} deg (per video {:.2f}; mean-gaze "
      "baseline {:.2f})",
      r.loss, r.angular_error, r.video_angular_error, r.baseline_angular_error);
  if (combine)
    s += fmt::format("  UAR {:.4f} WAR {:.4f} (per video UAR {:.4f} WAR {:.4f})",
                     r.frame_metrics.uar, r.frame_metrics.war, r.video_metrics.uar,
                     r.video_metrics.war);
  return s;
}

}  // namespace

int run_gaze(const Config& cfg, bool combine) {
  const FinetuneModel fm = prepare_finetune_model(cfg);
  const torch::Device device = fm.device;
  const Precision precision = fm.precision;
  const auto& spec = fm.spec;
  auto model = fm.model;

  const GazeTask task = gaze_task_from_config(cfg, spec, combine);
  const Selection sel = selection_for(cfg, combine);
  EvalOptions eo;
  eo.device = device;
  eo.precision = precision;
  eo.label = "val";
  const std::string out = cfg.get_string("system.output_dir");

  const bool eval_only = cfg.get_bool("training.eval_only");
  std::shared_ptr<data::SequenceClipDataset> train_ds, val_ds;
  // An evaluation needs no training split; its baseline is then the evaluated data's own mean.
  if (!eval_only || fs::is_directory(fs::path(cfg.get_string("data.data_path")) / "train"))
    train_ds = make_sequence_dataset(cfg, /*train=*/true, spec);
  std::shared_ptr<data::Loader> val_loader;
  if (!cfg.get_bool("training.disable_eval_during_finetuning") || eval_only) {
    val_ds = make_sequence_dataset(cfg, /*train=*/false, spec);
    val_loader = std::make_shared<data::Loader>(
        val_ds, make_loader_options(cfg, data::ClipMode::kValidation, device.is_cuda()));
  }
  const auto mean = mean_gaze(train_ds ? *train_ds : *val_ds);
  spdlog::info(
      "{} data: {} clips from {} sequences; mean gaze pitch {:.4f} yaw {:.4f} rad (the "
      "baseline's prediction)",
      train_ds ? "training" : "evaluated", (train_ds ? train_ds : val_ds)->size(),
      (train_ds ? train_ds : val_ds)->sequences().size(), mean[0], mean[1]);
  auto forward = [&](const torch::Tensor& x) { return model->forward(x); };

  if (eval_only) {
    if (const auto& r = cfg.get_string("training.resume"); !r.empty())
      models::load_state(*model, load_evaluation_weights(r), /*strict=*/true);
    model->eval();
    auto r = evaluate_gaze(forward, *val_loader, 0, task, eo, mean);
    spdlog::info("evaluation: {}", summary_line(r, combine));
    write_final(cfg, r, task, Best{}, sel, 0);
    return 0;
  }

  auto loader = std::make_shared<data::Loader>(
      train_ds, make_loader_options(cfg, data::ClipMode::kTrain, device.is_cuda()));
  auto best = std::make_shared<Best>();
  auto last = std::make_shared<GazeEvalResult>();
  TrainerSetup s;
  s.task = combine ? "combine" : "gaze";
  s.model = model;
  s.device = device;
  s.precision = precision;
  s.groups = finetune_param_groups(cfg, fm);
  s.loader = loader;
  s.loss = [model, task](data::Batch& b, uint64_t) mutable {
    if (!b.targets.defined()) throw Error("training batch without gaze targets");
    return gaze_task_loss(task, model->forward(b.clips), b.labels, b.targets);
  };
  s.on_epoch_end = [&, val_loader, best, last](int64_t epoch) -> nlohmann::json {
    if (!val_loader) return nlohmann::json::object();
    model->eval();
    *last = evaluate_gaze(forward, *val_loader, epoch, task, eo, mean);
    model->train();
    auto j = last->to_json("val_");
    const double v = j.at("val_" + sel.key).get<double>();
    if (best->epoch < 0 || (sel.lower_is_better ? v < best->metric : v > best->metric)) {
      *best = Best{v, epoch};
      if (!out.empty()) {
        if (dist::world().is_main()) models::save_state(*model, best_weights_path(out));
        spdlog::info("new best {} {:.4f}: saved checkpoint-best.safetensors", sel.key, v);
      }
    }
    spdlog::info("validation epoch {}: {}", epoch + 1, summary_line(*last, combine));
    return j;
  };
  s.save_extra = [best] {
    return nlohmann::json{{"best_metric", best->metric}, {"best_epoch", best->epoch}};
  };
  s.load_extra = [best](const nlohmann::json& j) {
    best->metric = j.value("best_metric", 0.0);
    best->epoch = j.value("best_epoch", int64_t{-1});
  };
  Trainer trainer(cfg, std::move(s));
  const FitResult r = trainer.fit();
  if (r.exit_code != 0) return r.exit_code;
  if (val_loader) {
    std::string weights = "last-epoch model";
    if (cfg.get_bool("training.eval_best")) {
      models::load_state(*model, load_best_weights(out), /*strict=*/true);
      weights = "best-epoch model, epoch " + std::to_string(best->epoch + 1);
      last->frames = 0;  // evaluate these weights below
    }
    if (last->frames == 0) {  // resumed after the last epoch, or the best epoch's weights
      model->eval();
      *last = evaluate_gaze(forward, *val_loader, r.epochs_done, task, eo, mean);
    }
    spdlog::info("final ({}): {}", weights, summary_line(*last, combine));
    write_final(cfg, *last, task, *best, sel, r.epochs_done);
  }
  return 0;
}

}  // namespace dfer::train
