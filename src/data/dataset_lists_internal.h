// Internal pieces shared by the dataset list builders (dataset_lists.h): the root check, the frame
// check and the driver that turns parsed label files into written lists. Not part of the public
// API.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "dfer/data/dataset_lists.h"

namespace dfer::data::detail {

// One label row on its way into a list: where it came from, the clip it names, its label.
struct LabelRow {
  std::size_t line = 0;
  std::string item;            // as written in the label file: what a skip reports
  std::filesystem::path clip;  // absolute clip folder
  int label = -1;              // -1: a bad label, `bad` says why
  std::string bad;
};

// A list to write: built from one label file, or a copy of an earlier list (the reference's val).
struct ListSpec {
  std::string list;  // relative to out_dir
  std::filesystem::path label_file;
  std::string copy_of;  // set instead of label_file
};

using LabelParser = std::function<std::vector<LabelRow>(const std::filesystem::path&)>;

// Checks --root and --out and returns the root every clip path starts from (absolute, lexically
// normal). `job` names the subcommand in messages. A root with whitespace is an error unless
// `spaces_ok` (a job whose lists do not name paths under the root).
std::filesystem::path dataset_root(const char* job, const DatasetListOptions& options,
                                   bool spaces_ok = false);

// True when `s` holds whitespace, which a space-separated list cannot carry inside a path.
bool has_space(const std::string& s);

// The entries of `dir` that Python's glob("*") yields (names not starting with '.': no
// ".DS_Store" or editor files), sorted. A folder that cannot be listed is a dfer::Error naming
// `job` and the folder.
std::vector<std::filesystem::path> visible_entries(const char* job,
                                                   const std::filesystem::path& dir);

// Why a clip folder cannot be read as frames, or "" when it can.
std::string clip_problem(const std::filesystem::path& folder);

// Checks that every label file exists, parses them, applies the skip rules of dataset_lists.h and
// only then writes every list. `layout` describes the expected label files for the missing-file
// message.
DatasetListSummary build_lists(const char* job, const DatasetListOptions& options,
                               const std::vector<std::string>& classes,
                               const std::vector<ListSpec>& specs, const char* layout,
                               const LabelParser& parse);

// A video of a dataset whose folds are built here from its subjects (subject_folds.cpp).
struct SubjectVideo {
  std::string path;  // absolute, generic
  int subject = 0;
  int label = 0;
};

// The subjects first..last split into `folds` blocks of consecutive numbers (sizes differ by at
// most one, the larger blocks first); `folder` names where a subject's videos would be, for the
// "no video of this subject" line.
struct SubjectRange {
  int first = 1, last = 1, folds = 1;
  std::function<std::string(int)> folder;
};

// The fold (1-based) that tests `subject`: (subject - first) * folds / count + 1.
int subject_fold(int subject, int first, int last, int folds);

// Reports every subject of the range without a video as a skip naming its fold's test subjects.
void report_missing_subjects(const std::vector<SubjectVideo>& videos, const SubjectRange& range,
                             DatasetListSummary& summary);

// Writes <out>/splitKK/{train,test,val}.csv for every fold (rows `<path> <label>` sorted by path;
// val = test, as the reference validates on the test fold) once all are built, and appends their
// counts to summary.lists.
void write_subject_folds(const DatasetListOptions& options, std::vector<SubjectVideo> videos,
                         const SubjectRange& range, DatasetListSummary& summary);

// `s` in ASCII lower case.
std::string lower(std::string s);

}  // namespace dfer::data::detail
