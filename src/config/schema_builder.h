// Private helper for the key tables (schema_keys_*.cpp): a terse, chainable way to declare keys,
// so that each key stays one readable statement.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "dfer/config/schema.h"

namespace dfer::config::detail {

// Refers to the key just appended; valid until the next key is added (used within one statement).
class KeyBuilder {
 public:
  explicit KeyBuilder(KeyDef& def) : def_(def) {}
  KeyBuilder& nullable() { return def_.nullable = true, *this; }
  KeyBuilder& no_effect() { return def_.status = KeyStatus::kNoEffect, *this; }
  KeyBuilder& ignored_upstream() { return def_.status = KeyStatus::kIgnoredUpstream, *this; }
  KeyBuilder& choices(std::initializer_list<const char*> c) {
    for (const char* s : c) def_.choices.emplace_back(s);
    return *this;
  }
  KeyBuilder& alias(const char* from, const char* to) {
    def_.value_aliases.emplace_back(from, to);
    return *this;
  }
  KeyBuilder& min(double v) { return def_.min = v, *this; }
  KeyBuilder& range(double lo, double hi) { return def_.min = lo, def_.max = hi, *this; }
  KeyBuilder& len(std::size_t n) { return def_.list_len = n, *this; }
  KeyBuilder& device() { return def_.device_string = true, *this; }

 private:
  KeyDef& def_;
};

// Appends keys of one section.
class SectionAdder {
 public:
  SectionAdder(std::vector<KeyDef>& out, std::string section)
      : out_(out), section_(std::move(section)) {}

  KeyBuilder b(const char* name, bool def, const char* help) {
    return add(name, ValueType::kBool, Value(def), help);
  }
  KeyBuilder i(const char* name, std::int64_t def, const char* help) {
    return add(name, ValueType::kInt, Value(def), help);
  }
  KeyBuilder f(const char* name, double def, const char* help) {
    return add(name, ValueType::kFloat, Value(def), help);
  }
  KeyBuilder s(const char* name, const char* def, const char* help) {
    return add(name, ValueType::kString, Value(std::string(def)), help);
  }
  KeyBuilder il(const char* name, std::vector<std::int64_t> def, const char* help) {
    return add(name, ValueType::kIntList, Value(std::move(def)), help);
  }
  KeyBuilder fl(const char* name, std::vector<double> def, const char* help) {
    return add(name, ValueType::kFloatList, Value(std::move(def)), help);
  }
  KeyBuilder sl(const char* name, std::vector<std::string> def, const char* help) {
    return add(name, ValueType::kStringList, Value(std::move(def)), help);
  }
  // A nullable key whose default is null (upstream None).
  KeyBuilder none(const char* name, ValueType type, const char* help) {
    return add(name, type, Value(std::monostate{}), help).nullable();
  }

 private:
  KeyBuilder add(const char* name, ValueType type, Value def, const char* help) {
    KeyDef d;
    d.section = section_;
    d.name = name;
    d.type = type;
    d.default_value = std::move(def);
    d.help = help;
    out_.push_back(std::move(d));
    return KeyBuilder(out_.back());
  }

  std::vector<KeyDef>& out_;
  std::string section_;
};

}  // namespace dfer::config::detail
