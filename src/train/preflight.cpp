// Pre-training checks of lists, clips and sizes (see preflight.h).
#include "dfer/train/preflight.h"

#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "dfer/data/frame_source.h"
#include "dfer/data/shard.h"
#include "dfer/io/csv.h"
#include "dfer/train/data_setup.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::train {

namespace {

void check_list(const Config& cfg, data::ClipMode mode, const char* split,
                const PreflightOptions& o, std::vector<std::string>& problems) {
  std::string file;
  try {
    file = annotation_file(cfg, mode);
  } catch (const std::exception& e) {
    problems.push_back(fmt::format("{} list: {}", split, e.what()));
    return;
  }
  std::vector<io::AnnotationRow> rows;
  try {
    rows = io::read_annotations(file, static_cast<int>(cfg.get_int("data.num_classes")));
  } catch (const std::exception& e) {
    problems.push_back(fmt::format("{} list: {}", split, e.what()));
    return;
  }
  if (rows.empty()) problems.push_back(fmt::format("{} list: {}: no clips listed", split, file));
  int64_t missing = 0;
  for (const auto& r : rows) {
    if (fs::exists(data::resolve_clip_path(file, r.path))) continue;
    if (++missing <= o.max_listed)
      problems.push_back(fmt::format("{}:{}: clip '{}' does not exist", file, r.line, r.path));
  }
  if (missing > o.max_listed)
    problems.push_back(fmt::format("{}: {} more missing clips ({} of {} rows)", file,
                                   missing - o.max_listed, missing, rows.size()));
}

}  // namespace

std::vector<std::string> preflight_problems(const Config& cfg, const models::ModelSpec& spec,
                                            const PreflightOptions& o) {
  std::vector<std::string> problems;
  // The test views are resized to short_side_size and centre-cropped to the model's input.
  const int64_t side = cfg.get_int("data.short_side_size");
  if (o.test && side < spec.img_size)
    problems.push_back(fmt::format(
        "data.short_side_size {} is smaller than the model's input size {} (model.input_size): "
        "the test crop would not fit; set data.short_side_size >= {}",
        side, spec.img_size, spec.img_size));
  const fs::path root(cfg.get_string("data.data_path"));
  if (!root.empty() && fs::is_regular_file(root / data::kPackIndexName)) {
    // Packs: the clips are inside; make_clip_dataset checks their labels.
    return problems;
  }
  if (o.train) check_list(cfg, data::ClipMode::kTrain, "training", o, problems);
  if (o.validation) check_list(cfg, data::ClipMode::kValidation, "validation", o, problems);
  if (o.test) check_list(cfg, data::ClipMode::kTest, "test", o, problems);
  return problems;
}

void preflight_or_throw(const Config& cfg, const models::ModelSpec& spec,
                        const PreflightOptions& options) {
  const auto problems = preflight_problems(cfg, spec, options);
  if (problems.empty()) return;
  std::string msg =
      fmt::format("the run cannot start: {} problem(s) found before training:", problems.size());
  for (const auto& p : problems) msg += "\n  " + p;
  throw UsageError(msg);
}

}  // namespace dfer::train
