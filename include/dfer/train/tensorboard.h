// TensorBoard event-file writer for scalars (`system.log_dir`): TFRecord framing and the few
// protobuf fields of Event / Summary encoded by hand, so the real TensorBoard reads the files
// without TensorFlow or protobuf in the build. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace dfer::train {

class TensorBoardWriter {
 public:
  // Creates `dir` if needed and opens a new file events.out.tfevents.<unix s>.<host>.<pid>.<n>
  // there, starting with the file_version event. One file per writer: TensorBoard reads all the
  // files of a folder as one run, in name order. Throws dfer::Error when the file cannot be made.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One event at `step` holding every (tag, value); values are stored as float32, as TensorBoard's
  // simple_value is.
  void add_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values);
  void add_scalar(const std::string& tag, double value, int64_t step) {
    add_scalars(step, {{tag, value}});
  }
  // A SessionLog START at `step`: a resumed run says where it restarted, and TensorBoard then
  // hides what earlier files logged at that step or later (the killed run's orphaned steps).
  void restart_at(int64_t step);
  // Hands the buffered records to the OS; throws dfer::Error if a write failed.
  void flush();

  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& event);

  std::string path_;
  std::FILE* file_ = nullptr;
};

// CRC-32C (Castagnoli) as TFRecord frames use it; exposed for the tests.
uint32_t crc32c(const void* data, std::size_t size);

}  // namespace dfer::train
