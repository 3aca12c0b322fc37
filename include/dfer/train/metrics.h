// Classification metrics of the reference (UAR, WAR, per-class recall, confusion matrix, top-k,
// weighted / micro / macro F1), the running averages of a training epoch, and metrics.jsonl.
// Torch-free.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dfer::train {

struct ClassificationMetrics {
  int64_t num_classes = 0;
  int64_t count = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::vector<double> per_class_recall;         // diag / row sum (0 for an empty row)
  double uar = 0;   // mean per-class recall over classes present in the labels
  double war = 0;   // trace / total (= top-1 accuracy)
  double acc1 = 0;  // percent, as the reference logs it
  double acc5 = 0;  // percent; only when scores were given (else = acc1)
  double weighted_f1 = 0, micro_f1 = 0, macro_f1 = 0;

  nlohmann::json to_json(const std::string& prefix = "") const;
  // Multi-line human table: confusion matrix with class names, recalls, UAR/WAR.
  std::string to_string(const std::vector<std::string>& class_names = {}) const;
};

// Metrics of predictions against labels (both in [0, num_classes)); throws dfer::Error on
// mismatched sizes or out-of-range values. `scores` (optional, row-major count x num_classes)
// gives top-5 (top-min(5, K)). UAR averages over classes that occur in the labels, as sklearn's
// balanced accuracy / the reference's per-class mean over the confusion-matrix rows present.
ClassificationMetrics compute_classification_metrics(const std::vector<int64_t>& labels,
                                                     const std::vector<int64_t>& predictions,
                                                     int64_t num_classes,
                                                     const std::vector<float>& scores = {});

// Running mean of a scalar (loss, lr, ...).
struct Average {
  double sum = 0;
  int64_t n = 0;
  void add(double v, int64_t weight = 1) {
    sum += v * static_cast<double>(weight);
    n += weight;
  }
  double mean() const { return n ? sum / static_cast<double>(n) : 0.0; }
};

// Appends one compact JSON object as a line to `path` and flushes (fsync) it, so a crash loses at
// most the line being written. Throws dfer::Error naming the file.
void append_jsonl(const std::string& path, const nlohmann::json& line);
// The same for a line of text (a newline is added).
void append_line(const std::string& path, const std::string& line);

// Rewrites the epoch log `path` (atomically) keeping only the lines of epochs < `epoch`, in order:
// a resume from the end of epoch `epoch - 1` repeats the later epochs, which would otherwise be
// logged twice. A torn last line (a kill mid-append) is dropped too. Returns the lines removed; a
// missing file is left missing. Throws dfer::Error naming the file and line for a line that is not
// a JSON object with an integer "epoch" (other than a torn last line); with OtherLines::kDrop such
// lines, and a torn last line of any kind, are removed instead (log.txt's final-results lines).
enum class OtherLines { kError, kDrop };
int64_t keep_epochs_before(const std::string& path, int64_t epoch,
                           OtherLines other = OtherLines::kError);

// Known class names for a dataset kind ("DFEW", "FERV39k", "synth", "MAFW", "RAVDESS", "CREMA-D",
// "ENTERFACE") when the count matches,
// else "0".."K-1".
std::vector<std::string> class_names_for(const std::string& dataset_name, int64_t num_classes);

}  // namespace dfer::train
