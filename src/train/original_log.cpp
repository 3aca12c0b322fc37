// log.txt in the reference's format (see original_log.h).
#include "dfer/train/original_log.h"

#include <filesystem>

#include "dfer/train/metrics.h"
#include "dfer/util/error.h"

namespace dfer::train {

OriginalLogStyle parse_original_log_style(const std::string& s) {
  if (s == "yacs") return OriginalLogStyle::kYacs;
  if (s == "mae_dfer") return OriginalLogStyle::kMaeDfer;
  throw UsageError("system.log_txt: '" + s + "' is not one of yacs, mae_dfer");
}

namespace {

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

// dfer's own epoch fields, which the reference has no meter for.
bool dfer_only(const std::string& key) {
  static const char* const kOwn[] = {"train_last_lr",      "train_skipped_steps",
                                     "train_scaler_skips", "train_clips_per_s",
                                     "train_data_wait_s",  "epoch_time_s"};
  for (const char* k : kOwn)
    if (key == k) return true;
  return false;
}

}  // namespace

nlohmann::ordered_json original_epoch_line(const nlohmann::json& m, OriginalLogStyle style) {
  nlohmann::ordered_json out;
  // The reference's MetricLogger order: lr and min_lr are added first, then the updates.
  for (const char* k : {"train_lr", "train_min_lr", "train_loss", "train_class_acc",
                        "train_loss_scale", "train_weight_decay", "train_grad_norm"})
    if (m.contains(k)) out[k] = m.at(k);
  for (const auto& [key, value] : m.items())
    if (starts_with(key, "train_") && !out.contains(key) && !dfer_only(key)) out[key] = value;
  const std::string val = style == OriginalLogStyle::kYacs ? "test_" : "val_";
  for (const auto& [key, value] : m.items())
    if (starts_with(key, "val_")) out[val + key.substr(4)] = value;
  if (m.contains("epoch")) out["epoch"] = m.at("epoch");
  if (m.contains("n_parameters")) out["n_parameters"] = m.at("n_parameters");
  return out;
}

nlohmann::ordered_json original_final_line(const nlohmann::json& f, OriginalLogStyle style,
                                           bool eval_only) {
  nlohmann::ordered_json out;
  auto get = [&](const char* k) { return f.contains(k) ? f.at(k) : nlohmann::json(); };
  if (style == OriginalLogStyle::kYacs) {
    // final_results as the later runner builds it. Its angular_err is always None (it reads a key
    // that does not exist); here a gaze run gives its mean angular error.
    out["angular_err"] = get("final_mean_angle_error");
    for (const char* k : {"final_acc1", "final_acc5", "final_uar", "final_war", "final_weighted_f1",
                          "final_micro_f1", "final_macro_f1", "best_epoch", "best_metric"})
      out[k] = get(k);
    return out;
  }
  // MAE-DFER: a JSON line of top-1 / top-5, then text lines of UAR/WAR, the confusion matrix,
  // class accuracies and F1 scores, here as fields of the same line.
  const std::string tag = eval_only ? "" : " (last epoch)";
  out["Final Top-1" + tag] = get("final_acc1");
  out["Final Top-5" + tag] = get("final_acc5");
  out["Final UAR"] = get("final_uar");
  out["Final WAR"] = get("final_war");
  out["Final Confusion Matrix"] = get("final_confusion_matrix");
  out["Final Class Accuracies"] = get("final_per_class_recall");
  out["Final Weighted F1"] = get("final_weighted_f1");
  out["Final Micro F1"] = get("final_micro_f1");
  out["Final Macro F1"] = get("final_macro_f1");
  return out;
}

std::string python_json_dumps(const nlohmann::ordered_json& v) {
  std::string out;
  if (v.is_object()) {
    out = "{";
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it != v.begin()) out += ", ";
      out += nlohmann::ordered_json(it.key()).dump() + ": " + python_json_dumps(it.value());
    }
    return out + "}";
  }
  if (v.is_array()) {
    out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + python_json_dumps(v[i]);
    return out + "]";
  }
  return v.dump();
}

void append_original_log(const std::string& out_dir, const nlohmann::ordered_json& line) {
  append_line((std::filesystem::path(out_dir) / kOriginalLogName).string(),
              python_json_dumps(line));
}

int64_t prune_original_log(const std::string& path, int64_t epoch) {
  return keep_epochs_before(path, epoch, OtherLines::kDrop);
}

}  // namespace dfer::train
