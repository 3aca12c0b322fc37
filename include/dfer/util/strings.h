// Small string predicates shared across concerns (the project is C++17: no std::string
// starts_with / ends_with).
#pragma once

#include <string_view>

namespace dfer {

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace dfer
