// yaml-cpp node / override text -> typed schema value, with PyYAML-compatible scalar rules
// (true/True/yes, null/~, ints accepted where floats are expected) and nothing looser.
#include "yaml_value.h"

#include <yaml-cpp/eventhandler.h>

#include <sstream>
#include <vector>

#include "dfer/util/error.h"

namespace dfer::config::detail {
namespace {

// Ignores every event but the start of a document, whose position it records.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Quoted or explicitly !!str-tagged scalars are strings, whatever they look like.
bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

std::string describe(const YAML::Node& node, int depth) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (node.IsScalar()) {
    std::string s = node.Scalar();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    if (is_quoted(node)) return format_string(s);
    return depth == 0 ? "'" + s + "'" : s;  // quote a lone value to delimit it in the message
  }
  if (depth > 2) return "...";
  std::string out = node.IsSequence() ? "[" : "{";
  std::size_t n = 0;
  for (const auto& item : node) {
    if (n++ == 6) {
      out += ", ...";
      break;
    }
    if (n > 1) out += ", ";
    if (node.IsSequence()) {
      out += describe(item, depth + 1);
    } else {
      out += describe(item.first, depth + 1) + ": " + describe(item.second, depth + 1);
    }
  }
  return out + (node.IsSequence() ? "]" : "}");
}

enum class Scalar { kBool, kInt, kFloat, kString };

// One scalar of the given kind; nullopt when the node is not such a scalar.
std::optional<Value> scalar_value(Scalar kind, const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  const std::string& text = node.Scalar();
  if (kind == Scalar::kString) return Value(text);
  if (is_quoted(node)) return std::nullopt;
  switch (kind) {
    case Scalar::kBool:
      if (auto b = parse_bool(text)) return Value(*b);
      break;
    case Scalar::kInt:
      if (auto i = parse_int(text)) return Value(*i);
      break;
    case Scalar::kFloat:
      if (auto f = parse_float(text)) return Value(*f);
      break;
    default:
      break;
  }
  return std::nullopt;
}

template <typename T>
std::optional<Value> list_value(Scalar kind, const YAML::Node& node) {
  if (!node.IsSequence()) return std::nullopt;
  std::vector<T> items;
  for (const auto& item : node) {
    auto v = scalar_value(kind, item);
    if (!v) return std::nullopt;  // (float items accept int text: "[1, 0.5]")
    items.push_back(std::get<T>(*v));
  }
  return Value(std::move(items));
}

}  // namespace

std::string describe_node(const YAML::Node& node) {
  return describe(node, 0);
}

void require_single_document(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts handler;
  // Two documents are enough to decide; more calls could loop forever (see the header).
  for (int i = 0; i < 2 && parser.HandleNextDocument(handler); ++i) {
  }
  const auto& s = handler.starts;
  if (s.size() < 2) return;
  const YAML::Mark& m = s[1];
  const std::string at = source + ":" + std::to_string(m.line + 1);
  if (m.pos == s[0].pos) {
    const char c = m.pos >= 0 && std::size_t(m.pos) < text.size() ? text[std::size_t(m.pos)] : '?';
    throw UsageError(at + ": YAML syntax error: unexpected '" + std::string(1, c) + "'");
  }
  throw UsageError(at + ": expected one YAML document, found another one here");
}

std::optional<Value> node_to_value(const KeyDef& def, const YAML::Node& node, std::string& error) {
  std::optional<Value> v;
  if (!node.IsDefined() || node.IsNull()) {
    if (def.nullable) return Value(std::monostate{});
  } else {
    switch (def.type) {
      case ValueType::kBool:
        v = scalar_value(Scalar::kBool, node);
        break;
      case ValueType::kInt:
        v = scalar_value(Scalar::kInt, node);
        break;
      case ValueType::kFloat:
        v = scalar_value(Scalar::kFloat, node);
        break;
      case ValueType::kString:
        v = scalar_value(Scalar::kString, node);
        break;
      case ValueType::kIntList:
        v = list_value<std::int64_t>(Scalar::kInt, node);
        break;
      case ValueType::kFloatList:
        v = list_value<double>(Scalar::kFloat, node);
        break;
      case ValueType::kStringList:
        v = list_value<std::string>(Scalar::kString, node);
        break;
    }
  }
  if (!v) error = "expected " + type_name(def) + ", got " + describe_node(node);
  return v;
}

std::optional<Value> text_to_value(const KeyDef& def, const std::string& text, std::string& error) {
  YAML::Node node;
  bool parsed = true;
  try {
    require_single_document(text, "override");
    node = YAML::Load(text);
  } catch (const YAML::Exception&) {
    parsed = false;
  } catch (const UsageError&) {
    parsed = false;
  }
  if (def.type == ValueType::kString) {
    // Paths and names are taken verbatim (a shell already split the words), except a null word
    // and a fully quoted YAML scalar ('x y', "a\tb"), which is unquoted.
    if (!text.empty() && is_null_literal(text)) {
      if (def.nullable) return Value(std::monostate{});
      error = "expected " + type_name(def) + ", got null";
      return std::nullopt;
    }
    if (parsed && node.IsScalar() && !text.empty() && (text[0] == '\'' || text[0] == '"'))
      return Value(node.Scalar());
    return Value(text);
  }
  if (!parsed) {
    error = "expected " + type_name(def) + ", got '" + text + "' (not valid YAML)";
    return std::nullopt;
  }
  if (text.empty()) {
    error = "expected " + type_name(def) + ", got an empty value";
    return std::nullopt;
  }
  return node_to_value(def, node, error);
}

}  // namespace dfer::config::detail
