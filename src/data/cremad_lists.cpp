// CREMA-D lists (dataset_lists.h): the videos <root>/VideoFlash/AAAA_SSS_EEE_LL.flv of the official
// release, labelled by the emotion field of their names (ANG 0, DIS 1, FEA 2, HAP 3, NEU 4, SAD 5:
// SPEC §4.2), in five actor-independent folds. The reference ships only CSVs for CREMA-D; the folds
// of consecutive actor ids are this implementation's choice, stated in the header and the README.
#include <fmt/format.h>

#include <array>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset_lists_internal.h"
#include "dfer/data/dataset_lists.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::data {

const std::vector<std::string>& cremad_classes() {
  static const std::vector<std::string> names = {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"};
  return names;
}

namespace {

constexpr int kFirstActor = 1001, kLastActor = 1091, kFolds = 5;
// The twelve sentences and four intensity levels of the release (XX: unspecified).
constexpr std::array<const char*, 12> kSentences = {"IEO", "TIE", "IOM", "IWW", "TAI", "MTI",
                                                    "IWL", "ITH", "DFA", "ITS", "TSI", "WSI"};
constexpr std::array<const char*, 4> kLevels = {"LO", "MD", "HI", "XX"};

template <std::size_t N>
bool one_of(const std::string& s, const std::array<const char*, N>& codes) {
  for (const char* c : codes)
    if (s == c) return true;
  return false;
}

// Why `file` is not a listed video, or "" (then `v` is filled).
std::string check_file(const fs::path& file, bool check_empty, detail::SubjectVideo& v) {
  const std::string ext = detail::lower(file.extension().string());
  if (ext != ".flv" && ext != ".mp4" && ext != ".avi")
    return "not a CREMA-D video (.flv, or .mp4/.avi if converted)";
  const std::string stem = file.stem().string();
  // AAAA_SSS_EEE_LL: four digits, then three fields of 3, 3 and 2 letters.
  const bool shape = stem.size() == 15 && stem[4] == '_' && stem[8] == '_' && stem[12] == '_' &&
                     std::isdigit(static_cast<unsigned char>(stem[0])) &&
                     std::isdigit(static_cast<unsigned char>(stem[1])) &&
                     std::isdigit(static_cast<unsigned char>(stem[2])) &&
                     std::isdigit(static_cast<unsigned char>(stem[3]));
  if (!shape) return "not a CREMA-D name ActorID_Sentence_Emotion_Level (1001_DFA_ANG_XX)";
  const int actor = std::stoi(stem.substr(0, 4));
  if (actor < kFirstActor || actor > kLastActor)
    return fmt::format("actor {} outside {}-{}", actor, kFirstActor, kLastActor);
  if (!one_of(stem.substr(5, 3), kSentences))
    return fmt::format("unknown sentence code {}", stem.substr(5, 3));
  const std::string emotion = stem.substr(9, 3);
  const auto& classes = cremad_classes();
  int label = -1;
  for (std::size_t k = 0; k < classes.size(); ++k)
    if (emotion == classes[k]) label = static_cast<int>(k);
  if (label < 0)
    return fmt::format("unknown emotion code {} (ANG, DIS, FEA, HAP, NEU, SAD)", emotion);
  if (!one_of(stem.substr(13, 2), kLevels))
    return fmt::format("unknown intensity level {} (LO, MD, HI, XX)", stem.substr(13, 2));
  std::error_code ec;
  if (check_empty && fs::file_size(file, ec) == 0) return "empty file";
  v = {file.generic_string(), actor, label};
  return "";
}

}  // namespace

DatasetListSummary build_cremad_lists(const DatasetListOptions& o) {
  const fs::path root = detail::dataset_root("cremad", o);
  const fs::path folder = root / "VideoFlash";
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw UsageError("cremad: no folder '" + folder.string() +
                     "' (expected the official layout VideoFlash/1001_DFA_ANG_XX.flv)");
  DatasetListSummary s{"cremad", cremad_classes(), 0, {}, {}};
  std::vector<detail::SubjectVideo> videos;
  for (const fs::path& file : detail::visible_entries("cremad", folder)) {
    if (!fs::is_regular_file(file, ec)) continue;
    ++s.rows;
    detail::SubjectVideo v;
    if (std::string why = check_file(file, o.check_frames, v); !why.empty()) {
      s.skipped.push_back({"", 0, file.generic_string(), why});
      continue;
    }
    videos.push_back(std::move(v));
  }
  const detail::SubjectRange actors{kFirstActor, kLastActor, kFolds, [&folder](int a) {
                                      return (folder / fmt::format("{}_*", a)).generic_string();
                                    }};
  detail::report_missing_subjects(videos, actors, s);
  detail::write_subject_folds(o, std::move(videos), actors, s);
  return s;
}

}  // namespace dfer::data
