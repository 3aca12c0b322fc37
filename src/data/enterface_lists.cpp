// eNTERFACE'05 lists (dataset_lists.h): the videos <root>/subject N/<emotion>/sentence K/*.avi of
// the official archive (subject 6 has no sentence level), labelled by their emotion folder (anger
// 0, disgust 1, fear 2, happiness 3, sadness 4, surprise 5: SPEC §4.2), in five subject-independent
// folds. The archive's folder names hold spaces, which a space-separated list cannot carry, so the
// lists name symbolic links under <out>/videos/ instead.
#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dataset_lists_internal.h"
#include "dfer/data/dataset_lists.h"
#include "dfer/util/error.h"
#include "dfer/util/strings.h"

namespace fs = std::filesystem;

namespace dfer::data {

const std::vector<std::string>& enterface_classes() {
  static const std::vector<std::string> names = {"anger",     "disgust", "fear",
                                                 "happiness", "sadness", "surprise"};
  return names;
}

namespace {

constexpr int kSubjects = 44, kFolds = 5;
constexpr const char* kCodes[] = {"an", "di", "fe", "ha", "sa", "su"};  // in the file names

// The subject of a folder named "subject N" (1 <= N <= 44), or nullopt.
std::optional<int> subject_of_folder(const std::string& name) {
  const std::string digits = name.substr(std::min(name.size(), std::size_t(8)));
  if (!starts_with(name, "subject ") || digits.empty() || digits.size() > 2 ||
      !std::isdigit(static_cast<unsigned char>(digits[0])) ||
      !std::isdigit(static_cast<unsigned char>(digits.back())))
    return std::nullopt;
  const int n = std::stoi(digits);
  if (n < 1 || n > kSubjects) return std::nullopt;
  return n;
}

// The class a file name claims by its `_xx_` emotion code (s12_an_3.avi), or -1 when it names none.
int label_of_name(const std::string& stem) {
  const std::string s = fmt::format("_{}_", detail::lower(stem));
  int found = -1;
  for (int k = 0; k < 6; ++k)
    if (s.find(fmt::format("_{}_", kCodes[k])) != std::string::npos) found = k;
  return found;
}

struct Found {
  fs::path file;
  int subject = 0, label = 0;
};

// The .avi files of one emotion folder, directly in it or one sentence folder down.
void collect(const fs::path& emotion_dir, int subject, int label, DatasetListSummary& s,
             std::vector<Found>& found) {
  std::error_code ec;
  for (const fs::path& entry : detail::visible_entries("enterface", emotion_dir)) {
    if (fs::is_directory(entry, ec)) {
      collect(entry, subject, label, s, found);  // "sentence K"; the archive nests no deeper
      continue;
    }
    if (!fs::is_regular_file(entry, ec)) continue;
    ++s.rows;
    const int claimed = label_of_name(entry.stem().string());
    if (detail::lower(entry.extension().string()) != ".avi")
      s.skipped.push_back({"", 0, entry.generic_string(), "not an eNTERFACE video (.avi)"});
    else if (claimed >= 0 && claimed != label)
      s.skipped.push_back({"", 0, entry.generic_string(),
                           fmt::format("the name says {} but the file is in the {} folder",
                                       enterface_classes()[std::size_t(claimed)],
                                       enterface_classes()[std::size_t(label)])});
    else
      found.push_back({entry, subject, label});
  }
}

// Points `link` at `target`, replacing a link left by an earlier run.
void link_to(const fs::path& target, const fs::path& link) {
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(link, ec)) && fs::read_symlink(link, ec) == target) return;
  fs::create_directories(link.parent_path());
  fs::remove(link, ec);
  fs::create_symlink(target, link, ec);
  if (ec)
    throw Error("enterface: cannot create the link '" + link.string() + "' to '" + target.string() +
                "': " + ec.message());
}

}  // namespace

DatasetListSummary build_enterface_lists(const DatasetListOptions& o) {
  const fs::path root = detail::dataset_root("enterface", o, true);  // listed through links
  DatasetListSummary s{"enterface", enterface_classes(), 0, {}, {}};
  std::vector<Found> found;
  bool any_subject = false;
  std::error_code ec;
  for (const fs::path& folder : detail::visible_entries("enterface", root)) {
    const std::string name = folder.filename().string();
    if (!starts_with(name, "subject") || !fs::is_directory(folder, ec)) continue;
    any_subject = true;
    const std::optional<int> subject = subject_of_folder(name);
    if (!subject) {
      s.skipped.push_back({"", 0, folder.generic_string(), "not a subject folder 'subject 1..44'"});
      continue;
    }
    for (const fs::path& emotion : detail::visible_entries("enterface", folder)) {
      if (!fs::is_directory(emotion, ec)) continue;
      int label = -1;
      for (std::size_t k = 0; k < enterface_classes().size(); ++k)
        if (detail::lower(emotion.filename().string()) == enterface_classes()[k]) label = int(k);
      if (label < 0) {
        s.skipped.push_back({"", 0, emotion.generic_string(),
                             "not an emotion folder (anger, disgust, fear, happiness, sadness, "
                             "surprise)"});
        continue;
      }
      collect(emotion, *subject, label, s, found);
    }
  }
  if (!any_subject)
    throw UsageError("enterface: no 'subject N' folder in '" + root.string() +
                     "' (expected the official layout subject 1/anger/sentence 1/s1_an_1.avi)");

  // <out>/videos/sNN/<emotion>/<file name, spaces as '_'>: one name per video, no whitespace.
  const fs::path links = fs::absolute(o.out_dir).lexically_normal() / "videos";
  if (detail::has_space(links.string()))
    throw UsageError("enterface: the --out path '" + links.string() +
                     "' contains whitespace, which the space-separated lists cannot hold");
  std::map<fs::path, fs::path> taken;  // link -> its video
  std::vector<detail::SubjectVideo> videos;
  for (const Found& f : found) {
    std::error_code size_ec;
    if (o.check_frames && fs::file_size(f.file, size_ec) == 0) {
      s.skipped.push_back({"", 0, f.file.generic_string(), "empty file"});
      continue;
    }
    std::string base = f.file.filename().string();
    for (char& c : base)
      if (std::isspace(static_cast<unsigned char>(c))) c = '_';
    const fs::path link = links / fmt::format("s{:02d}", f.subject) /
                          enterface_classes()[std::size_t(f.label)] / base;
    if (const auto [first, fresh] = taken.emplace(link, f.file); !fresh) {
      s.skipped.push_back({"", 0, f.file.generic_string(),
                           "same file name as '" + first->second.generic_string() + "'"});
      continue;
    }
    videos.push_back({link.generic_string(), f.subject, f.label});
  }
  for (const auto& [link, file] : taken) link_to(file, link);
  const detail::SubjectRange subjects{
      1, kSubjects, kFolds,
      [&root](int n) { return (root / fmt::format("subject {}", n)).generic_string(); }};
  detail::report_missing_subjects(videos, subjects, s);
  detail::write_subject_folds(o, std::move(videos), subjects, s);
  return s;
}

}  // namespace dfer::data
