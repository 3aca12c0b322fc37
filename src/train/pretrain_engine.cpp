// MAE-DFER pre-training engine (see engines.h; SPEC 2.4-2.6).
#include <spdlog/spdlog.h>

#include "dfer/config/schema.h"
#include "dfer/models/build.h"
#include "dfer/models/mae_target.h"
#include "dfer/train/data_setup.h"
#include "dfer/train/engines.h"
#include "dfer/train/model_factory.h"
#include "dfer/train/param_groups.h"
#include "dfer/train/trainer.h"
#include "dfer/util/error.h"

namespace dfer::train {

bool config_bool_or(const Config& cfg, const std::string& key, bool fallback) {
  return config::find_key(key) ? cfg.get_bool(key) : fallback;
}

int with_oom_hint(const Config& cfg, const std::function<int()>& fn) {
  auto hint = [&](const std::string& what) {
    return Error("out of memory (" + what + ") with data.batch_size " +
                 std::to_string(cfg.get_int("data.batch_size")) + " at model.input_size " +
                 std::to_string(cfg.get_int("model.input_size")) + ", data.num_frames " +
                 std::to_string(cfg.get_int("data.num_frames")) +
                 ": lower data.batch_size (keep the total batch with training.update_freq), use "
                 "system.precision bf16, or fewer data.num_workers");
  };
  try {
    return fn();
  } catch (const c10::OutOfMemoryError& e) {
    throw hint(e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw hint("host allocation failed");
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    if (msg.find("out of memory") != std::string::npos ||
        msg.find("can't allocate memory") != std::string::npos)
      throw hint(msg.substr(0, 200));
    throw;
  }
}

int run_pretrain(const Config& cfg) {
  const torch::Device device = resolve_device(cfg.get_string("system.device"));
  const Precision precision = parse_precision(cfg.get_string("system.precision"), device);
  const auto spec = model_spec_from_config(cfg);
  auto model = models::build_masked_model(spec);
  model->to(device);

  auto dataset = make_clip_dataset(cfg, data::ClipMode::kPretrain, spec);
  auto loader = std::make_shared<data::Loader>(
      dataset, make_loader_options(cfg, data::ClipMode::kPretrain, device.is_cuda()));
  spdlog::info("pre-training data: {} clips from {}", dataset->size(), dataset->options().source);

  ParamGroupOptions go;
  go.weight_decay = cfg.get_float("optimization.weight_decay");
  go.num_layers = spec.depth;
  go.skip_list = pretrain_skip_list();
  // SPEC 8.5: the reference decays encoder.lg_region_tokens because its skip list holds only the
  // bare name. true (default) reproduces that.
  go.exact_skip_names = config_bool_or(cfg, "optimization.pretrain_region_token_decay", true);

  models::MaeTargetOptions mo;
  mo.patch_size = spec.patch_size;
  mo.tubelet_size = spec.tubelet_size;
  mo.normalize_target = cfg.get_bool("model.normalize_target");
  mo.use_frame_diff = cfg.get_bool("pretraining.use_frame_diff_as_target");
  mo.frame_diff_group_size = cfg.get_int("pretraining.frame_diff_group_size");
  mo.target_diff_weight = cfg.get_opt_float("pretraining.target_diff_weight");

  TrainerSetup s;
  s.task = "pretrain";
  s.model = model;
  s.device = device;
  s.precision = precision;
  s.groups = build_param_groups(models::unique_named_parameters(*model), go);
  s.loader = loader;
  s.loss = [model, mo](data::Batch& b, uint64_t) mutable {
    if (!b.masks.defined()) throw Error("pre-training batch without token masks");
    const auto targets = models::compute_mae_targets(b.clips, b.masks, mo);
    const auto outputs = model->forward(b.clips, b.masks);
    return models::mae_loss(outputs, targets.labels, mo).loss;
  };
  Trainer trainer(cfg, std::move(s));
  const FitResult r = trainer.fit();
  if (r.exit_code == 0)
    spdlog::info(
        "pre-training done: {} epochs, final loss {:.4f}, {} skipped steps; weights in "
        "{}/checkpoint-{}.safetensors",
        r.epochs_done, r.last_loss, r.skipped_steps, cfg.get_string("system.output_dir"),
        r.epochs_done - 1);
  return r.exit_code;
}

}  // namespace dfer::train
