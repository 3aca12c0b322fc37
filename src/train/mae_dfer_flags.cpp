// MAE-DFER's argparse flags (see mae_dfer_flags.h). The tables follow the two parsers of the
// reference (run_class_finetuning.py, run_mae_pretraining.py), in their order.
#include "dfer/train/mae_dfer_flags.h"

#include <algorithm>
#include <cstdlib>

#include "dfer/util/error.h"
#include "dfer/util/strings.h"

namespace dfer::train {
namespace {

using K = MaeDferFlag::Kind;

// Flags both parsers share with the same meaning; `ft` / `pt` hold each parser's own default
// where it differs from dfer's schema.
struct Row {
  const char* name;
  const char* key;
  K kind;
  const char* ft_default;  // nullptr: not a fine-tuning flag
  const char* pt_default;  // nullptr: not a pre-training flag
};

// "" = the flag exists in that parser and its default is dfer's (or cannot apply).
const Row kRows[] = {
    {"batch_size", "data.batch_size", K::kValue, "64", "64"},
    {"epochs", "training.epochs", K::kValue, "30", "800"},
    {"update_freq", "training.update_freq", K::kValue, "", nullptr},
    {"save_ckpt_freq", "training.save_ckpt_freq", K::kValue, "", "50"},
    {"model", "model.name", K::kValue, "", ""},
    {"tubelet_size", "model.tubelet_size", K::kValue, "", nullptr},
    {"decoder_depth", "model.decoder_depth", K::kValue, nullptr, ""},
    {"mask_type", "model.mask_type", K::kValue, nullptr, "tube"},
    {"part_win_size", "model.part_win_size", K::kList, nullptr, "[2, 2, 10]"},
    {"part_apply_symmetry", "model.part_apply_symmetry", K::kValue, nullptr, ""},
    {"mask_ratio", "model.mask_ratio", K::kValue, nullptr, "0.75"},
    {"input_size", "model.input_size", K::kValue, "224", "224"},
    {"drop", "model.drop", K::kValue, "", nullptr},
    {"attn_drop_rate", "model.attn_drop_rate", K::kValue, "", nullptr},
    {"drop_path", "model.drop_path", K::kValue, "", "0.0"},
    {"normlize_target", "model.normalize_target", K::kPythonBool, nullptr, ""},
    {"encoder_depth", "model.encoder_depth", K::kValue, nullptr, ""},
    {"disable_eval_during_finetuning", "training.disable_eval_during_finetuning", K::kStoreTrue, "",
     nullptr},
    {"model_ema", "training.modelema_", K::kStoreTrue, "", nullptr},
    {"model_ema_decay", "training.model_ema_decay", K::kValue, "", nullptr},
    {"model_ema_force_cpu", "training.model_ema_force_cpu", K::kStoreTrue, "", nullptr},
    {"attn_type", "model.attn_type", K::kValue, "", "joint"},
    {"lg_region_size", "model.lg_region_size", K::kList, "[2, 2, 10]", "[2, 2, 10]"},
    {"lg_first_attn_type", "model.lg_first_attn_type", K::kValue, "", ""},
    {"lg_third_attn_type", "model.lg_third_attn_type", K::kValue, "", ""},
    {"lg_attn_param_sharing_first_third", "model.lg_attn_param_sharing_first_third", K::kStoreTrue,
     "", ""},
    {"lg_attn_param_sharing_all", "model.lg_attn_param_sharing_all", K::kStoreTrue, "", ""},
    {"lg_classify_token_type", "model.lg_classify_token_type", K::kValue, "org", nullptr},
    {"lg_no_second", "model.lg_no_second", K::kStoreTrue, "", ""},
    {"lg_no_third", "model.lg_no_third", K::kStoreTrue, "", ""},
    {"opt", "optimization.optimizer", K::kValue, "", ""},
    {"opt_eps", "optimization.opt_eps", K::kValue, "", ""},
    {"opt_betas", "optimization.opt_betas", K::kList, "", ""},
    {"clip_grad", "optimization.clip_grad", K::kValue, "", ""},
    {"momentum", "optimization.momentum", K::kValue, "", ""},
    {"weight_decay", "optimization.weight_decay", K::kValue, "", ""},
    {"weight_decay_end", "optimization.weight_decay_end", K::kValue, "", ""},
    {"lr", "optimization.lr", K::kValue, "", "0.00015"},
    {"layer_decay", "optimization.layer_decay", K::kValue, "", nullptr},
    {"warmup_lr", "optimization.warmup_lr", K::kValue, "", ""},
    {"min_lr", "optimization.min_lr", K::kValue, "", "1.0e-05"},
    {"warmup_epochs", "optimization.warmup_epochs", K::kValue, "", "40"},
    {"warmup_steps", "optimization.warmup_steps", K::kValue, "", ""},
    {"color_jitter", "augmentation.color_jitter", K::kValue, "", ""},  // no effect: no default
    {"num_sample", "augmentation.num_sample", K::kValue, "2", nullptr},
    {"aa", "augmentation.auto_augment", K::kValue, "", nullptr},
    {"smoothing", "augmentation.label_smoothing", K::kValue, "", nullptr},
    {"train_interpolation", "augmentation.train_interpolation", K::kValue, "", ""},
    {"crop_pct", "", K::kValue, "", nullptr},
    {"short_side_size", "data.short_side_size", K::kValue, "224", nullptr},
    {"test_num_segment", "data.test_num_segment", K::kValue, "5", nullptr},
    {"test_num_crop", "data.test_num_crop", K::kValue, "3", nullptr},
    {"reprob", "augmentation.random_erase_prob", K::kValue, "", nullptr},
    {"remode", "augmentation.random_erase_mode", K::kValue, "", nullptr},
    {"recount", "augmentation.random_erase_count", K::kValue, "", nullptr},
    {"resplit", "augmentation.random_erase_split", K::kStoreTrue, "", nullptr},
    {"mixup", "augmentation.mixup", K::kValue, "", nullptr},
    {"cutmix", "augmentation.cutmix", K::kValue, "", nullptr},
    {"cutmix_minmax", "augmentation.cutmix_minmax", K::kList, "", nullptr},
    {"mixup_prob", "augmentation.mixup_prob", K::kValue, "", nullptr},
    {"mixup_switch_prob", "augmentation.mixup_switch_prob", K::kValue, "", nullptr},
    {"mixup_mode", "augmentation.mixup_mode", K::kValue, "", nullptr},
    {"finetune", "training.finetune", K::kValue, "", nullptr},
    {"model_key", "model.model_key", K::kValue, "", nullptr},
    {"model_prefix", "model.prefix", K::kValue, "", nullptr},
    {"init_scale", "model.init_scale", K::kValue, "", nullptr},
    {"use_mean_pooling", "model.use_mean_pooling", K::kStoreTrue, "", nullptr},
    {"use_cls", "model.use_mean_pooling", K::kStoreFalse, "", nullptr},
    {"data_path", "data.data_path", K::kValue, "", ""},
    {"eval_data_path", "data.eval_data_path", K::kValue, "", nullptr},
    {"nb_classes", "data.num_classes", K::kValue, "", nullptr},
    {"imagenet_default_mean_and_std", "data.imagenet_default_mean_and_std", K::kStoreTrue, "", ""},
    {"num_segments", "data.num_segments", K::kValue, "", nullptr},
    {"num_frames", "data.num_frames", K::kValue, "", ""},
    {"sampling_rate", "data.sampling_rate", K::kValue, "", ""},
    {"data_set", "data.dataset_name", K::kValue, "", nullptr},
    {"log_dir", "system.log_dir", K::kValue, "", ""},
    {"device", "system.device", K::kValue, "", ""},
    {"auto_resume", "training.auto_resume", K::kStoreTrue, "", ""},
    {"no_auto_resume", "training.auto_resume", K::kStoreFalse, "", ""},
    {"save_ckpt", "training.save_ckpt", K::kStoreTrue, "", nullptr},
    {"no_save_ckpt", "training.save_ckpt", K::kStoreFalse, "", nullptr},
    {"num_samples", "augmentation.num_sample", K::kValue, nullptr, ""},
    {"start_epoch", "training.start_epoch", K::kValue, "", ""},
    {"num_workers", "data.num_workers", K::kValue, "10", "10"},
    {"pin_mem", "data.pin_memory", K::kStoreTrue, "", ""},
    {"no_pin_mem", "data.pin_memory", K::kStoreFalse, "", ""},
    {"world_size", "system.world_size", K::kValue, "", ""},
    {"dist_on_itp", "system.dist_on_itp", K::kStoreTrue, "", ""},
    {"dist_url", "system.dist_url", K::kValue, "", ""},
    {"enable_deepspeed", "system.enable_deepspeed", K::kStoreTrue, "", nullptr},
    {"no_augmentation", "augmentation.no_augmentation", K::kStoreTrue, nullptr, ""},
    {"use_frame_diff_as_target", "pretraining.use_frame_diff_as_target", K::kStoreTrue, nullptr,
     "false"},
    {"frame_diff_group_size", "pretraining.frame_diff_group_size", K::kValue, nullptr, ""},
    {"target_diff_weight", "pretraining.target_diff_weight", K::kValue, nullptr, ""},
    {"val_metric", "training.val_metric", K::kValue, "", nullptr},
    {"depth", "model.depth", K::kValue, "", nullptr},
    {"save_feature", "system.save_feature", K::kStoreTrue, "", nullptr},
};

std::vector<MaeDferFlag> build(bool pretrain) {
  std::vector<MaeDferFlag> out;
  for (const Row& r : kRows) {
    const char* def = pretrain ? r.pt_default : r.ft_default;
    if (def) out.push_back({r.name, r.key, r.kind, def});
  }
  return out;
}

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end && *end == '\0';
}

std::string strip_dashes(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] == '-') ++i;
  return s.substr(i);
}

}  // namespace

const std::vector<MaeDferFlag>& mae_dfer_flags(bool pretrain) {
  static const std::vector<MaeDferFlag> ft = build(false), pt = build(true);
  return pretrain ? pt : ft;
}

std::string nearest_name(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& k : known) {
    const std::size_t d = edit_distance(strip_dashes(name), strip_dashes(k));
    if (d < best_d) best_d = d, best = k;
  }
  return best;
}

MaeDferTranslation translate_mae_dfer_args(const std::vector<std::string>& args, bool pretrain,
                                           const std::vector<NativeFlag>& native) {
  const auto& flags = mae_dfer_flags(pretrain);
  std::vector<std::string> known;  // every long name, for prefixes and suggestions
  for (const auto& n : native) known.push_back(n.name);
  for (const auto& f : flags) known.push_back("--" + f.name);
  MaeDferTranslation t;
  std::vector<std::string> own, overrides, positional;
  bool config_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& tok = args[i];
    if (tok == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    const bool negative_number = tok.size() > 1 && tok[0] == '-' && is_number(tok);
    if (tok.size() < 2 || tok[0] != '-' || negative_number) {
      positional.push_back(tok);
      continue;
    }
    const std::size_t eq = tok.find('=');
    const std::string name = tok.substr(0, eq);
    const bool inline_value = eq != std::string::npos;
    // Native flags first: the program's own options keep their meaning (--output_dir, --resume,
    // --seed, --eval, --dist_eval, --local_rank are the same in both parsers).
    auto nat = std::find_if(native.begin(), native.end(),
                            [&](const NativeFlag& n) { return n.name == name; });
    if (nat != native.end()) {
      own.push_back(tok);
      if (nat->takes_value && !inline_value && i + 1 < args.size()) own.push_back(args[++i]);
      if (name == "--config" || name == "-c") config_given = true;
      continue;
    }
    // argparse: an exact name, else a unique prefix of one (allow_abbrev).
    const MaeDferFlag* flag = nullptr;
    if (name.rfind("--", 0) == 0) {
      const std::string bare = name.substr(2);
      std::vector<const MaeDferFlag*> prefixed;
      for (const auto& f : flags) {
        if (f.name == bare) {
          flag = &f;
          break;
        }
        if (f.name.rfind(bare, 0) == 0) prefixed.push_back(&f);
      }
      if (!flag && prefixed.size() == 1) flag = prefixed[0];
      if (!flag && prefixed.size() > 1) {
        std::string names;
        for (const auto* f : prefixed) names += (names.empty() ? "--" : ", --") + f->name;
        throw UsageError("ambiguous flag " + name + ": it could be " + names);
      }
    }
    if (!flag)
      throw UsageError("unknown flag " + name + "; the nearest known flag is " +
                       nearest_name(name, known));
    t.used = true;
    std::string value;
    switch (flag->kind) {
      case K::kStoreTrue:
      case K::kStoreFalse:
        if (inline_value) throw UsageError("flag --" + flag->name + " takes no value");
        value = flag->kind == K::kStoreTrue ? "true" : "false";
        break;
      case K::kList: {
        std::vector<std::string> items;
        if (inline_value) items.push_back(tok.substr(eq + 1));
        while (i + 1 < args.size() && is_number(args[i + 1])) items.push_back(args[++i]);
        if (items.empty())
          throw UsageError("flag --" + flag->name + " expects one or more numbers");
        value = "[";
        for (std::size_t k = 0; k < items.size(); ++k) value += (k ? ", " : "") + items[k];
        value += "]";
        break;
      }
      case K::kValue:
      case K::kPythonBool:
        if (inline_value) {
          value = tok.substr(eq + 1);
        } else {
          if (i + 1 >= args.size()) throw UsageError("flag --" + flag->name + " expects a value");
          value = args[++i];
        }
        if (flag->kind == K::kPythonBool) {
          // The reference declares type=bool: bool("False") is True in Python. Kept, and said.
          const bool truth = !value.empty();
          if (truth && (value == "False" || value == "false" || value == "0"))
            t.notes.push_back("--" + flag->name + " " + value +
                              " means true, as in the reference (argparse type=bool)");
          value = truth ? "true" : "false";
        }
        break;
    }
    if (flag->key.empty()) {
      t.notes.push_back("--" + flag->name + " is accepted and has no effect here");
      continue;
    }
    overrides.push_back(flag->key);
    overrides.push_back(value);
  }
  t.args = own;
  if (t.used) {
    if (!config_given) {
      for (const auto& f : flags) {
        if (f.argparse_default.empty() || f.key.empty()) continue;
        t.args.push_back(f.key);
        t.args.push_back(f.argparse_default);
      }
    }
    t.args.push_back("system.log_txt");
    t.args.push_back("mae_dfer");
  }
  t.args.insert(t.args.end(), overrides.begin(), overrides.end());
  t.args.insert(t.args.end(), positional.begin(), positional.end());
  return t;
}

}  // namespace dfer::train
