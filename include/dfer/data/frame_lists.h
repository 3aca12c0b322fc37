// Frame lists for frame-level training data (dfer-prep frames, split): clip lists -> per-frame
// lists -> one CSV per continuous frame sequence (SPEC-later §b), and the list reading and writing
// rules every list job follows (gaze360_lists.h builds on them). Torch-free interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dfer::data {

// Something of the input that was left out, and why: every job reports these instead of dropping
// anything silently.
struct ListSkip {
  std::string file;      // the list that names it
  std::size_t line = 0;  // 1-based line there (of a sequence: its first row)
  std::string item;      // clip folder, image path or sequence CSV name
  std::string reason;
};

// Paths in every list written here are relative to the folder of the list that holds them (so a
// dataset folder can move; resolve_clip_path reads them back), or absolute where no relative path
// exists. Malformed input throws dfer::UsageError naming file:line and the problem.

struct FrameListOptions {
  std::string video_list;  // `clip_dir label [pitch yaw]` rows (io::read_annotations, DFEW layout)
  std::string out_file;    // written atomically; its folder is created
};

struct FrameListSummary {
  int64_t videos = 0, frames = 0;
  std::vector<ListSkip> skipped;  // clip folders without frame files
};

// One row `frame_path label [pitch yaw]` per frame file of each clip folder, clips in list order,
// frames in list_frame_files order, labels copied. A missing clip folder is an error.
FrameListSummary expand_frame_list(const FrameListOptions& options);

struct SplitOptions {
  std::string frame_list;  // `frame_path label_1 ... label_k` rows, k >= 1, the same k everywhere
  std::string out_dir;
  std::string prefix;            // CSV name prefix; empty: the frame list's file stem
  int min_len = 16;              // shorter sequences are not written (reported)
  int max_gap = 1;               // a frame-number step above this starts a new sequence
  bool write_discarded = false;  // also write the short ones under <out_dir>/<prefix>_discarded/
};

struct SplitSummary {
  int64_t videos = 0, rows = 0;              // read
  int64_t sequences = 0, sequence_rows = 0;  // written to out_dir
  int64_t stale_removed = 0;                 // sequence CSVs of an earlier run removed first
  std::vector<ListSkip> skipped;             // sequences shorter than min_len
};

// Groups the rows by video (the frame's parent folder, in order of first appearance), sorts each
// video by the number at the end of the frame's file stem and cuts it where that number jumps by
// more than max_gap. Writes `<prefix>_<video, 5 digits>_<k>.csv` (k counts the video's sequences,
// short ones included), rows unchanged but for the path; no header, space-separated. Earlier files
// named `<prefix>_*_<k>.csv` in the output folders are removed first: the loader globs `*.csv`.
SplitSummary split_frame_list(const SplitOptions& options);

// Not part of the public API: the building blocks of the list jobs, exposed so that the other
// list converters (gaze360_lists.cpp) read, name and write lists exactly as frames and split do.
namespace detail {

// "file:line: ", the prefix of every input error.
std::string where(const std::string& file, std::size_t line);

// Calls fn(line, fields) for each non-blank line of a whitespace-separated list; a UTF-8 BOM and
// CRLF line ends are tolerated, as io::read_annotations does.
void for_each_row(const std::string& file,
                  const std::function<void(std::size_t, const std::vector<std::string>&)>& fn);

// A finite number written as text (locale-independent, a leading '+' allowed), or nullopt.
std::optional<double> finite_number(std::string_view text);

// The number ending a frame file's stem ("frame_00012.jpg" -> 12): the time step of the frame.
std::optional<int64_t> frame_number(const std::filesystem::path& file);

// `target` as written into a list that lives in `dir` (see the path rule above).
std::string path_for_list(const std::filesystem::path& target, std::filesystem::path dir);

// Removes the regular files `<prefix>_*_<k>.csv` in `dir` and returns how many: sequences of an
// earlier run, which the loader's `*.csv` glob would otherwise mix with the new ones.
int64_t remove_stale(const std::filesystem::path& dir, const std::string& prefix);

// Writes a list atomically, creating its folder.
void write_list(const std::filesystem::path& file, const std::string& text);

// Throws unless min_len >= 1 and max_gap >= 1; `job` names the subcommand in the message.
void check_sequence_options(const char* job, int min_len, int max_gap);

}  // namespace detail
}  // namespace dfer::data
