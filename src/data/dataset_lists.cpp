// Dataset lists (dataset_lists.h): the driver the dfew, ferv39k and mafw jobs share (root and frame
// checks, skip rules, all-or-nothing writing), the class tables and the printed summary. The label
// file formats are read in emotion_lists.cpp, the VoxCeleb2 videos found in voxceleb2_list.cpp.
#include "dfer/data/dataset_lists.h"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <unordered_map>
#include <utility>

#include "dataset_lists_internal.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::data {

const std::vector<std::string>& dfew_classes() {
  static const std::vector<std::string> names = {"Happy",    "Sad",     "Neutral", "Angry",
                                                 "Surprise", "Disgust", "Fear"};
  return names;
}

const std::vector<std::string>& mafw_classes() {
  static const std::vector<std::string> names = {
      "anger",    "disgust",  "fear",    "happiness",    "neutral",       "sadness",
      "surprise", "contempt", "anxiety", "helplessness", "disappointment"};
  return names;
}

namespace detail {

bool has_space(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

fs::path dataset_root(const char* job, const DatasetListOptions& o, bool spaces_ok) {
  if (o.root.empty()) throw UsageError(std::string(job) + ": give --root DATASET_DIR");
  if (o.out_dir.empty()) throw UsageError(std::string(job) + ": give --out DIR");
  std::error_code ec;
  if (!fs::is_directory(o.root, ec))
    throw UsageError(fmt::format("{}: --root '{}' is not a folder", job, o.root));
  const fs::path root = fs::absolute(o.root).lexically_normal();
  if (!spaces_ok && has_space(root.string()))
    throw UsageError(fmt::format(
        "{}: the dataset path '{}' contains whitespace, which the space-separated lists "
        "cannot hold",
        job, root.string()));
  return root;
}

std::vector<fs::path> visible_entries(const char* job, const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind('.', 0) != 0) found.push_back(it->path());
  }
  if (ec) throw Error(std::string(job) + ": cannot list '" + dir.string() + "': " + ec.message());
  std::sort(found.begin(), found.end());
  return found;
}

// The frame sources' rule (frame_source.h): a folder with at least one .jpg/.jpeg/.png file, any
// case. Only the names are looked at: decoding every frame of 40k clips is dfer-prep pack's job.
std::string clip_problem(const fs::path& folder) {
  std::error_code ec;
  const auto status = fs::status(folder, ec);
  if (!fs::exists(status)) return "clip folder not found";
  if (!fs::is_directory(status)) return "clip path is not a folder";
  fs::directory_iterator it(folder, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string ext = it->path().extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::error_code type_ec;
    if ((ext == ".jpg" || ext == ".jpeg" || ext == ".png") && it->is_regular_file(type_ec))
      return "";
  }
  if (ec) return "cannot list the clip folder: " + ec.message();
  return "no .jpg/.jpeg/.png frames in the clip folder";
}

// Every list is built in memory first, then all are written: a bad row in the last label file
// leaves no half-updated set of lists behind.
DatasetListSummary build_lists(const char* job, const DatasetListOptions& o,
                               const std::vector<std::string>& classes,
                               const std::vector<ListSpec>& specs, const char* layout,
                               const LabelParser& parse) {
  for (const auto& spec : specs) {  // all missing files are found before any work is done
    std::error_code ec;
    if (!spec.label_file.empty() && !fs::is_regular_file(spec.label_file, ec))
      throw UsageError(
          fmt::format("{}: label file '{}' not found (expected the official layout {})", job,
                      spec.label_file.string(), layout));
  }
  DatasetListSummary s{job, classes, 0, {}, {}};
  std::vector<std::pair<fs::path, std::string>> out;  // parallel to s.lists
  std::map<std::string, std::size_t> built;           // list name -> index in out
  for (const auto& spec : specs) {
    if (!spec.copy_of.empty()) {
      const std::size_t from = built.at(spec.copy_of);
      out.emplace_back(fs::path(o.out_dir) / spec.list, out[from].second);
      s.lists.push_back(s.lists[from]);
      s.lists.back().list = spec.list;
      s.lists.back().copy_of = spec.copy_of;
      continue;
    }
    const std::string file = spec.label_file.string();
    ListCounts counts{spec.list, 0, std::vector<int64_t>(classes.size(), 0), ""};
    const std::vector<LabelRow> rows = parse(spec.label_file);
    std::unordered_map<std::string, const LabelRow*> seen;  // clip -> its first well-labelled row
    std::string text;
    for (const LabelRow& r : rows) {
      ++s.rows;
      const std::string clip = r.clip.generic_string();
      std::string bad = r.bad;
      if (bad.empty()) {
        // The reference collects rows in a dict, so a clip is listed once: a repeat with the same
        // label is harmless, one with another label is a labelling conflict.
        const auto [first, fresh] = seen.emplace(clip, &r);
        if (!fresh && first->second->label == r.label) {
          s.skipped.push_back(
              {file, r.line, r.item, fmt::format("duplicate of line {}", first->second->line)});
          continue;
        }
        if (!fresh)
          bad = fmt::format("clip listed again with another label (line {})", first->second->line);
      }
      if (!bad.empty()) {
        if (!o.skip_bad)
          throw UsageError(where(file, r.line) + bad +
                           fmt::format(" (the classes in index order: {}; --skip-bad skips such "
                                       "rows)",
                                       fmt::join(classes, ", ")));
        s.skipped.push_back({file, r.line, r.item, bad});
        continue;
      }
      if (o.check_frames) {
        if (std::string problem = clip_problem(r.clip); !problem.empty()) {
          s.skipped.push_back({file, r.line, clip, problem});
          continue;
        }
      }
      text += fmt::format("{} {}\n", clip, r.label);
      ++counts.clips;
      ++counts.by_class[r.label];
    }
    built[spec.list] = out.size();
    out.emplace_back(fs::path(o.out_dir) / spec.list, std::move(text));
    s.lists.push_back(std::move(counts));
  }
  for (const auto& [path, text] : out) write_list(path, text);
  return s;
}

}  // namespace detail

std::string describe(const DatasetListSummary& s, std::size_t max_skipped) {
  std::string text = fmt::format("{}: {} rows read, {} lists written, {} skipped\n", s.dataset,
                                 s.rows, s.lists.size(), s.skipped.size());
  for (const auto& l : s.lists) {
    if (!l.copy_of.empty()) {
      text += fmt::format("  {}: a copy of {}\n", l.list, l.copy_of);
      continue;
    }
    std::vector<std::string> by_class;
    for (std::size_t k = 0; k < l.by_class.size() && k < s.classes.size(); ++k)
      by_class.push_back(fmt::format("{} {}", s.classes[k], l.by_class[k]));
    text += fmt::format("  {}: {} clips{}{}\n", l.list, l.clips, by_class.empty() ? "" : " - ",
                        fmt::join(by_class, ", "));
  }
  for (std::size_t i = 0; i < s.skipped.size() && i < max_skipped; ++i) {
    const ListSkip& k = s.skipped[i];
    const std::string at = k.line > 0 ? fmt::format("{}:{} ", k.file, k.line) : "";
    text += fmt::format("  skipped {}{}: {}\n", at, k.item, k.reason);
  }
  if (s.skipped.size() > max_skipped)
    text += fmt::format("  ... and {} more skipped\n", s.skipped.size() - max_skipped);
  return text;
}

}  // namespace dfer::data
