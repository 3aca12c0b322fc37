// Private: conversion of yaml-cpp nodes and override text into typed schema values.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

#include "dfer/config/schema.h"

namespace dfer::config::detail {

// Converts `node` to a value of `def`'s type. On a type mismatch returns nullopt and sets `error`
// to "expected <type>, got <value>". Does not check choices/bounds (check_and_normalize does).
std::optional<Value> node_to_value(const KeyDef& def, const YAML::Node& node, std::string& error);

// Converts override text: parsed as YAML (scalar or flow list); string keys fall back to the raw
// text when it is not a plain YAML scalar (paths with ':' or '#', ...).
std::optional<Value> text_to_value(const KeyDef& def, const std::string& text, std::string& error);

// Throws dfer::UsageError unless `text` holds at most one YAML document. Also catches stray
// tokens that yaml-cpp 0.7 skips without consuming (", 2]" parses as an endless run of empty
// documents: YAML::LoadAll never returns and YAML::Load yields null).
void require_single_document(const std::string& text, const std::string& source);

// Short rendering of a node for messages (depth- and length-limited: nodes may be cyclic).
std::string describe_node(const YAML::Node& node);

}  // namespace dfer::config::detail
