// Terminal progress bar / periodic progress lines (see progress.h).
#include "dfer/train/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

namespace dfer::train {

namespace {
constexpr double kPlainPeriodSeconds = 10.0;  // one line per 10 s when not a terminal
constexpr double kBarPeriodSeconds = 0.2;
}  // namespace

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e8) return "--:--";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  return buf;
}

bool Progress::interactive() {
  // A quiet process (ranks other than 0 log warnings only) draws no bar either.
  if (!spdlog::should_log(spdlog::level::info)) return false;
  if (const char* v = std::getenv("DFER_PROGRESS")) {
    if (std::strcmp(v, "plain") == 0) return false;
    if (std::strcmp(v, "bar") == 0) return true;
  }
  return ::isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(interactive()) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_ && tty_ && done_ > 0) std::fputc('\n', stderr);
}

void Progress::update(int64_t done, const std::string& status) {
  done_ = done;
  status_ = status;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (since < (tty_ ? kBarPeriodSeconds : kPlainPeriodSeconds)) return;
  last_ = now;
  draw(false);
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  if (!status.empty()) status_ = status;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = (total_ > 0 && rate > 0) ? static_cast<double>(total_ - done_) / rate : -1.0;
  char counts[96];
  if (total_ > 0)
    std::snprintf(counts, sizeof counts, "%lld/%lld", static_cast<long long>(done_),
                  static_cast<long long>(total_));
  else
    std::snprintf(counts, sizeof counts, "%lld", static_cast<long long>(done_));
  char tail[128];
  std::snprintf(tail, sizeof tail, "%.2f %s/s, %s elapsed, ETA %s", rate, unit_.c_str(),
                format_duration(elapsed).c_str(), final ? "00:00" : format_duration(eta).c_str());
  if (tty_) {
    std::string bar;
    if (total_ > 0) {
      const int width = 24;
      const int filled = static_cast<int>(width * done_ / std::max<int64_t>(total_, 1));
      bar = "[" + std::string(static_cast<size_t>(filled), '#') +
            std::string(static_cast<size_t>(width - filled), '.') + "] ";
    }
    std::fprintf(stderr, "\r\033[K%s %s%s %s %s", label_.c_str(), bar.c_str(), counts, tail,
                 status_.c_str());
    if (final) std::fputc('\n', stderr);
    std::fflush(stderr);
  } else {
    spdlog::info("{} {} ({}) {}", label_, counts, tail, status_);
  }
}

}  // namespace dfer::train
