// Logging setup: spdlog to the console and, once an output directory is known, to log.txt in it.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace dfer {

// Console logger with the project pattern; idempotent. Called first thing by every executable.
void init_console_logging(bool verbose = false);

// Adds (or replaces) a file sink writing `<dir>/log.txt` in append mode. Creates `dir`.
void add_log_file(const std::string& dir);

}  // namespace dfer
