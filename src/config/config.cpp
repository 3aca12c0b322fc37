// Config: strict YAML merge (every problem names file, line and key), overrides, typed getters,
// canonical dump and the atomic write of the effective config.
#include "dfer/config/config.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "dfer/util/error.h"
#include "yaml_value.h"

namespace dfer {

using config::KeyDef;
using config::KeyStatus;
using config::Value;

Config::Config() {
  for (const auto& k : config::all_keys()) values_[k.full_name()] = k.default_value;
}

namespace {

std::string where(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source;
  return fmt::format("{}:{}", source, mark.line + 1);
}

// The closest section name, for "did you mean".
std::string suggest_section(const std::string& name) {
  std::string best;
  for (const auto& s : config::sections()) {
    std::size_t common = 0;
    while (common < s.size() && common < name.size() && s[common] == name[common]) ++common;
    if (common >= 3 && common * 2 >= s.size()) best = s;
  }
  return best;
}

std::string did_you_mean(const std::string& suggestion) {
  return suggestion.empty() ? std::string() : " (did you mean '" + suggestion + "'?)";
}

std::string scalar_key(const YAML::Node& key, const std::string& at) {
  if (!key.IsScalar()) throw UsageError(at + ": keys must be plain names");
  return config::to_lower(key.Scalar());
}

}  // namespace

void Config::load_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read config file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UsageError("cannot read config file '" + path + "'");
  load_yaml_string(text.str(), path);
}

void Config::load_yaml_string(const std::string& text, const std::string& source) {
  // Load into a copy so that a failed load leaves this config untouched.
  Config staged = *this;
  try {
    // Not YAML::LoadAll: it never returns on some malformed input (yaml-cpp 0.7).
    config::detail::require_single_document(text, source);
    const YAML::Node root = YAML::Load(text);
    if (root.IsNull()) return;  // an empty file keeps the defaults
    if (!root.IsMap())
      throw UsageError(where(source, root.Mark()) +
                       ": expected a mapping of sections (model:, "
                       "data:, ...) at the top level");
    std::map<std::string, int> seen;  // canonical key -> line, for duplicates across spellings
    for (const auto& sec : root) {
      const std::string at = where(source, sec.first.Mark());
      const std::string section = scalar_key(sec.first, at);
      if (!config::is_section(section)) {
        std::string list;
        for (const auto& s : config::sections()) list += (list.empty() ? "" : ", ") + s;
        throw UsageError(at + ": unknown section '" + sec.first.Scalar() + "'" +
                         did_you_mean(suggest_section(section)) + "; sections are: " + list);
      }
      if (seen.count(section))
        throw UsageError(fmt::format("{}: duplicate section '{}' (first at line {})", at, section,
                                     seen[section]));
      seen[section] = sec.first.Mark().line + 1;
      const YAML::Node& body = sec.second;
      if (body.IsNull()) continue;  // a section with every key commented out
      if (!body.IsMap())
        throw UsageError(at + ": section '" + section + "' must be a mapping of keys, got " +
                         config::detail::describe_node(body));
      for (const auto& kv : body) {
        const std::string kat = where(source, kv.first.Mark());
        const std::string full = section + "." + scalar_key(kv.first, kat);
        const KeyDef* def = config::find_key(full);
        if (!def)
          throw UsageError(kat + ": unknown key '" + full + "'" +
                           did_you_mean(config::suggest_key(full)));
        if (seen.count(full))
          throw UsageError(
              fmt::format("{}: duplicate key '{}' (first at line {})", kat, full, seen[full]));
        seen[full] = kv.first.Mark().line + 1;
        std::string err;
        std::optional<Value> v = config::detail::node_to_value(*def, kv.second, err);
        if (!v) throw UsageError(kat + ": key '" + full + "': " + err);
        err = config::check_and_normalize(*def, *v);
        if (!err.empty()) throw UsageError(kat + ": key '" + full + "': " + err);
        staged.assign_explicit(*def, std::move(*v));
      }
    }
  } catch (const YAML::ParserException& e) {
    throw UsageError(where(source, e.mark) + ": YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    throw UsageError(source + ": cannot read YAML: " + e.what());
  }
  *this = std::move(staged);
}

void Config::apply_override(const std::string& key, const std::string& value) {
  const std::string at = "override '" + key + " " + value + "'";
  const KeyDef* def = config::find_key(key);
  if (!def)
    throw UsageError(at + ": unknown key '" + config::to_lower(key) + "'" +
                     did_you_mean(config::suggest_key(key)));
  std::string err;
  std::optional<Value> v = config::detail::text_to_value(*def, value, err);
  if (!v) throw UsageError(at + ": key '" + def->full_name() + "': " + err);
  err = config::check_and_normalize(*def, *v);
  if (!err.empty()) throw UsageError(at + ": key '" + def->full_name() + "': " + err);
  assign_explicit(*def, std::move(*v));
}

void Config::assign_explicit(const KeyDef& def, Value value) {
  const std::string full = def.full_name();
  if (def.status == KeyStatus::kIgnoredUpstream) {
    warn_once(def, "config key '" + full +
                       "' is accepted for compatibility but has no effect: " + def.help);
  } else if (def.status == KeyStatus::kNoEffect &&
             !config::values_equal(value, def.default_value)) {
    warn_once(def, "config key '" + full + "' = " + config::format_value(value) +
                       " has no effect in dfer: " + def.help);
  }
  explicit_.insert(full);
  values_[full] = std::move(value);
}

void Config::warn_once(const KeyDef& def, const std::string& message) {
  if (!warned_.insert(def.full_name()).second) return;
  warnings_.push_back(message);
  spdlog::warn("{}", message);
}

void Config::set(const std::string& key, Value value) {
  const KeyDef& d = def(key);
  const bool type_ok = std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>)
          return d.nullable;
        else if constexpr (std::is_same_v<T, bool>)
          return d.type == config::ValueType::kBool;
        else if constexpr (std::is_same_v<T, std::int64_t>)
          return d.type == config::ValueType::kInt || d.type == config::ValueType::kFloat;
        else if constexpr (std::is_same_v<T, double>)
          return d.type == config::ValueType::kFloat;
        else if constexpr (std::is_same_v<T, std::string>)
          return d.type == config::ValueType::kString;
        else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>)
          return d.type == config::ValueType::kIntList;
        else if constexpr (std::is_same_v<T, std::vector<double>>)
          return d.type == config::ValueType::kFloatList;
        else
          return d.type == config::ValueType::kStringList;
      },
      value);
  if (!type_ok)
    throw UsageError("config key '" + d.full_name() + "': expected " + config::type_name(d) +
                     ", got " + config::format_value(value));
  if (auto* i = std::get_if<std::int64_t>(&value); i && d.type == config::ValueType::kFloat)
    value = Value(double(*i));
  std::string err = config::check_and_normalize(d, value);
  if (!err.empty()) throw UsageError("config key '" + d.full_name() + "': " + err);
  values_[d.full_name()] = std::move(value);
}

bool Config::is_explicit(const std::string& key) const {
  return explicit_.count(def(key).full_name()) > 0;
}

std::string Config::dump_yaml() const {
  std::string out;
  std::string section;
  for (const auto& k : config::all_keys()) {
    const std::string full = k.full_name();
    if (k.status == KeyStatus::kIgnoredUpstream && !explicit_.count(full)) continue;
    if (k.section != section) {
      section = k.section;
      out += section + ":\n";
    }
    out += "  " + k.name + ": " + config::format_value(values_.at(full)) + "\n";
  }
  return out;
}

std::string Config::write_effective(const std::string& output_dir) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(output_dir, ec);
  if (ec) throw Error("cannot create output directory '" + output_dir + "': " + ec.message());
  const fs::path target = fs::path(output_dir) / "config.yaml";
  // A unique temp name: several ranks or runs may write the same folder at once.
  const fs::path tmp =
      target.string() + fmt::format(".tmp.{}.{:x}", ::getpid(), std::random_device{}());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << dump_yaml();
    f.flush();
    if (!f) {
      fs::remove(tmp, ec);
      throw Error("cannot write '" + tmp.string() + "'");
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("cannot rename '" + tmp.string() + "' to '" + target.string() + "'");
  }
  return target.string();
}

}  // namespace dfer
