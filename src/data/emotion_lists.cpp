// Emotion dataset lists (dataset_lists.h): the DFEW, FERV39k and MAFW label files in their official
// layouts and formats, read into label rows for the shared driver (dataset_lists.cpp).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "dataset_lists_internal.h"
#include "dfer/data/dataset_lists.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::data {

using detail::LabelRow;
using detail::ListSpec;
using detail::where;

namespace {

constexpr int kFolds = 5;  // DFEW and MAFW

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An integer written as text (also an integral float such as "3.0", as pandas may write a label
// column), or nullopt.
std::optional<int64_t> integer(std::string_view text) {
  const auto v = detail::finite_number(text);
  if (!v || *v != std::floor(*v) || std::abs(*v) > 1e15) return std::nullopt;
  return static_cast<int64_t>(*v);
}

// Sets `row.label` from a class name (any case: the index order is what matters) or, where
// `allow_index`, a 0-based class index; else says in `row.bad` why not.
void set_named_label(LabelRow& row, const std::string& text,
                     const std::vector<std::string>& classes, bool allow_index) {
  for (std::size_t k = 0; k < classes.size(); ++k) {
    if (lower(classes[k]) == lower(text)) {
      row.label = static_cast<int>(k);
      return;
    }
  }
  const auto v = allow_index ? integer(text) : std::nullopt;
  if (v && *v >= 0 && *v < static_cast<int64_t>(classes.size())) {
    row.label = static_cast<int>(*v);
  } else if (v) {
    row.bad = fmt::format("label {} is not in 0..{}", *v, classes.size() - 1);
  } else {
    row.bad = "unknown label '" + text + "'";
  }
}

// The comma-separated fields of a DFEW line, trimmed of blanks and of the quotes pandas removes.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream split(line);
  for (std::string f; std::getline(split, f, ',');) {
    const auto b = f.find_first_not_of(" \t\""), e = f.find_last_not_of(" \t\"");
    fields.push_back(b == std::string::npos ? "" : f.substr(b, e - b + 1));
  }
  return fields;
}

// One DFEW set_<k>.csv as pandas reads it: a header naming (at least) the columns video_name and
// label, then one comma-separated row per clip; the label counts from 1.
std::vector<LabelRow> read_dfew(const fs::path& path, const fs::path& clips) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read label file '" + file + "'");
  const auto num_classes = static_cast<int64_t>(dfew_classes().size());
  std::vector<LabelRow> rows;
  std::size_t header = 0, video_col = 0, label_col = 0, columns = 0;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (n == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 BOM
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto f = csv_fields(line);
    if (std::all_of(f.begin(), f.end(), [](const auto& x) { return x.empty(); })) continue;
    if (header == 0) {
      const auto col = [&](const char* name) {
        return static_cast<std::size_t>(std::find(f.begin(), f.end(), name) - f.begin());
      };
      header = n, columns = f.size(), video_col = col("video_name"), label_col = col("label");
      if (video_col == columns || label_col == columns)
        throw UsageError(where(file, n) + "expected a header naming the columns video_name and " +
                         "label, found '" + line + "'");
      continue;
    }
    if (f.size() != columns)
      throw UsageError(where(file, n) + fmt::format("expected {} comma-separated columns as in "
                                                    "the header, found {}",
                                                    columns, f.size()));
    const auto video = integer(f[video_col]);
    if (!video || *video < 0)
      throw UsageError(where(file, n) + "video_name '" + f[video_col] + "' is not a clip number");
    LabelRow r{n, f[video_col], clips / fmt::format("{:05d}", *video), -1, ""};
    const auto label = integer(f[label_col]);
    if (label && *label >= 1 && *label <= num_classes) {
      r.label = static_cast<int>(*label - 1);
    } else {
      r.bad = fmt::format("label '{}' is not in 1..{}", f[label_col], num_classes);
    }
    rows.push_back(std::move(r));
  }
  if (in.bad()) throw UsageError("cannot read label file '" + file + "'");
  return rows;
}

// FERV39k and MAFW label files: `<clip> <label>` rows, space-separated, no header. `clip_of` maps
// the first column to the clip folder, or to an empty path when it names none.
template <typename ClipOf>
std::vector<LabelRow> read_named(const fs::path& path, const std::vector<std::string>& classes,
                                 const ClipOf& clip_of, bool allow_index) {
  const std::string file = path.string();
  std::vector<LabelRow> rows;
  detail::for_each_row(file, [&](std::size_t n, const std::vector<std::string>& f) {
    if (f.size() != 2)
      throw UsageError(where(file, n) + "expected 2 columns (clip, label), found " +
                       std::to_string(f.size()));
    fs::path clip = clip_of(f[0]);
    if (clip.empty()) throw UsageError(where(file, n) + "'" + f[0] + "' names no clip");
    LabelRow r{n, f[0], std::move(clip), -1, ""};
    set_named_label(r, f[1], classes, allow_index);
    rows.push_back(std::move(r));
  });
  return rows;
}

// The lists of one fold folder; val.csv copies test.csv, as the reference's val is its test set.
void add_fold(std::vector<ListSpec>& specs, const std::string& dir, fs::path train, fs::path test) {
  specs.push_back({dir + "/train.csv", std::move(train), ""});
  specs.push_back({dir + "/test.csv", std::move(test), ""});
  specs.push_back({dir + "/val.csv", {}, dir + "/test.csv"});
}

}  // namespace

DatasetListSummary build_dfew_lists(const DatasetListOptions& o) {
  const fs::path root = detail::dataset_root("dfew", o);
  const fs::path split = root / "EmoLabel_DataSplit", clips = root / "Clip" / "jpg_256";
  std::vector<ListSpec> specs;
  for (int k = 1; k <= kFolds; ++k) {
    const std::string set = fmt::format("set_{}.csv", k);
    add_fold(specs, fmt::format("split0{}", k), split / "train(single-labeled)" / set,
             split / "test(single-labeled)" / set);
  }
  return detail::build_lists(
      "dfew", o, dfew_classes(), specs,
      "<root>/EmoLabel_DataSplit/{train,test}(single-labeled)/set_<1..5>.csv",
      [&](const fs::path& file) { return read_dfew(file, clips); });
}

DatasetListSummary build_ferv39k_lists(const DatasetListOptions& o) {
  const fs::path root = detail::dataset_root("ferv39k", o);
  const fs::path setup = root / "4_setups" / "All_scenes", clips = root / "2_ClipsforFaceCrop";
  std::vector<ListSpec> specs;
  add_fold(specs, "all_scenes", setup / "train_All.csv", setup / "test_All.csv");
  // A clip path stays inside 2_ClipsforFaceCrop: an absolute or escaping one names no clip.
  const auto clip_of = [&](const std::string& rel) {
    const fs::path p = fs::path(rel).lexically_normal();
    if (p.is_absolute() || p.empty() || *p.begin() == ".." || *p.begin() == ".") return fs::path();
    return clips / p;
  };
  return detail::build_lists(
      "ferv39k", o, dfew_classes(), specs, "<root>/4_setups/All_scenes/{train,test}_All.csv",
      [&](const fs::path& file) { return read_named(file, dfew_classes(), clip_of, false); });
}

DatasetListSummary build_mafw_lists(const DatasetListOptions& o) {
  const fs::path root = detail::dataset_root("mafw", o);
  const fs::path split = root / "split" / "single" / "no_caption";
  const fs::path clips = root / "data" / "frames";
  std::vector<ListSpec> specs;
  for (int k = 1; k <= kFolds; ++k) {
    const fs::path set = split / fmt::format("set_{}", k);
    add_fold(specs, fmt::format("single/split0{}", k), set / "train.txt", set / "test.txt");
  }
  // The reference keeps the file name up to its first '.' ("00025.mp4" -> "00025").
  const auto clip_of = [&](const std::string& video) {
    const std::string name = video.substr(0, video.find('.'));
    if (name.empty() || name.find('/') != std::string::npos) return fs::path();
    return clips / name;
  };
  return detail::build_lists(
      "mafw", o, mafw_classes(), specs,
      "<root>/split/single/no_caption/set_<1..5>/{train,test}.txt",
      [&](const fs::path& file) { return read_named(file, mafw_classes(), clip_of, true); });
}

}  // namespace dfer::data
