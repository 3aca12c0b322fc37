// Test helpers: where the shared reference fixtures live, the skip-or-fail rule for them, and the
// small file and error helpers the data tests share.
#pragma once

#include <filesystem>
#include <string>

#include "dfer/util/error.h"

namespace dfer::test {

// `$DFER_REFERENCE_FIXTURES`'s parent if set, else `<repo>/../shared/fixtures`.
std::filesystem::path fixtures_root();

// Returns true when `sub` (relative to fixtures_root()) exists. When absent: under CI=true the
// current test fails; otherwise a warning is printed and false is returned (the caller returns).
bool require_fixture(const std::string& sub);

// A fresh empty directory under the build tree's temp area, unique per call.
std::filesystem::path temp_dir(const std::string& tag);

// Path of an executable built into build/bin.
std::string bin(const std::string& name);

// Writes `text` to `p` byte for byte, creating its folder.
void write_file(const std::filesystem::path& p, const std::string& text);

// The bytes of `p`; a missing file fails the current test.
std::string read_file(const std::filesystem::path& p);

// The message of the dfer::UsageError that `f` throws, or "" when it throws none.
template <typename F>
std::string usage_error_of(F&& f) {
  try {
    f();
  } catch (const dfer::UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace dfer::test
