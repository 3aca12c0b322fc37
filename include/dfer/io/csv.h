// Annotation lists as the original uses them: space-separated rows without a header,
// `path label` (emotion, pre-training with a dummy 0) or `path label pitch yaw` (combine).
// Torch-free (also built alone for fuzzing).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dfer::io {

struct AnnotationRow {
  std::string path;
  int label = 0;
  std::optional<float> pitch, yaw;  // radians; set for `path label pitch yaw` rows
  std::size_t line = 0;             // 1-based line in the source
};

enum class AnnotationColumns {
  kLabel,          // every row is `path label`
  kLabelPitchYaw,  // every row is `path label pitch yaw`
  kGaze,           // `path pitch yaw` (label 0) or `path class pitch yaw` (sequence CSVs)
  kAny,            // `path label` or `path label pitch yaw`, the same for every row of a file
};

// Reads an annotation file. Fields are separated by runs of spaces/tabs; blank lines are skipped;
// CRLF line ends and a UTF-8 BOM are tolerated. num_classes > 0 requires 0 <= label < num_classes
// (labels are never negative). Labels may be written as integral floats ("3.0", as pandas does).
// Errors are dfer::UsageError naming file:line and the problem: unreadable file, bad column count,
// non-integer label, label out of range, non-finite or out-of-range pitch/yaw (radians, |pitch| <=
// pi/2, |yaw| <= pi: dfer::gaze_label_problem). An empty file gives no rows.
std::vector<AnnotationRow> read_annotations(const std::string& path, int num_classes,
                                            AnnotationColumns expected = AnnotationColumns::kAny);

// Same on text already in memory; `source` names it in messages (used by fuzzing and tests).
std::vector<AnnotationRow> parse_annotations(std::string_view text, const std::string& source,
                                             int num_classes,
                                             AnnotationColumns expected = AnnotationColumns::kAny);

}  // namespace dfer::io
