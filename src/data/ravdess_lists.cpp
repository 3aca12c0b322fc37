// RAVDESS lists (dataset_lists.h): the videos <root>/Actor_XX/MM-VC-EE-II-SS-RR-AA.mp4, labelled by
// the emotion field of their names, in six actor-independent folds. The split into folds of four
// consecutive actors (fold k tests actors 4k-3..4k, trains on the other 20) is this
// implementation's reading of "6 actor-independent folds of 4 actors" (SPEC §4.2); the official
// release defines no folds. The lists point at the videos: run `dfer-prep extract` on them for
// frame folders, or train on the videos directly (the loader decodes them too).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "dataset_lists_internal.h"
#include "dfer/data/dataset_lists.h"
#include "dfer/util/error.h"
#include "dfer/util/strings.h"

namespace fs = std::filesystem;

namespace dfer::data {

const std::vector<std::string>& ravdess_classes() {
  static const std::vector<std::string> names = {"neutral", "calm",    "happy",   "sad",
                                                 "angry",   "fearful", "disgust", "surprised"};
  return names;
}

namespace {

constexpr int kActors = 24, kFolds = 6;
constexpr int kAudioOnly = 3;  // modality 03: the .wav releases

// The seven fields of a file name in order, with their valid codes.
struct Field {
  const char* name;
  int lo, hi;
};
constexpr std::array<Field, 7> kFields = {{{"modality", 1, 3},
                                           {"vocal channel", 1, 2},
                                           {"emotion", 1, 8},
                                           {"intensity", 1, 2},
                                           {"statement", 1, 2},
                                           {"repetition", 1, 2},
                                           {"actor", 1, kActors}}};
enum { kModality = 0, kEmotion = 2, kActor = 6 };

bool digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// Parses "MM-VC-EE-II-SS-RR-AA" into `f`; returns why it is not such a name, or "".
std::string parse_name(const std::string& stem, std::array<int, 7>& f) {
  bool shape = stem.size() == 3 * kFields.size() - 1;
  for (std::size_t i = 0; shape && i < kFields.size(); ++i) {
    shape = digit(stem[3 * i]) && digit(stem[3 * i + 1]) &&
            (i + 1 == kFields.size() || stem[3 * i + 2] == '-');
    if (shape) f[i] = (stem[3 * i] - '0') * 10 + (stem[3 * i + 1] - '0');
  }
  if (!shape) return "not a RAVDESS name MM-VC-EE-II-SS-RR-AA (seven two-digit fields)";
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    if (f[i] < kFields[i].lo || f[i] > kFields[i].hi)
      return fmt::format("{} {:02d} outside {:02d}-{:02d}", kFields[i].name, f[i], kFields[i].lo,
                         kFields[i].hi);
  }
  return "";
}

// The actor of a folder named Actor_01..Actor_24, or nullopt.
std::optional<int> actor_of_folder(const std::string& name) {
  if (name.size() != 8 || !starts_with(name, "Actor_") || !digit(name[6]) || !digit(name[7]))
    return std::nullopt;
  const int actor = (name[6] - '0') * 10 + (name[7] - '0');
  if (actor < 1 || actor > kActors) return std::nullopt;
  return actor;
}

// Why `file` in the folder of `actor` is not a listed video, or "" (then `v` is filled).
std::string check_file(const fs::path& file, int actor, bool check_empty, detail::SubjectVideo& v) {
  std::string ext = file.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".mp4" && ext != ".wav") return "not a RAVDESS video (.mp4)";
  std::array<int, 7> f{};
  if (std::string bad = parse_name(file.stem().string(), f); !bad.empty()) return bad;
  if (f[kModality] == kAudioOnly) return "audio-only (modality 03)";
  if (ext != ".mp4") return "an audio file (.wav), not a video";
  if (f[kActor] != actor)
    return fmt::format("actor {:02d} in the name, but the file is in Actor_{:02d}", f[kActor],
                       actor);
  std::error_code ec;
  if (check_empty && fs::file_size(file, ec) == 0) return "empty file";
  v = {file.generic_string(), actor, f[kEmotion] - 1};
  return "";
}

}  // namespace

DatasetListSummary build_ravdess_lists(const DatasetListOptions& o) {
  const fs::path root = detail::dataset_root("ravdess", o);
  DatasetListSummary s{"ravdess", ravdess_classes(), 0, {}, {}};
  std::vector<detail::SubjectVideo> videos;
  bool any_folder = false;
  std::error_code ec;
  for (const fs::path& folder : detail::visible_entries("ravdess", root)) {
    const std::string name = folder.filename().string();
    if (!starts_with(name, "Actor_") || !fs::is_directory(folder, ec)) continue;
    any_folder = true;
    const std::optional<int> actor = actor_of_folder(name);
    if (!actor) {
      s.skipped.push_back(
          {"", 0, folder.generic_string(), "not an actor folder Actor_01..Actor_24"});
      continue;
    }
    for (const fs::path& file : detail::visible_entries("ravdess", folder)) {
      if (!fs::is_regular_file(file, ec)) continue;
      ++s.rows;
      detail::SubjectVideo v;
      if (std::string why = check_file(file, *actor, o.check_frames, v); !why.empty()) {
        s.skipped.push_back({"", 0, file.generic_string(), why});
        continue;
      }
      videos.push_back(std::move(v));
    }
  }
  if (!any_folder)
    throw UsageError("ravdess: no Actor_XX folder in '" + root.string() +
                     "' (expected the official layout Actor_01..Actor_24/"
                     "MM-VC-EE-II-SS-RR-AA.mp4)");
  // Fold k tests actors 4k-3..4k; an actor without videos shrinks its test fold by a quarter.
  const detail::SubjectRange actors{
      1, kActors, kFolds,
      [&root](int a) { return (root / fmt::format("Actor_{:02d}", a)).generic_string(); }};
  detail::report_missing_subjects(videos, actors, s);
  detail::write_subject_folds(o, std::move(videos), actors, s);
  return s;
}

}  // namespace dfer::data
