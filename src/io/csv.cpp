// Annotation list reader: strict, locale-independent number parsing and file:line errors, so a
// broken list fails before training starts instead of mid-epoch.
#include "dfer/io/csv.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "dfer/util/error.h"
#include "dfer/util/gaze.h"

namespace dfer::io {
namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

// from_chars does not take a leading '+'; one is allowed (not "+-1").
std::string_view strip_plus(std::string_view t) {
  if (t.size() > 1 && t[0] == '+' && t[1] != '+' && t[1] != '-') t.remove_prefix(1);
  return t;
}

std::optional<double> to_double(std::string_view t) {
  t = strip_plus(t);
  double v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
  return v;
}

// Integer label; an integral float such as "3.0" is accepted (the original parses label columns
// as float and casts them).
std::optional<long long> to_label(std::string_view t) {
  std::string_view u = strip_plus(t);
  long long v = 0;
  auto [ptr, ec] = std::from_chars(u.data(), u.data() + u.size(), v);
  if (ec == std::errc() && ptr == u.data() + u.size()) return v;
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<long long>::max();
  auto f = to_double(t);
  if (f && std::isfinite(*f) && std::floor(*f) == *f && std::fabs(*f) < 9e18)
    return static_cast<long long>(*f);
  return std::nullopt;
}

std::string show(std::string_view field) {
  std::string s(field.substr(0, 40));
  return "'" + s + (field.size() > 40 ? "...'" : "'");
}

const char* columns_text(AnnotationColumns c) {
  switch (c) {
    case AnnotationColumns::kLabel:
      return "2 columns (path label)";
    case AnnotationColumns::kLabelPitchYaw:
      return "4 columns (path label pitch yaw)";
    case AnnotationColumns::kGaze:
      return "3 or 4 columns (path [class] pitch yaw)";
    default:
      return "2 or 4 columns (path label [pitch yaw])";
  }
}

}  // namespace

std::vector<AnnotationRow> parse_annotations(std::string_view text, const std::string& source,
                                             int num_classes, AnnotationColumns expected) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<AnnotationRow> rows;
  std::size_t first_count = 0, first_line = 0;  // column count of the first row (kAny)
  std::size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto fields = split_fields(line);
    if (fields.empty()) continue;
    const std::string at = source + ":" + std::to_string(line_no) + ": ";
    const std::size_t n = fields.size();
    bool ok = expected == AnnotationColumns::kLabel           ? n == 2
              : expected == AnnotationColumns::kLabelPitchYaw ? n == 4
              : expected == AnnotationColumns::kGaze          ? (n == 3 || n == 4)
                                                              : (n == 2 || n == 4);
    if (!ok)
      throw UsageError(at + "expected " + columns_text(expected) + ", found " + std::to_string(n));
    if (first_count == 0) {
      first_count = n, first_line = line_no;
    } else if (n != first_count) {
      throw UsageError(at + "row has " + std::to_string(n) + " columns but line " +
                       std::to_string(first_line) + " has " + std::to_string(first_count));
    }
    AnnotationRow row;
    row.path = std::string(fields[0]);
    row.line = line_no;
    if (n != 3) {  // 3 columns = path pitch yaw: no class (label 0)
      auto label = to_label(fields[1]);
      if (!label) throw UsageError(at + "label " + show(fields[1]) + " is not an integer");
      if (*label < 0 || (num_classes > 0 && *label >= num_classes) ||
          *label > std::numeric_limits<int>::max())
        throw UsageError(at + "label " + show(fields[1]) + " is out of range" +
                         (num_classes > 0 ? " [0, " + std::to_string(num_classes) + ")"
                          : *label < 0    ? std::string(" (negative)")
                                          : std::string()));
      row.label = static_cast<int>(*label);
    }
    if (n >= 3) {
      const char* names[2] = {"pitch", "yaw"};
      float angles[2];
      for (int k = 0; k < 2; ++k) {
        const auto& field = fields[n - 2 + k];
        auto v = to_double(field);
        if (!v) throw UsageError(at + names[k] + " " + show(field) + " is not a number");
        angles[k] = static_cast<float>(*v);
        if (!std::isfinite(angles[k]))
          throw UsageError(at + names[k] + " " + show(field) + " is not finite");
      }
      if (const char* problem = gaze_label_problem(angles[0], angles[1]); *problem)
        throw UsageError(at + "gaze (" + std::string(fields[n - 2]) + ", " +
                         std::string(fields[n - 1]) + "): " + problem);
      row.pitch = angles[0];
      row.yaw = angles[1];
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<AnnotationRow> read_annotations(const std::string& path, int num_classes,
                                            AnnotationColumns expected) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read annotation file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UsageError("cannot read annotation file '" + path + "'");
  return parse_annotations(text.str(), path, num_classes, expected);
}

}  // namespace dfer::io
