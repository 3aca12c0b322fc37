// VoxCeleb2 list (dataset_lists.h): the pre-training videos <root>/<speaker>/<video>/<clip>.mp4,
// found as the reference's glob finds them, minus an exclusion list -> info_clean.csv.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dataset_lists_internal.h"
#include "dfer/data/dataset_lists.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::data {
namespace {

// glob("<root>/*/*/*.mp4"), sorted (the reference leaves the order to the file system; a sorted
// list makes the file reproducible).
std::vector<fs::path> find_videos(const fs::path& root) {
  std::vector<fs::path> videos;
  std::error_code ec;
  for (const auto& speaker : detail::visible_entries("voxceleb2", root)) {
    if (!fs::is_directory(speaker, ec)) continue;
    for (const auto& video : detail::visible_entries("voxceleb2", speaker)) {
      if (!fs::is_directory(video, ec)) continue;
      for (const auto& clip : detail::visible_entries("voxceleb2", video)) {
        if (clip.extension() == ".mp4" && fs::is_regular_file(clip, ec)) videos.push_back(clip);
      }
    }
  }
  std::sort(videos.begin(), videos.end(), [](const fs::path& a, const fs::path& b) {
    return a.generic_string() < b.generic_string();
  });
  return videos;
}

}  // namespace

DatasetListSummary build_voxceleb2_list(const DatasetListOptions& o) {
  const fs::path root = detail::dataset_root("voxceleb2", o);
  std::map<std::string, std::size_t> excluded;  // path relative to root -> its line
  if (!o.exclude_file.empty()) {
    std::error_code ec;
    if (!fs::is_regular_file(o.exclude_file, ec))
      throw UsageError("voxceleb2: exclude file '" + o.exclude_file + "' not found");
    // The first column of each line, so that an earlier `path 0` list also serves.
    detail::for_each_row(o.exclude_file, [&](std::size_t n, const std::vector<std::string>& f) {
      fs::path p = fs::path(f[0]).lexically_normal();
      if (p.is_absolute()) p = p.lexically_relative(root);
      excluded.emplace(p.generic_string(), n);
    });
  }
  DatasetListSummary s{"voxceleb2", {}, 0, {}, {}};
  ListCounts counts{"info_clean.csv", 0, {}, ""};
  std::string text;
  std::set<std::string> matched;  // exclude entries that named a video
  for (const fs::path& video : find_videos(root)) {
    ++s.rows;
    const std::string rel = video.lexically_relative(root).generic_string();
    const std::string path = video.generic_string();
    if (auto it = excluded.find(rel); it != excluded.end()) {
      s.skipped.push_back({o.exclude_file, it->second, rel, "listed in the exclude file"});
      matched.insert(rel);
      continue;
    }
    std::error_code ec;
    if (detail::has_space(path)) {
      s.skipped.push_back({"", 0, path, "whitespace in the path (the list is space-separated)"});
    } else if (o.check_frames && fs::file_size(video, ec) == 0) {
      s.skipped.push_back({"", 0, path, "empty file"});
    } else {
      text += path + " 0\n";  // 0: the dummy label of the pre-training list
      ++counts.clips;
    }
  }
  // An exclusion that matches nothing usually means a list made for another copy of the dataset.
  for (const auto& [rel, line] : excluded) {
    if (!matched.count(rel))
      s.skipped.push_back({o.exclude_file, line, rel, "exclude entry matches no video"});
  }
  s.lists.push_back(counts);
  detail::write_list(fs::path(o.out_dir) / counts.list, text);
  return s;
}

}  // namespace dfer::data
