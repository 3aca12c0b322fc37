// Config: typed getters. A wrong key or type here is a programming error in dfer itself, so it
// raises a runtime dfer::Error rather than a usage error.
#include <string>

#include "dfer/config/config.h"
#include "dfer/util/error.h"

namespace dfer {

using config::Value;

const config::KeyDef& Config::def(const std::string& key) const {
  const config::KeyDef* d = config::find_key(key);
  if (!d) throw Error("no config key '" + key + "' in the schema");
  return *d;
}

const Value& Config::value(const std::string& key) const {
  return values_.at(def(key).full_name());
}

bool Config::is_null(const std::string& key) const {
  return std::holds_alternative<std::monostate>(value(key));
}

const Value& Config::get_checked(const std::string& key, std::size_t index,
                                 const char* what) const {
  const Value& v = value(key);
  if (v.index() == index) return v;
  if (std::holds_alternative<std::monostate>(v))
    throw Error("config key '" + def(key).full_name() + "' is null; read it with get_opt_*");
  throw Error("config key '" + def(key).full_name() + "' is a " + config::type_name(def(key)) +
              ", not a " + what);
}

namespace {
// The variant index that holds T (the alternatives are distinct, so this is unambiguous).
template <typename T>
std::size_t index_of() {
  static const std::size_t index = Value(T{}).index();
  return index;
}
}  // namespace

bool Config::get_bool(const std::string& key) const {
  return std::get<bool>(get_checked(key, index_of<bool>(), "bool"));
}

std::int64_t Config::get_int(const std::string& key) const {
  return std::get<std::int64_t>(get_checked(key, index_of<std::int64_t>(), "int"));
}

double Config::get_float(const std::string& key) const {
  const Value& v = value(key);
  if (auto* i = std::get_if<std::int64_t>(&v)) return double(*i);
  return std::get<double>(get_checked(key, index_of<double>(), "float"));
}

const std::string& Config::get_string(const std::string& key) const {
  return std::get<std::string>(get_checked(key, index_of<std::string>(), "string"));
}

const std::vector<std::int64_t>& Config::get_int_list(const std::string& key) const {
  return std::get<std::vector<std::int64_t>>(
      get_checked(key, index_of<std::vector<std::int64_t>>(), "list of ints"));
}

const std::vector<double>& Config::get_float_list(const std::string& key) const {
  return std::get<std::vector<double>>(
      get_checked(key, index_of<std::vector<double>>(), "list of floats"));
}

const std::vector<std::string>& Config::get_string_list(const std::string& key) const {
  return std::get<std::vector<std::string>>(
      get_checked(key, index_of<std::vector<std::string>>(), "list of strings"));
}

std::optional<std::int64_t> Config::get_opt_int(const std::string& key) const {
  if (is_null(key)) return std::nullopt;
  return get_int(key);
}

std::optional<double> Config::get_opt_float(const std::string& key) const {
  if (is_null(key)) return std::nullopt;
  return get_float(key);
}

std::optional<std::string> Config::get_opt_string(const std::string& key) const {
  if (is_null(key)) return std::nullopt;
  return get_string(key);
}

std::optional<std::vector<double>> Config::get_opt_float_list(const std::string& key) const {
  if (is_null(key)) return std::nullopt;
  return get_float_list(key);
}

}  // namespace dfer
