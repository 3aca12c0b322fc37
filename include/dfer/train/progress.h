// Progress report of a loop: a redrawn bar with rate and ETA on a terminal, plain log lines every
// few seconds otherwise (files, CI), so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dfer::train {

class Progress {
 public:
  // `total` steps (0 = unknown), `label` ("epoch 3/10"), `unit` ("it").
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  // Advances to `done` steps with a status text ("loss 0.5213 lr 3.1e-4").
  void update(int64_t done, const std::string& status = "");
  // Final line (bar completed / summary line).
  void finish(const std::string& status = "");

  // Whether stderr is a terminal (DFER_PROGRESS=plain|bar overrides the detection).
  static bool interactive();

 private:
  void draw(bool final);

  std::string label_, unit_, status_;
  int64_t total_ = 0, done_ = 0;
  bool tty_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// "1:02:03" / "02:03".
std::string format_duration(double seconds);

}  // namespace dfer::train
