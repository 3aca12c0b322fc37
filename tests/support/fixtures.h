// Test helpers: where the shared reference fixtures live, and the skip-or-fail rule for them.
#pragma once

#include <filesystem>
#include <string>

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

}  // namespace dfer::test
