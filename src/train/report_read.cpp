// Reading a run folder for the report (see report.h): metrics.jsonl into columns, the final
// results, the effective config and the log's time span, each file checked with errors that name
// the file and line.
#include "dfer/train/report.h"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "dfer/models/spec.h"
#include "dfer/train/metrics.h"
#include "dfer/util/error.h"
#include "dfer/util/log.h"
#include "dfer/util/strings.h"

namespace fs = std::filesystem;

namespace dfer::train {

bool MetricsTable::has(const std::string& field) const {
  return columns.count(field) > 0;
}

const std::vector<double>& MetricsTable::column(const std::string& field) const {
  static const std::vector<double> kNone;
  const auto it = columns.find(field);
  return it == columns.end() ? kNone : it->second;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// nullopt when the file does not exist; an unreadable existing file is an error.
std::optional<std::string> read_optional(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(p.string() + ": cannot be read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string read_required(const fs::path& p, const std::string& why) {
  auto text = read_optional(p);
  if (!text) throw Error(p.string() + ": missing (" + why + ")");
  return *text;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the file and line we add
// say more to a reader.
std::string json_message(const std::exception& e) {
  std::string m = e.what();
  if (starts_with(m, "[json.exception.")) {
    const auto close = m.find("] ");
    if (close != std::string::npos) m = m.substr(close + 2);
  }
  return m;
}

int line_of_byte(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + byte, '\n'));
}

// Fields the report plots or sums: they must be numbers (or null, a gap) where present.
bool used_field(const std::string& key) {
  return starts_with(key, "train_") || starts_with(key, "val_") || key == "epoch_time_s";
}

MetricsTable read_metrics(const fs::path& path) {
  const std::string text = read_required(path, "every run writes it after its first epoch");
  std::map<int64_t, std::map<std::string, double>> by_epoch;  // a repeated epoch: the last wins
  std::istringstream lines(text);
  std::string line;
  int lineno = 0;
  while (std::getline(lines, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}: ", path.string(), lineno);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(where + "not valid JSON: " + json_message(e));
    }
    if (!j.is_object()) throw Error(where + "not a JSON object");
    const auto ep = j.find("epoch");
    if (ep == j.end() || !ep->is_number_integer() || ep->get<int64_t>() < 0)
      throw Error(where + "no \"epoch\" field with a non-negative integer");
    auto& row = by_epoch[ep->get<int64_t>()];
    row.clear();
    for (const auto& [key, value] : j.items()) {
      if (key == "epoch") continue;
      if (value.is_number()) {
        row[key] = value.get<double>();
      } else if (value.is_null()) {
        row[key] = kNaN;  // the writer turns a NaN into null
      } else if (used_field(key) && !value.is_array() && !value.is_object()) {
        throw Error(where + "field \"" + key + "\" is not a number: " + value.dump());
      }
    }
  }
  if (by_epoch.empty()) throw Error(path.string() + ": no epoch lines");
  MetricsTable t;
  for (const auto& [epoch, row] : by_epoch) {
    for (const auto& [key, value] : row) {
      auto& col = t.columns[key];
      col.resize(t.epochs.size(), kNaN);  // epochs before this one that lacked the field
      col.push_back(value);
    }
    t.epochs.push_back(static_cast<double>(epoch));
  }
  for (auto& [key, col] : t.columns) col.resize(t.epochs.size(), kNaN);
  return t;
}

// A missing key gives yaml-cpp's invalid node, whose type queries throw: IsDefined() does not.
std::string yaml_string(const YAML::Node& root, const char* section, const char* key) {
  const YAML::Node s = root[section];
  if (!s.IsDefined() || !s.IsMap()) return "";
  const YAML::Node v = s[key];
  return v.IsDefined() && v.IsScalar() ? v.as<std::string>() : "";
}

void read_config(const fs::path& path, RunData& run, std::string& task) {
  run.config_yaml = read_required(path, "every run writes its effective config at the start");
  YAML::Node root;
  try {
    root = YAML::Load(run.config_yaml);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}:{}: malformed YAML: {}", path.string(), e.mark.line + 1, e.msg));
  }
  if (!root.IsMap()) throw Error(path.string() + ": not a YAML mapping of config sections");
  run.model_name = yaml_string(root, "model", "name");
  run.dataset_name = yaml_string(root, "data", "dataset_name");
  task = yaml_string(root, "data", "task");
}

std::string display_value(const nlohmann::json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) return fmt::format("{:.4f}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();  // bool, null
}

ConfusionData read_confusion(const nlohmann::json& j, const std::string& where,
                             const std::string& dataset_name) {
  ConfusionData c;
  const auto& m = j.at("final_confusion_matrix");
  const std::string bad = where + "final_confusion_matrix must be a square matrix of counts";
  if (!m.is_array() || m.empty()) throw Error(bad);
  const size_t n = m.size();
  for (const auto& row : m) {
    if (!row.is_array() || row.size() != n) throw Error(bad);
    std::vector<int64_t> counts;
    for (const auto& v : row) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0) throw Error(bad);
      counts.push_back(v.get<int64_t>());
    }
    c.counts.push_back(std::move(counts));
  }
  if (const auto names = j.find("class_names"); names != j.end()) {
    if (!names->is_array() || names->size() != n)
      throw Error(where + "class_names must be a list of " + std::to_string(n) + " names");
    for (const auto& v : *names) {
      if (!v.is_string()) throw Error(where + "class_names must hold strings");
      c.class_names.push_back(v.get<std::string>());
    }
  } else {
    // Combine runs do not write names: the training's own rule for the dataset gives them.
    c.class_names = class_names_for(dataset_name, static_cast<int64_t>(n));
  }
  if (const auto r = j.find("final_per_class_recall"); r != j.end()) {
    if (!r->is_array() || r->size() != n)
      throw Error(where + "final_per_class_recall must be a list of " + std::to_string(n) +
                  " numbers");
    for (const auto& v : *r) {
      if (!v.is_number()) throw Error(where + "final_per_class_recall must hold numbers");
      c.recall.push_back(v.get<double>());
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      int64_t total = 0;
      for (int64_t v : c.counts[i]) total += v;
      c.recall.push_back(total > 0 ? static_cast<double>(c.counts[i][i]) / total : 0.0);
    }
  }
  return c;
}

void read_final(const fs::path& path, RunData& run, std::string& task) {
  const auto text = read_optional(path);
  if (!text) return;  // pre-training, or a run that has not reached its final evaluation
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(*text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}:{}: not valid JSON: {}", path.string(),
                            line_of_byte(*text, e.byte > 0 ? e.byte - 1 : 0), json_message(e)));
  }
  const std::string where = path.string() + ": ";
  if (!j.is_object()) throw Error(where + "not a JSON object");
  run.has_final_results = true;
  for (const auto& [key, value] : j.items())
    if (value.is_primitive()) run.final_scalars.emplace_back(key, display_value(value));
  if (const auto t = j.find("task"); t != j.end() && t->is_string()) task = t->get<std::string>();
  if (j.contains("final_confusion_matrix"))
    run.confusion = read_confusion(j, where, run.dataset_name);
}

// "[2026-11-30 05:17:41.025] [info] ..." -> "2026-11-30 05:17:41".
std::string log_time(const std::string& line) {
  if (line.size() < 21 || line[0] != '[' || line[5] != '-' || line[11] != ' ') return "";
  return line.substr(1, 19);
}

void read_log(const fs::path& path, RunData& run) {
  const auto text = read_optional(path);
  if (!text) return;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    const auto t = log_time(line);
    if (t.empty()) continue;
    if (run.log_first_time.empty()) run.log_first_time = t;
    run.log_last_time = t;
  }
}

}  // namespace

RunData read_run(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir.string() + ": not a run folder (no such folder)");
  RunData run;
  run.dir = dir;
  run.name = fs::weakly_canonical(dir, ec).filename().string();
  if (run.name.empty()) run.name = dir.filename().string();
  std::string task;
  read_config(dir / "config.yaml", run, task);
  run.metrics = read_metrics(dir / "metrics.jsonl");
  read_final(dir / "final_results.json", run, task);
  // The human log; runs of older dfer versions kept it in log.txt.
  read_log(fs::exists(dir / kHumanLogName) ? dir / kHumanLogName : dir / "log.txt", run);
  if (models::is_pretrain_name(run.model_name))
    run.kind = "pre-training";
  else if (task == "regression")
    run.kind = "gaze";
  else if (task == "combine")
    run.kind = "combine";
  else
    run.kind = "fine-tuning";
  return run;
}

}  // namespace dfer::train
