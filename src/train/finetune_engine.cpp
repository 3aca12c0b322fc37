// Fine-tuning engine with per-epoch validation and the final multi-view test (see engines.h;
// SPEC 3).
#include <filesystem>

#include <spdlog/spdlog.h>

#include "dfer/data/mixup.h"
#include "dfer/data/random.h"
#include "dfer/dist/world.h"
#include "dfer/io/atomic_file.h"
#include "dfer/io/weight_files.h"
#include "dfer/models/build.h"
#include "dfer/models/weights.h"
#include "dfer/train/checkpoint.h"
#include "dfer/train/data_setup.h"
#include "dfer/train/engines.h"
#include "dfer/train/evaluate.h"
#include "dfer/train/losses.h"
#include "dfer/train/model_factory.h"
#include "dfer/train/original_log.h"
#include "dfer/train/param_groups.h"
#include "dfer/train/preflight.h"
#include "dfer/train/trainable.h"
#include "dfer/train/trainer.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::train {

namespace {

data::MixupOptions mixup_options(const Config& cfg) {
  data::MixupOptions o;
  o.mixup_alpha = cfg.get_float("augmentation.mixup");
  o.cutmix_alpha = cfg.get_float("augmentation.cutmix");
  if (auto mm = cfg.get_opt_float_list("augmentation.cutmix_minmax"))
    o.cutmix_minmax = std::array<double, 2>{(*mm)[0], (*mm)[1]};
  o.prob = cfg.get_float("augmentation.mixup_prob");
  o.switch_prob = cfg.get_float("augmentation.mixup_switch_prob");
  o.mode = data::parse_mix_mode(cfg.get_string("augmentation.mixup_mode"));
  o.label_smoothing = cfg.get_float("augmentation.label_smoothing");
  o.num_classes = cfg.get_int("data.num_classes");
  return o;
}

struct Best {
  double metric = -1;
  int64_t epoch = -1;
};

void final_test(const Config& cfg, models::ClipClassifier& model, const models::ModelSpec& spec,
                const EvalOptions& eo, const Best& best, int64_t epochs_done,
                const std::string& weights = "last-epoch model") {
  const std::string out = cfg.get_string("system.output_dir");
  auto ds = make_clip_dataset(cfg, data::ClipMode::kTest, spec);
  data::Loader loader(ds, make_loader_options(cfg, data::ClipMode::kTest, eo.device.is_cuda()));
  spdlog::info("final test: {} videos x {} views from {}", ds->rows().size(), ds->num_views(),
               ds->options().source);
  model->eval();
  auto r = test_multiview([&](const torch::Tensor& x) { return model->forward(x); }, loader, eo);
  const auto names = class_names_for(cfg.get_string("data.dataset_name"), eo.num_classes);
  spdlog::info("final test ({}, {} views averaged):\n{}", weights, ds->num_views(),
               r.metrics.to_string(names));
  if (out.empty() || !dist::world().is_main()) return;
  write_predictions_csv((fs::path(out) / "test_predictions.csv").string(), r);
  nlohmann::json j = r.metrics.to_json("final_");
  j["class_names"] = names;
  j["num_videos"] = r.labels.size();
  j["views_per_video"] = ds->num_views();
  j["epochs"] = epochs_done;
  j["best_epoch"] = best.epoch;
  j["best_metric"] = best.metric;
  j["val_metric"] = cfg.get_string("training.val_metric");
  j["weights"] = weights;
  j["predictions_file"] = "test_predictions.csv";
  io::write_file_atomic((fs::path(out) / "final_results.json").string(), j.dump(2) + "\n");
  append_original_log(
      out, original_final_line(j, parse_original_log_style(cfg.get_string("system.log_txt")),
                               cfg.get_bool("training.eval_only")));
  spdlog::info("wrote {}/final_results.json and test_predictions.csv", out);
}

}  // namespace

FinetuneModel prepare_finetune_model(const Config& cfg) {
  const torch::Device device = resolve_device(cfg.get_string("system.device"));
  FinetuneModel m{device, parse_precision(cfg.get_string("system.precision"), device),
                  model_spec_from_config(cfg), nullptr};
  m.model = models::build_classifier(m.spec);
  const std::string finetune = cfg.get_opt_string("training.finetune").value_or("");
  if (!finetune.empty()) load_pretrained_encoder(*m.model, finetune);
  apply_trainable_policy(*m.model, cfg.get_bool("training.freeze"),
                         cfg.get_bool("training.use_lora"));
  m.model->to(device);
  return m;
}

std::vector<ParamGroup> finetune_param_groups(const Config& cfg, const FinetuneModel& m) {
  ParamGroupOptions go;
  go.weight_decay = cfg.get_float("optimization.weight_decay");
  go.layer_decay = cfg.get_float("optimization.layer_decay");
  go.num_layers = m.spec.depth;
  go.skip_list = finetune_skip_list();
  return build_param_groups(trainable_named_parameters(*m.model), go);
}

int run_finetune(const Config& cfg) {
  // Every list this run will read, before any work: a bad test list fails now, not after training.
  PreflightOptions po;
  po.train = po.validation = !cfg.get_bool("training.eval_only");
  po.validation = po.validation && !cfg.get_bool("training.disable_eval_during_finetuning");
  preflight_or_throw(cfg, model_spec_from_config(cfg), po);

  const FinetuneModel fm = prepare_finetune_model(cfg);
  const torch::Device device = fm.device;
  const Precision precision = fm.precision;
  const auto& spec = fm.spec;
  auto model = fm.model;

  EvalOptions eo;
  eo.device = device;
  eo.precision = precision;
  eo.num_classes = spec.num_classes;

  if (cfg.get_bool("training.eval_only")) {
    if (const auto& r = cfg.get_string("training.resume"); !r.empty()) {
      models::load_state(*model, load_evaluation_weights(r), /*strict=*/true);
    }
    final_test(cfg, model, spec, eo, Best{}, 0);
    return 0;
  }

  auto train_ds = make_clip_dataset(cfg, data::ClipMode::kTrain, spec);
  auto loader = std::make_shared<data::Loader>(
      train_ds, make_loader_options(cfg, data::ClipMode::kTrain, device.is_cuda()));
  spdlog::info("training data: {} clips from {}", train_ds->size(), train_ds->options().source);
  std::shared_ptr<data::Loader> val_loader;
  if (!cfg.get_bool("training.disable_eval_during_finetuning")) {
    auto val_ds = make_clip_dataset(cfg, data::ClipMode::kValidation, spec);
    val_loader = std::make_shared<data::Loader>(
        val_ds, make_loader_options(cfg, data::ClipMode::kValidation, device.is_cuda()));
  }

  const auto mo = mixup_options(cfg);
  std::shared_ptr<data::Mixup> mixup;
  if (data::mixup_enabled(mo)) {
    if (cfg.get_int("data.batch_size") % 2 != 0)
      throw UsageError("data.batch_size: mixup / cutmix need an even batch (got " +
                       std::to_string(cfg.get_int("data.batch_size")) + ")");
    mixup = std::make_shared<data::Mixup>(mo);
  }
  const double smoothing = cfg.get_float("augmentation.label_smoothing");
  spdlog::info("loss: {}", mixup           ? "soft-target cross-entropy (mixup/cutmix)"
                           : smoothing > 0 ? "label-smoothing cross-entropy"
                                           : "cross-entropy");

  auto best = std::make_shared<Best>();
  const std::string val_metric = cfg.get_string("training.val_metric");
  const std::string out = cfg.get_string("system.output_dir");
  const std::string best_path = best_weights_path(out);
  const bool save_best = cfg.get_bool("training.save_ckpt");
  TrainerSetup s;
  s.task = "finetune";
  s.model = model;
  s.device = device;
  s.precision = precision;
  s.groups = finetune_param_groups(cfg, fm);
  s.loader = loader;
  s.loss = [model, mixup, smoothing](data::Batch& b, uint64_t seed) mutable {
    if (!b.labels.defined()) throw Error("training batch without labels");
    torch::Tensor clips = b.clips;
    const torch::Tensor labels = b.labels.to(torch::kLong);
    if (mixup) {
      data::Rng rng(seed);
      auto mixed = (*mixup)(clips, labels, rng);
      return soft_target_cross_entropy(model->forward(mixed.clips), mixed.targets);
    }
    return label_smoothing_cross_entropy(model->forward(clips), labels, smoothing);
  };
  s.on_epoch_end = [&, val_loader, best](int64_t epoch) -> nlohmann::json {
    if (!val_loader) return nlohmann::json::object();
    model->eval();
    EvalOptions vo = eo;
    vo.label = "val";
    auto r =
        validate([&](const torch::Tensor& x) { return model->forward(x); }, *val_loader, epoch, vo);
    model->train();
    nlohmann::json j = {{"val_loss", r.loss},
                        {"val_acc1", r.metrics.acc1},
                        {"val_acc5", r.metrics.acc5},
                        {"val_uar", r.metrics.uar},
                        {"val_war", r.metrics.war},
                        {"val_weighted_f1", r.metrics.weighted_f1},
                        {"val_macro_f1", r.metrics.macro_f1}};
    const std::string key = "val_" + val_metric;
    if (j.contains(key)) {
      const double v = val_metric == "loss" ? -r.loss : j[key].get<double>();
      if (best->epoch < 0 || v > best->metric) {
        *best = Best{v, epoch};
        // As the reference: the weights of the best epoch so far, kept beside the checkpoints.
        if (!out.empty() && save_best) {
          if (dist::world().is_main()) models::save_state(*model, best_path);
          spdlog::info("new best {} {:.4f}: saved checkpoint-best.safetensors", val_metric, v);
        }
      }
    }
    spdlog::info("validation epoch {}: loss {:.4f} acc1 {:.2f} UAR {:.4f} WAR {:.4f}", epoch + 1,
                 r.loss, r.metrics.acc1, r.metrics.uar, r.metrics.war);
    return j;
  };
  s.save_extra = [best] {
    return nlohmann::json{{"best_metric", best->metric}, {"best_epoch", best->epoch}};
  };
  s.load_extra = [best](const nlohmann::json& j) {
    best->metric = j.value("best_metric", -1.0);
    best->epoch = j.value("best_epoch", int64_t{-1});
  };
  Trainer trainer(cfg, std::move(s));
  const FitResult r = trainer.fit();
  if (r.exit_code != 0) return r.exit_code;
  std::string weights = "last-epoch model";
  if (cfg.get_bool("training.eval_best")) {
    models::load_state(*model, load_best_weights(out), /*strict=*/true);
    weights = "best-epoch model, epoch " + std::to_string(best->epoch + 1);
  }
  final_test(cfg, model, spec, eo, *best, r.epochs_done, weights);
  return 0;
}

void load_pretrained_encoder(models::ClipClassifierImpl& model, const std::string& path) {
  if (!fs::exists(path)) throw UsageError("training.finetune: '" + path + "' does not exist");
  auto tensors = io::load_weights_any(path);
  auto report = models::load_pretrained_for_finetune(model, tensors);
  spdlog::info(
      "loaded pre-trained weights from {}: {} tensors\n{}", path, report.loaded.size(),
      report.summary(model.spec().backbone == "videomamba" ? "VisionMamba" : "VisionTransformer"));
  if (report.loaded.empty())
    throw UsageError("training.finetune: no tensor of '" + path +
                     "' fits this model (is it a "
                     "checkpoint of the same architecture?)");
}

}  // namespace dfer::train
