// spdlog wiring: one default logger with a console sink and an optional train.log sink.
#include "dfer/util/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <filesystem>

#include "dfer/util/error.h"

namespace dfer {
namespace {
constexpr const char* kPattern = "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v";
}

void init_console_logging(bool verbose) {
  // Log to stderr so that machine-readable output (--dump-config, summaries) owns stdout.
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("dfer", console);
  logger->set_pattern(kPattern);
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

void add_log_file(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create output directory '" + dir + "': " + ec.message());
  auto logger = spdlog::default_logger();
  auto& sinks = logger->sinks();
  // Replace an earlier file sink so a logger is never attached to two output directories.
  sinks.erase(std::remove_if(sinks.begin(), sinks.end(),
                             [](const spdlog::sink_ptr& s) {
                               return dynamic_cast<spdlog::sinks::basic_file_sink_mt*>(s.get());
                             }),
              sinks.end());
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(dir + "/" + kHumanLogName, false);
  file->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  sinks.push_back(file);
  logger->flush_on(spdlog::level::info);
}

}  // namespace dfer
