// Subject-independent folds (dataset_lists_internal.h): the list writer the video datasets share
// (RAVDESS, CREMA-D, eNTERFACE'05), where the release defines no folds and every video names its
// subject. A fold tests a block of consecutive subjects and trains on all others.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "dataset_lists_internal.h"
#include "dfer/data/frame_lists.h"  // write_list

namespace fs = std::filesystem;

namespace dfer::data::detail {

int subject_fold(int subject, int first, int last, int folds) {
  const int count = last - first + 1;
  return (subject - first) * folds / count + 1;
}

std::pair<int, int> fold_subjects(int fold, int first, int last, int folds) {
  int lo = last + 1, hi = first - 1;
  for (int s = first; s <= last; ++s) {
    if (subject_fold(s, first, last, folds) != fold) continue;
    lo = std::min(lo, s);
    hi = std::max(hi, s);
  }
  return {lo, hi};
}

void report_missing_subjects(const std::vector<SubjectVideo>& videos, const SubjectRange& r,
                             DatasetListSummary& s) {
  std::vector<int> per_subject(std::size_t(r.last - r.first + 1), 0);
  for (const SubjectVideo& v : videos) ++per_subject[std::size_t(v.subject - r.first)];
  for (int subject = r.first; subject <= r.last; ++subject) {
    if (per_subject[std::size_t(subject - r.first)] > 0) continue;
    const int fold = subject_fold(subject, r.first, r.last, r.folds);
    const auto [lo, hi] = fold_subjects(fold, r.first, r.last, r.folds);
    s.skipped.push_back({"", 0, r.folder(subject),
                         fmt::format("no video of this subject (the test subjects of fold {} are "
                                     "{}-{})",
                                     fold, lo, hi)});
  }
}

void write_subject_folds(const DatasetListOptions& o, std::vector<SubjectVideo> videos,
                         const SubjectRange& r, DatasetListSummary& s) {
  std::sort(videos.begin(), videos.end(),
            [](const SubjectVideo& a, const SubjectVideo& b) { return a.path < b.path; });
  std::vector<std::pair<fs::path, std::string>> out;  // every list is written once all are built
  const std::vector<int64_t> zeros(s.classes.size(), 0);
  for (int k = 1; k <= r.folds; ++k) {
    const std::string dir = fmt::format("split{:02d}", k);
    std::string text[2];  // train, test
    ListCounts counts[2] = {{dir + "/train.csv", 0, zeros, ""}, {dir + "/test.csv", 0, zeros, ""}};
    for (const SubjectVideo& v : videos) {
      const int t = subject_fold(v.subject, r.first, r.last, r.folds) == k ? 1 : 0;
      text[t] += fmt::format("{} {}\n", v.path, v.label);
      ++counts[t].clips;
      ++counts[t].by_class[std::size_t(v.label)];
    }
    for (int t = 0; t < 2; ++t) {
      out.emplace_back(fs::path(o.out_dir) / counts[t].list, text[t]);
      s.lists.push_back(counts[t]);
    }
    ListCounts val = counts[1];  // the reference validates on the test fold
    val.list = dir + "/val.csv";
    val.copy_of = counts[1].list;
    out.emplace_back(fs::path(o.out_dir) / val.list, text[1]);
    s.lists.push_back(std::move(val));
  }
  for (const auto& [path, text] : out) write_list(path, text);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace dfer::data::detail
