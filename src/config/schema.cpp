// The schema registry (lookup, suggestions, validation) and the value parsers/formatters that
// files, overrides and the dump share, so that a dump always reloads to the same values.
#include "dfer/config/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "dfer/util/strings.h"

namespace dfer::config {

const std::vector<std::string>& sections() {
  static const std::vector<std::string> kSections = {"model",        "data",     "augmentation",
                                                     "optimization", "training", "pretraining",
                                                     "gaze",         "system",   "wandb"};
  return kSections;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_section(std::string_view name) {
  const auto& s = sections();
  return std::find(s.begin(), s.end(), to_lower(name)) != s.end();
}

const std::vector<KeyDef>& all_keys() {
  static const std::vector<KeyDef> kKeys = [] {
    std::vector<KeyDef> keys;
    detail::add_model_keys(keys);
    detail::add_data_keys(keys);
    detail::add_training_keys(keys);
    detail::add_system_keys(keys);
    // The tables group sections by theme; the dump wants the canonical section order.
    const auto& order = sections();
    auto rank = [&](const KeyDef& k) {
      return std::find(order.begin(), order.end(), k.section) - order.begin();
    };
    std::stable_sort(keys.begin(), keys.end(),
                     [&](const KeyDef& a, const KeyDef& b) { return rank(a) < rank(b); });
    return keys;
  }();
  return kKeys;
}

const KeyDef* find_key(std::string_view full_name) {
  static const std::map<std::string, const KeyDef*> kIndex = [] {
    std::map<std::string, const KeyDef*> index;
    for (const auto& k : all_keys()) index.emplace(k.full_name(), &k);
    return index;
  }();
  auto it = kIndex.find(to_lower(full_name));
  return it == kIndex.end() ? nullptr : it->second;
}

std::string suggest_key(std::string_view full_name) {
  const std::string want = to_lower(full_name);
  const auto dot = want.find('.');
  const std::string name = dot == std::string::npos ? want : want.substr(dot + 1);
  // The right key in the wrong section is the most likely mistake.
  for (const auto& k : all_keys())
    if (k.name == name) return k.full_name();
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, want.size() / 4) + 1;
  for (const auto& k : all_keys()) {
    std::size_t d = edit_distance(want, k.full_name());
    if (d < best_d) best_d = d, best = k.full_name();
  }
  return best;
}

std::string type_name(const KeyDef& def) {
  std::string n = def.list_len ? std::to_string(def.list_len) + " " : std::string();
  switch (def.type) {
    case ValueType::kBool:
      n = "bool";
      break;
    case ValueType::kInt:
      n = "int";
      break;
    case ValueType::kFloat:
      n = "float";
      break;
    case ValueType::kString:
      n = "string";
      break;
    case ValueType::kIntList:
      n = "list of " + n + "ints";
      break;
    case ValueType::kFloatList:
      n = "list of " + n + "floats";
      break;
    case ValueType::kStringList:
      n = "list of " + n + "strings";
      break;
  }
  return def.nullable ? n + " or null" : n;
}

namespace {

std::string join_choices(const std::vector<std::string>& c) {
  std::string out;
  for (const auto& s : c) out += (out.empty() ? "" : ", ") + (s.empty() ? "''" : s);
  return out;
}

bool valid_device(const std::string& s) {
  if (s == "auto" || s == "cpu" || s == "cuda") return true;
  if (s.rfind("cuda:", 0) != 0 || s.size() == 5 || s.size() > 9) return false;
  return std::all_of(s.begin() + 5, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string check_number(const KeyDef& def, double v) {
  if ((def.min && v < *def.min) || (def.max && v > *def.max)) {
    if (def.min && def.max)
      return fmt::format("{} is outside [{}, {}]", format_float(v), format_float(*def.min),
                         format_float(*def.max));
    if (def.min)
      return fmt::format("{} is below the minimum {}", format_float(v), format_float(*def.min));
    return fmt::format("{} is above the maximum {}", format_float(v), format_float(*def.max));
  }
  return {};
}

std::string check_string(const KeyDef& def, std::string& s) {
  for (const auto& [from, to] : def.value_aliases)
    if (s == from) s = to;
  if (!def.choices.empty() &&
      std::find(def.choices.begin(), def.choices.end(), s) == def.choices.end())
    return fmt::format("{} is not one of: {}", format_string(s), join_choices(def.choices));
  if (def.device_string && !valid_device(s))
    return fmt::format("{} is not a device (auto, cpu, cuda, cuda:N)", format_string(s));
  return {};
}

}  // namespace

std::string check_and_normalize(const KeyDef& def, Value& value) {
  if (std::holds_alternative<std::monostate>(value))
    return def.nullable ? std::string() : std::string("null is not allowed");
  auto check_len = [&](std::size_t n) -> std::string {
    if (def.list_len && n != def.list_len)
      return fmt::format("has {} items, expected {}", n, def.list_len);
    return {};
  };
  std::string err;
  if (auto* i = std::get_if<std::int64_t>(&value)) return check_number(def, double(*i));
  if (auto* f = std::get_if<double>(&value)) return check_number(def, *f);
  if (auto* s = std::get_if<std::string>(&value)) return check_string(def, *s);
  if (auto* il = std::get_if<std::vector<std::int64_t>>(&value)) {
    if (!(err = check_len(il->size())).empty()) return err;
    for (auto v : *il)
      if (!(err = check_number(def, double(v))).empty()) return "item " + err;
  } else if (auto* fl = std::get_if<std::vector<double>>(&value)) {
    if (!(err = check_len(fl->size())).empty()) return err;
    for (auto v : *fl)
      if (!(err = check_number(def, v)).empty()) return "item " + err;
  } else if (auto* sl = std::get_if<std::vector<std::string>>(&value)) {
    if (!(err = check_len(sl->size())).empty()) return err;
    for (auto& v : *sl)
      if (!(err = check_string(def, v)).empty()) return "item " + err;
  }
  return {};
}

bool values_equal(const Value& a, const Value& b) {
  return a == b;
}

bool is_null_literal(std::string_view t) {
  return t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL";
}

std::optional<bool> parse_bool(std::string_view t) {
  // The YAML 1.1 words PyYAML's safe_load accepts, so upstream files mean the same here.
  static const char* kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const char* kFalse[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  for (const char* w : kTrue)
    if (t == w) return true;
  for (const char* w : kFalse)
    if (t == w) return false;
  return std::nullopt;
}

std::optional<double> parse_float(std::string_view t) {
  if (!t.empty() && t[0] == '+') {
    t.remove_prefix(1);
    if (!t.empty() && (t[0] == '+' || t[0] == '-')) return std::nullopt;
  }
  if (t.empty()) return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::int64_t> parse_int(std::string_view t) {
  std::string_view u = t;
  if (!u.empty() && u[0] == '+') {
    u.remove_prefix(1);
    if (!u.empty() && (u[0] == '+' || u[0] == '-')) return std::nullopt;
  }
  std::int64_t v = 0;
  if (!u.empty()) {
    auto [ptr, ec] = std::from_chars(u.data(), u.data() + u.size(), v);
    if (ec == std::errc() && ptr == u.data() + u.size()) return v;
  }
  // "16.0" is accepted: converting it loses nothing.
  auto f = parse_float(t);
  if (f && std::floor(*f) == *f && std::fabs(*f) < 9.2e18) return static_cast<std::int64_t>(*f);
  return std::nullopt;
}

std::string format_float(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  std::string s = fmt::format("{}", v);  // shortest representation that round-trips
  // Keep a '.' so that the text is a float for PyYAML too (it needs one, also before 'e').
  auto e = s.find_first_of("eE");
  if (s.find('.') == std::string::npos) s.insert(e == std::string::npos ? s.size() : e, ".0");
  return s;
}

std::string format_string(const std::string& s) {
  bool control = false, plain = !s.empty();
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) control = true;
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '/' || c == '-' || c == '+' || c >= 0x80;
    if (!safe) plain = false;
  }
  // A plain scalar must not start like a sequence, a number (YAML 1.1 also reads 1_000, 0x1f,
  // .inf) or an indicator; relative paths ("./x", "../x") are the one such case left plain.
  if (plain && (s[0] == '-' || s[0] == '.' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
    plain = s.rfind("./", 0) == 0 || s.rfind("../", 0) == 0;
  if (plain && (parse_bool(s) || is_null_literal(s))) plain = false;
  if (plain) return s;
  if (!control) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  }
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += char(c);
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += char(c);
  }
  return out + "\"";
}

namespace {
struct FormatVisitor {
  std::string operator()(std::monostate) const { return "null"; }
  std::string operator()(bool b) const { return b ? "true" : "false"; }
  std::string operator()(std::int64_t i) const { return std::to_string(i); }
  std::string operator()(double d) const { return format_float(d); }
  std::string operator()(const std::string& s) const { return format_string(s); }
  template <typename T>
  std::string operator()(const std::vector<T>& list) const {
    std::string out = "[";
    for (std::size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + (*this)(list[i]);
    return out + "]";
  }
};
}  // namespace

std::string format_value(const Value& value) {
  return std::visit(FormatVisitor{}, value);
}

}  // namespace dfer::config
