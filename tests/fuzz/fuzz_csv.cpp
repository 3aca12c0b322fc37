// libFuzzer target for the annotation reader: byte 0 picks num_classes (0..15), byte 1 the
// expected columns, the rest is the file. Every failure must be a dfer::Error and every accepted
// row must satisfy the documented guarantees.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfer/io/csv.h"
#include "dfer/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int num_classes = data[0] % 16;
  const auto columns = static_cast<dfer::io::AnnotationColumns>(data[1] % 3);
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  std::vector<dfer::io::AnnotationRow> rows;
  try {
    rows = dfer::io::parse_annotations(text, "<fuzz>", num_classes, columns);
  } catch (const dfer::Error&) {
    return 0;
  }
  std::size_t last_line = 0;
  for (const auto& r : rows) {
    if (r.path.empty() || r.path.find_first_of(" \t\n") != std::string::npos) std::abort();
    if (r.label < 0 || (num_classes > 0 && r.label >= num_classes)) std::abort();
    if (r.pitch.has_value() != r.yaw.has_value()) std::abort();
    if (r.pitch && (!std::isfinite(*r.pitch) || !std::isfinite(*r.yaw))) std::abort();
    if (r.line <= last_line) std::abort();
    last_line = r.line;
  }
  return 0;
}
