// log.txt as the original scripts write it: one JSON object per epoch with train_<k>, val_<k> (or
// test_<k>), epoch and n_parameters, then the final results, so analysis scripts that parse the
// reference's log.txt read ours. metrics.jsonl keeps dfer's fuller record; the human log is
// train.log.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace dfer::train {

enum class OriginalLogStyle {
  kYacs,     // run_finetuning_with_yacs.py: validation meters as test_<k>
  kMaeDfer,  // MAE-DFER's run_class_finetuning.py / run_mae_pretraining.py: val_<k>
};

// "yacs" | "mae_dfer" (system.log_txt); throws UsageError otherwise.
OriginalLogStyle parse_original_log_style(const std::string& s);

// The file name, inside the output folder.
inline constexpr const char* kOriginalLogName = "log.txt";

// One epoch line from dfer's metrics.jsonl line: the reference's training meters (lr, min_lr,
// loss, loss_scale, weight_decay, grad_norm, in its order) with their train_ prefix, every
// validation field with val_ renamed to the style's prefix, then epoch and n_parameters.
// dfer's own fields (throughput, data wait, skipped steps, epoch time) stay out.
nlohmann::ordered_json original_epoch_line(const nlohmann::json& metrics_line,
                                           OriginalLogStyle style);

// The final results as one JSON line. `final_results` is final_results.json's object (keys
// final_acc1, final_uar, ..., confusion_matrix, per-class recall); `eval_only` selects the
// reference's --eval wording over the after-training one. kYacs writes the final_results object
// itself (the later runner prints it after "=== FINAL RESULTS ===", indented; here on one line so
// that every line of the file parses); kMaeDfer writes "Final Top-1 (last epoch)" ... with the
// UAR, WAR, F1 scores, confusion matrix and class accuracies the reference prints as text.
nlohmann::ordered_json original_final_line(const nlohmann::json& final_results,
                                           OriginalLogStyle style, bool eval_only);

// `value` as Python's json.dumps writes it (", " and ": " separators), so the file reads like the
// reference's byte for byte where the values agree.
std::string python_json_dumps(const nlohmann::ordered_json& value);

// Appends one line (python_json_dumps) to <out_dir>/log.txt, flushed to disk.
void append_original_log(const std::string& out_dir, const nlohmann::ordered_json& line);

// Drops the lines a resume from the start of epoch `epoch` writes again: epoch lines of epochs >=
// `epoch` and final-results lines (a resumed run prints its own). A torn last line goes too.
// Returns the lines removed; a missing file stays missing.
int64_t prune_original_log(const std::string& path, int64_t epoch);

}  // namespace dfer::train
