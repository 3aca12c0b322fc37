// libFuzzer target for the config loader: YAML text goes through the same path as a file, every
// failure must surface as dfer::Error (any other exception aborts the run), and an accepted
// config must dump to YAML that reloads to the identical dump. The first byte also picks a key
// for which the rest of the input is tried as a `KEY VALUE` override.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dfer/config/config.h"
#include "dfer/util/error.h"

namespace {

// The dump of an accepted config must reload, and reload to the same text.
void check_round_trip(const dfer::Config& cfg) {
  const std::string dump = cfg.dump_yaml();
  dfer::Config again;
  again.load_yaml_string(dump, "<dump>");  // throwing here is a bug: let it abort
  if (again.dump_yaml() != dump) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // no-effect warnings would flood the output
    return true;
  }();
  (void)quiet;
  const std::string text(reinterpret_cast<const char*>(data), size);

  dfer::Config cfg;
  bool loaded = true;
  try {
    cfg.load_yaml_string(text, "<fuzz>");
  } catch (const dfer::Error&) {
    loaded = false;
  }
  if (loaded) check_round_trip(cfg);

  if (size > 0) {
    const auto& keys = dfer::config::all_keys();
    const std::string key = keys[data[0] % keys.size()].full_name();
    dfer::Config over;
    try {
      over.apply_override(key, text.substr(1));
    } catch (const dfer::Error&) {
      return 0;
    }
    check_round_trip(over);
  }
  return 0;
}
