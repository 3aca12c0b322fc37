// Classification metrics and the metrics.jsonl writer (see metrics.h).
#include "dfer/train/metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "dfer/data/dataset_lists.h"
#include "dfer/io/atomic_file.h"
#include "dfer/util/error.h"

namespace dfer::train {

namespace {
std::string fmt_col(const std::string& s) {
  return s.size() >= 8 ? s.substr(0, 8) : std::string(8 - s.size(), ' ') + s;
}
}  // namespace

ClassificationMetrics compute_classification_metrics(const std::vector<int64_t>& labels,
                                                     const std::vector<int64_t>& predictions,
                                                     int64_t num_classes,
                                                     const std::vector<float>& scores) {
  if (labels.size() != predictions.size())
    throw Error("metrics: " + std::to_string(labels.size()) + " labels but " +
                std::to_string(predictions.size()) + " predictions");
  if (num_classes < 1) throw Error("metrics: num_classes must be >= 1");
  if (!scores.empty() && scores.size() != labels.size() * static_cast<size_t>(num_classes))
    throw Error("metrics: scores must hold count x num_classes values");
  ClassificationMetrics m;
  m.num_classes = num_classes;
  m.count = static_cast<int64_t>(labels.size());
  const auto K = static_cast<size_t>(num_classes);
  m.confusion.assign(K, std::vector<int64_t>(K, 0));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes || predictions[i] < 0 ||
        predictions[i] >= num_classes)
      throw Error("metrics: sample " + std::to_string(i) + " has label " +
                  std::to_string(labels[i]) + " / prediction " + std::to_string(predictions[i]) +
                  " outside [0, " + std::to_string(num_classes) + ")");
    m.confusion[static_cast<size_t>(labels[i])][static_cast<size_t>(predictions[i])]++;
  }
  int64_t trace = 0;
  std::vector<int64_t> row(K, 0), col(K, 0);
  for (size_t a = 0; a < K; ++a)
    for (size_t b = 0; b < K; ++b) {
      row[a] += m.confusion[a][b];
      col[b] += m.confusion[a][b];
      if (a == b) trace += m.confusion[a][b];
    }
  m.per_class_recall.assign(K, 0.0);
  double recall_sum = 0, f1_macro = 0, f1_weighted = 0;
  int64_t present = 0;
  for (size_t c = 0; c < K; ++c) {
    const double tp = static_cast<double>(m.confusion[c][c]);
    if (row[c] > 0) {
      m.per_class_recall[c] = tp / static_cast<double>(row[c]);
      recall_sum += m.per_class_recall[c];
      ++present;
    }
    // sklearn f1 with zero_division=0, over the labels seen in either labels or predictions.
    const double denom = static_cast<double>(row[c] + col[c]);
    const double f1 = denom > 0 ? 2.0 * tp / denom : 0.0;
    if (row[c] > 0 || col[c] > 0) f1_macro += f1;
    f1_weighted += f1 * static_cast<double>(row[c]);
  }
  int64_t seen = 0;
  for (size_t c = 0; c < K; ++c) seen += (row[c] > 0 || col[c] > 0) ? 1 : 0;
  const double n = static_cast<double>(std::max<int64_t>(m.count, 1));
  m.uar = present ? recall_sum / static_cast<double>(present) : 0.0;
  m.war = m.count ? static_cast<double>(trace) / n : 0.0;
  m.acc1 = 100.0 * m.war;
  m.micro_f1 = m.war;
  m.macro_f1 = seen ? f1_macro / static_cast<double>(seen) : 0.0;
  m.weighted_f1 = m.count ? f1_weighted / n : 0.0;
  m.acc5 = m.acc1;
  if (!scores.empty() && m.count > 0) {
    const size_t k = std::min<size_t>(5, K);
    int64_t hits = 0;
    std::vector<size_t> order(K);
    for (size_t i = 0; i < labels.size(); ++i) {
      const float* s = scores.data() + i * K;
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + static_cast<long>(k), order.end(),
                        [s](size_t a, size_t b) { return s[a] > s[b]; });
      for (size_t j = 0; j < k; ++j)
        if (static_cast<int64_t>(order[j]) == labels[i]) ++hits;
    }
    m.acc5 = 100.0 * static_cast<double>(hits) / n;
  }
  return m;
}

nlohmann::json ClassificationMetrics::to_json(const std::string& p) const {
  return {{p + "acc1", acc1},
          {p + "acc5", acc5},
          {p + "uar", uar},
          {p + "war", war},
          {p + "weighted_f1", weighted_f1},
          {p + "micro_f1", micro_f1},
          {p + "macro_f1", macro_f1},
          {p + "count", count},
          {p + "per_class_recall", per_class_recall},
          {p + "confusion_matrix", confusion}};
}

std::string ClassificationMetrics::to_string(const std::vector<std::string>& names) const {
  std::ostringstream os;
  auto name = [&](size_t c) { return c < names.size() ? names[c] : std::to_string(c); };
  os << "confusion matrix (rows = true, columns = predicted):\n";
  os << "            ";
  for (size_t c = 0; c < confusion.size(); ++c) os << fmt_col(name(c).substr(0, 7));
  os << "  recall\n";
  for (size_t r = 0; r < confusion.size(); ++r) {
    std::string label = name(r).substr(0, 11);
    os << label << std::string(12 - label.size(), ' ');
    for (int64_t v : confusion[r]) os << fmt_col(std::to_string(v));
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %.4f\n", per_class_recall[r]);
    os << buf;
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "UAR %.4f  WAR %.4f  acc1 %.2f  acc5 %.2f  (n = %lld)", uar, war,
                acc1, acc5, static_cast<long long>(count));
  os << buf;
  return os.str();
}

void append_jsonl(const std::string& path, const nlohmann::json& line) {
  append_line(path, line.dump());
}

void append_line(const std::string& path, const std::string& line) {
  const std::string text = line + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw Error("cannot write " + path + ": " + why);
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  ::fsync(fd);
  ::close(fd);
}

int64_t keep_epochs_before(const std::string& path, int64_t epoch, OtherLines other) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;
  std::ostringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  std::string kept;
  int64_t removed = 0, line_no = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = text.find('\n', at);
    const bool torn = end == std::string::npos;  // no newline: the append was cut short
    const std::string line = text.substr(at, torn ? std::string::npos : end - at);
    at = torn ? text.size() : end + 1;
    ++line_no;
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool good = j.is_object() && j.contains("epoch") && j.at("epoch").is_number_integer();
    if ((!good && torn) || (other == OtherLines::kDrop && (!good || torn))) {
      ++removed;
      continue;
    }
    if (!good)
      throw Error(path + ":" + std::to_string(line_no) +
                  ": not an epoch line (a JSON object with an integer \"epoch\")");
    if (j.at("epoch").get<int64_t>() >= epoch) {
      ++removed;
      continue;
    }
    kept += line + "\n";
  }
  if (removed > 0) io::write_file_atomic(path, kept);
  return removed;
}

std::vector<std::string> class_names_for(const std::string& dataset_name, int64_t num_classes) {
  std::string d;
  for (char c : dataset_name) d += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Label orders of SPEC 4.2 (DFEW order for the synthetic set and the 7-class sets).
  const std::vector<std::string> seven = {"Happy",    "Sad",     "Neutral", "Angry",
                                          "Surprise", "Disgust", "Fear"};
  const std::vector<std::string> mafw = {"Anger",   "Disgust",      "Fear",          "Happiness",
                                         "Neutral", "Sadness",      "Surprise",      "Contempt",
                                         "Anxiety", "Helplessness", "Disappointment"};
  // DFEW_combine: DFEW's frames relabelled with gaze keep DFEW's classes.
  if (num_classes == 7 && (d == "dfew" || d == "dfew_combine" || d == "synth" || d == "ferv39k"))
    return seven;
  if (num_classes == 11 && d == "mafw") return mafw;
  // The video datasets' orders, as dfer-prep writes their lists (dataset_lists.h).
  if (num_classes == 8 && d == "ravdess") return data::ravdess_classes();
  if (num_classes == 6 && (d == "crema-d" || d == "cremad")) return data::cremad_classes();
  if (num_classes == 6 && d == "enterface") return data::enterface_classes();
  std::vector<std::string> out;
  for (int64_t c = 0; c < num_classes; ++c) out.push_back(std::to_string(c));
  return out;
}

}  // namespace dfer::train
