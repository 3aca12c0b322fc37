// Frame lists (frame_lists.h): the frames and split jobs of dfer-prep, and the list helpers that
// all list jobs share (detail::, also used by gaze360_lists.cpp).
#include "dfer/data/frame_lists.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "dfer/data/frame_source.h"
#include "dfer/io/atomic_file.h"
#include "dfer/io/csv.h"
#include "dfer/util/error.h"
#include "dfer/util/gaze.h"

namespace fs = std::filesystem;

namespace dfer::data {
namespace detail {

std::string where(const std::string& file, std::size_t line) {
  return file + ":" + std::to_string(line) + ": ";
}

void for_each_row(const std::string& file,
                  const std::function<void(std::size_t, const std::vector<std::string>&)>& fn) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UsageError("cannot read list file '" + file + "'");
  std::string line;
  std::vector<std::string> fields;
  for (std::size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    fields.clear();
    std::istringstream split(line);
    for (std::string f; split >> f;) fields.push_back(std::move(f));
    if (!fields.empty()) fn(line_no, fields);
  }
  if (in.bad()) throw UsageError("cannot read list file '" + file + "'");
}

std::optional<double> finite_number(std::string_view t) {
  if (t.size() > 1 && t[0] == '+' && t[1] != '+' && t[1] != '-') t.remove_prefix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<int64_t> frame_number(const fs::path& file) {
  const std::string stem = file.stem().string();
  std::size_t b = stem.size();
  while (b > 0 && std::isdigit(static_cast<unsigned char>(stem[b - 1]))) --b;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(stem.data() + b, stem.data() + stem.size(), v);
  if (b == stem.size() || ec != std::errc()) return std::nullopt;
  return v;
}

// Relative to `dir` when a relative path exists, so the dataset folder can move; else absolute.
// Lexical (no symlinks followed), because resolve_clip_path reads it back lexically.
std::string path_for_list(const fs::path& target, fs::path dir) {
  const fs::path t = fs::absolute(target).lexically_normal();
  dir = fs::absolute(dir).lexically_normal();
  if (!dir.has_filename() && dir.has_relative_path()) dir = dir.parent_path();  // "out/" -> "out"
  const fs::path rel = t.lexically_relative(dir);
  return rel.empty() ? t.generic_string() : rel.generic_string();
}

int64_t remove_stale(const fs::path& dir, const std::string& prefix) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int64_t removed = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file_name = entry.path().filename().string();
    std::string_view name = file_name;
    if (!entry.is_regular_file() || name.size() < prefix.size() + 8 ||
        name.substr(0, prefix.size() + 1) != prefix + "_" || name.substr(name.size() - 4) != ".csv")
      continue;
    name = name.substr(prefix.size() + 1, name.size() - prefix.size() - 5);  // "<middle>_<k>"
    const auto cut = name.rfind('_');
    if (cut == std::string_view::npos || cut == 0 || cut + 1 == name.size() ||
        !std::all_of(name.begin() + cut + 1, name.end(),
                     [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    fs::remove(entry.path());
    ++removed;
  }
  return removed;
}

void write_list(const fs::path& file, const std::string& text) {
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  io::write_file_atomic(file.string(), text);
}

void check_sequence_options(const char* job, int min_len, int max_gap) {
  if (min_len < 1) throw UsageError(std::string(job) + ": --min-len must be >= 1");
  if (max_gap < 1) throw UsageError(std::string(job) + ": --max-gap must be >= 1");
}

}  // namespace detail

// The jobs below call the shared helpers by their short names.
using detail::check_sequence_options;
using detail::finite_number;
using detail::for_each_row;
using detail::frame_number;
using detail::path_for_list;
using detail::remove_stale;
using detail::where;
using detail::write_list;

namespace {

struct FrameRow {
  fs::path file;       // resolved frame path
  std::string labels;  // the label columns as written, each preceded by a space
  int64_t frame = 0;
  std::size_t line = 0;
};

}  // namespace

FrameListSummary expand_frame_list(const FrameListOptions& o) {
  const auto clips = io::read_annotations(o.video_list, 0);
  const fs::path out_dir = fs::path(o.out_file).parent_path();
  FrameListSummary s;
  std::string text;
  for (const auto& clip : clips) {
    const std::string folder = resolve_clip_path(o.video_list, clip.path);
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
      throw UsageError(where(o.video_list, clip.line) + "clip folder '" + folder + "' not found");
    std::vector<std::string> files;
    try {
      files = list_frame_files(folder);
    } catch (const Error& e) {  // an empty folder: reported, the rest of the list still usable
      s.skipped.push_back({o.video_list, clip.line, clip.path, e.what()});
      continue;
    }
    if (clip.pitch) {
      if (const char* problem = gaze_label_problem(*clip.pitch, *clip.yaw); *problem)
        throw UsageError(where(o.video_list, clip.line) + problem);
    }
    std::string labels = fmt::format(" {}", clip.label);
    if (clip.pitch) labels += fmt::format(" {} {}", *clip.pitch, *clip.yaw);  // shortest round trip
    for (const auto& f : files) {
      text += path_for_list(f, out_dir);
      text += labels;
      text += '\n';
    }
    ++s.videos;
    s.frames += static_cast<int64_t>(files.size());
  }
  write_list(o.out_file, text);
  return s;
}

SplitSummary split_frame_list(const SplitOptions& o) {
  check_sequence_options("split", o.min_len, o.max_gap);
  const std::string prefix = o.prefix.empty() ? fs::path(o.frame_list).stem().string() : o.prefix;
  if (prefix.empty() || prefix.find('/') != std::string::npos)
    throw UsageError("split: --prefix must be a file name prefix, found '" + prefix + "'");
  SplitSummary s;
  std::vector<std::vector<FrameRow>> videos;  // in order of first appearance
  std::unordered_map<std::string, std::size_t> video_of;
  std::size_t columns = 0, first_line = 0;
  for_each_row(o.frame_list, [&](std::size_t line, const std::vector<std::string>& f) {
    const std::string at = where(o.frame_list, line);
    if (f.size() < 2)
      throw UsageError(at + "expected a frame path and at least one label column, found " +
                       std::to_string(f.size()) + " column(s)");
    if (columns == 0) columns = f.size(), first_line = line;
    if (f.size() != columns)
      throw UsageError(
          at + fmt::format("row has {} columns but line {} has {}", f.size(), first_line, columns));
    FrameRow row{resolve_clip_path(o.frame_list, f[0]), "", 0, line};
    for (std::size_t k = 1; k < f.size(); ++k) {
      if (!finite_number(f[k]))
        throw UsageError(at + fmt::format("label column {} '{}' is not a finite number", k, f[k]));
      row.labels += " " + f[k];
    }
    const auto frame = frame_number(row.file);
    if (!frame) throw UsageError(at + "no frame number at the end of the file name '" + f[0] + "'");
    row.frame = *frame;
    auto [it, added] = video_of.emplace(row.file.parent_path().string(), videos.size());
    if (added) videos.emplace_back();
    videos[it->second].push_back(std::move(row));
    ++s.rows;
  });
  s.videos = static_cast<int64_t>(videos.size());
  const fs::path out(o.out_dir), discarded = out / (prefix + "_discarded");
  fs::create_directories(out);
  s.stale_removed = remove_stale(out, prefix) + remove_stale(discarded, prefix);
  for (std::size_t v = 0; v < videos.size(); ++v) {
    auto& rows = videos[v];
    std::stable_sort(rows.begin(), rows.end(),
                     [](const FrameRow& a, const FrameRow& b) { return a.frame < b.frame; });
    int k = 0;
    for (std::size_t b = 0, e = 0; b < rows.size(); b = e, ++k) {
      for (e = b + 1; e < rows.size() && rows[e].frame - rows[e - 1].frame <= o.max_gap; ++e) {
        if (rows[e].frame == rows[e - 1].frame)
          throw UsageError(where(o.frame_list, rows[e].line) +
                           fmt::format("frame {} of {} is also on line {}", rows[e].frame,
                                       rows[e].file.parent_path().string(), rows[e - 1].line));
      }
      const std::string name = fmt::format("{}_{:05d}_{}.csv", prefix, v, k);
      const bool keep = e - b >= static_cast<std::size_t>(o.min_len);
      if (!keep)
        s.skipped.push_back({o.frame_list, rows[b].line, name,
                             fmt::format("{} rows < --min-len {}", e - b, o.min_len)});
      if (!keep && !o.write_discarded) continue;
      const fs::path dir = keep ? out : discarded;
      std::string text;
      for (std::size_t i = b; i < e; ++i) {
        text += path_for_list(rows[i].file, dir);
        text += rows[i].labels;
        text += '\n';
      }
      write_list(dir / name, text);
      if (keep) ++s.sequences, s.sequence_rows += static_cast<int64_t>(e - b);
    }
  }
  return s;
}

}  // namespace dfer::data
