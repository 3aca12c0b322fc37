// The config schema: one registry declaring every key (section, name, type, default, one line of
// help, status), plus the value type and the scalar/list parsers shared by files and overrides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace dfer::config {

enum class ValueType { kBool, kInt, kFloat, kString, kIntList, kFloatList, kStringList };

// A config value. std::monostate is YAML `null` (only legal for nullable keys).
using Value =
    std::variant<std::monostate, bool, std::int64_t, double, std::string, std::vector<std::int64_t>,
                 std::vector<double>, std::vector<std::string>>;

// What dfer does with a key. Upstream keys that dfer ignores stay accepted so that the original
// YAML files load unchanged, but the user is told once that they do nothing here.
enum class KeyStatus {
  kActive,    // read by dfer
  kNoEffect,  // exists upstream but is unused here: warns once when set to a non-default value
  kIgnoredUpstream,  // appears in upstream YAMLs but upstream silently dropped it: warns once when
                     // present, and is only dumped when it was set
};

struct KeyDef {
  std::string section;  // lower case, e.g. "model"
  std::string name;     // lower case, e.g. "lg_region_size"
  ValueType type = ValueType::kString;
  bool nullable = false;  // YAML null allowed (upstream None)
  Value default_value;
  std::string help;
  KeyStatus status = KeyStatus::kActive;
  std::vector<std::string> choices;  // allowed strings (empty: any); also applied to list items
  std::vector<std::pair<std::string, std::string>> value_aliases;  // accepted -> canonical
  std::optional<double> min, max;  // inclusive bounds for numbers (and list items)
  std::size_t list_len = 0;        // required list length (0: any)
  bool device_string = false;      // value must be auto | cpu | cuda | cuda:N

  std::string full_name() const { return section + "." + name; }
};

// Section names in canonical (dump) order.
const std::vector<std::string>& sections();
bool is_section(std::string_view name);  // case-insensitive

// Every declared key, sections in canonical order, keys in declaration order.
const std::vector<KeyDef>& all_keys();

// Case-insensitive lookup of "section.key"; nullptr when unknown.
const KeyDef* find_key(std::string_view full_name);

// The closest declared key to a misspelt one ("" when nothing is close), for "did you mean".
std::string suggest_key(std::string_view full_name);

std::string to_lower(std::string_view s);

// "int", "float or null", "list of 3 ints", ...
std::string type_name(const KeyDef& def);

// Checks choices, bounds, list length and device format; "" when fine, else the problem.
// Applies value aliases first (so "class" becomes "classification").
std::string check_and_normalize(const KeyDef& def, Value& value);

// Canonical YAML rendering of a value (flow lists, shortest round-trip floats, quoted strings
// where a plain scalar would be misread). Used by dump and by error messages.
std::string format_value(const Value& value);
std::string format_string(const std::string& s);
std::string format_float(double v);

bool values_equal(const Value& a, const Value& b);

// Strict scalar parsers for plain YAML scalars; nullopt when the text is not of that type.
// Integers accept an integral float ("16.0") since that is lossless; floats must be finite.
std::optional<bool> parse_bool(std::string_view text);
std::optional<std::int64_t> parse_int(std::string_view text);
std::optional<double> parse_float(std::string_view text);
bool is_null_literal(std::string_view text);

namespace detail {
// The raw key table (schema_keys_*.cpp), one function per group of sections.
void add_model_keys(std::vector<KeyDef>& out);
void add_data_keys(std::vector<KeyDef>& out);
void add_training_keys(std::vector<KeyDef>& out);
void add_system_keys(std::vector<KeyDef>& out);
}  // namespace detail

}  // namespace dfer::config
