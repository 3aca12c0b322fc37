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
// normal). `job` names the subcommand in messages.
std::filesystem::path dataset_root(const char* job, const DatasetListOptions& options);

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

}  // namespace dfer::data::detail
