// The effective configuration: typed values of every schema key by canonical "section.key",
// merged from defaults, YAML files and `KEY VALUE` overrides, with strict checks and a canonical
// YAML dump that reloads to the same values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dfer/config/schema.h"

namespace dfer {

class Config {
 public:
  // Every key at its schema default.
  Config();

  // Merges a YAML file into the current values. Keys (sections too) match case-insensitively.
  // Throws dfer::UsageError naming the file and line for: unreadable file, YAML syntax error,
  // unknown section or key (with a "did you mean"), wrong type (key, expected type, value),
  // invalid value (choices, bounds, list length), duplicate key.
  void load_yaml_file(const std::string& path);
  // Same from text; `source` names the text in messages (a path, "<fuzz>", ...). Every yaml-cpp
  // exception is converted to dfer::UsageError.
  void load_yaml_string(const std::string& text, const std::string& source);

  // yacs-style override: `key` is "section.key" (any case), `value` is YAML scalar or flow-list
  // text ("0.01", "[2,2,10]", "true", "null"); string keys also take the raw text verbatim.
  // Throws dfer::UsageError naming the override.
  void apply_override(const std::string& key, const std::string& value);

  // Typed access by "section.key" (any case). An unknown key, a type mismatch or a null where a
  // value is needed throws dfer::Error (a programming error, not a user one). get_float also
  // reads int keys.
  bool get_bool(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::vector<std::int64_t>& get_int_list(const std::string& key) const;
  const std::vector<double>& get_float_list(const std::string& key) const;
  const std::vector<std::string>& get_string_list(const std::string& key) const;
  // Null-aware variants for nullable keys: nullopt when the value is null.
  std::optional<std::int64_t> get_opt_int(const std::string& key) const;
  std::optional<double> get_opt_float(const std::string& key) const;
  std::optional<std::string> get_opt_string(const std::string& key) const;
  std::optional<std::vector<double>> get_opt_float_list(const std::string& key) const;
  bool is_null(const std::string& key) const;
  const config::Value& value(const std::string& key) const;

  // Programmatic setters (tools applying their own flags, runtime-derived values). The value is
  // checked like an override (type, choices, bounds); errors are dfer::UsageError naming the key.
  // They do not mark the key explicit and never warn.
  void set(const std::string& key, config::Value value);
  void set_bool(const std::string& key, bool v) { set(key, config::Value(v)); }
  void set_int(const std::string& key, std::int64_t v) { set(key, config::Value(v)); }
  void set_float(const std::string& key, double v) { set(key, config::Value(v)); }
  void set_string(const std::string& key, const std::string& v) { set(key, config::Value(v)); }

  // True when a file or an override set the key.
  bool is_explicit(const std::string& key) const;

  // Canonical YAML: every section in schema order, every key in lower case (keys with status
  // ignored_upstream only when set), no comments. load_yaml_string(dump_yaml()) on a fresh
  // Config reproduces every value.
  std::string dump_yaml() const;

  // Writes dump_yaml() to `<output_dir>/config.yaml` atomically (temp file + rename); creates the
  // folder. Returns the path written. Throws dfer::Error on I/O failure.
  std::string write_effective(const std::string& output_dir) const;

  // Warnings issued so far (also logged through spdlog as they happen), at most one per key:
  // a no_effect key set to a non-default value, or an ignored_upstream key that is present.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  const config::KeyDef& def(const std::string& key) const;
  const config::Value& get_checked(const std::string& key, std::size_t index,
                                   const char* what) const;
  // Stores a checked value set by a file or override, warns if the key does nothing here.
  void assign_explicit(const config::KeyDef& def, config::Value value);
  void warn_once(const config::KeyDef& def, const std::string& message);

  std::map<std::string, config::Value> values_;
  std::set<std::string> explicit_;
  std::set<std::string> warned_;
  std::vector<std::string> warnings_;
};

}  // namespace dfer
