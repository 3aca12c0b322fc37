// Fixture discovery for tests (see fixtures.h).
#include "support/fixtures.h"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace dfer::test {

std::filesystem::path fixtures_root() {
  if (const char* env = std::getenv("DFER_REFERENCE_FIXTURES"); env && *env)
    return std::filesystem::path(env).parent_path();
  return std::filesystem::path(DFER_SOURCE_DIR) / ".." / "shared" / "fixtures";
}

bool require_fixture(const std::string& sub) {
  auto p = fixtures_root() / sub;
  if (sub.rfind("reference", 0) == 0) {
    if (const char* env = std::getenv("DFER_REFERENCE_FIXTURES"); env && *env)
      p = std::filesystem::path(env) / sub.substr(std::string("reference").size());
  }
  if (std::filesystem::exists(p)) return true;
  const char* ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") {
    FAIL("reference fixture missing under CI=true: " << p.string());
  }
  WARN("skipping: fixture not found: " << p.string());
  return false;
}

std::filesystem::path temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto base = std::filesystem::path(DFER_BIN_DIR).parent_path() / "test-tmp";
  auto dir = base / (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string bin(const std::string& name) {
  return std::string(DFER_BIN_DIR) + "/" + name;
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace dfer::test
