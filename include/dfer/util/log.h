// Logging setup: spdlog to the console and, once an output directory is known, to train.log in it.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace dfer {

// Console logger with the project pattern; idempotent. Called first thing by every executable.
void init_console_logging(bool verbose = false);

// The human log's name in an output folder. log.txt is the reference's JSON-lines epoch log
// (train/original_log.h), which analysis scripts of the original code parse.
inline constexpr const char* kHumanLogName = "train.log";

// Adds (or replaces) a file sink writing `<dir>/train.log` in append mode. Creates `dir`.
void add_log_file(const std::string& dir);

}  // namespace dfer
