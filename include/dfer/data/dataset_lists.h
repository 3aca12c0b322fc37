// Annotation-list builders for the real datasets (dfer-prep dfew, ferv39k, mafw, voxceleb2,
// ravdess, cremad, enterface): the official label files (the video datasets: file and folder names)
// of each dataset -> the reference's annotation CSVs (SPEC §4.2), with every row that does not make
// it into a list reported. Torch-free interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dfer/data/frame_lists.h"  // ListSkip

namespace dfer::data {

// The lists are written as the reference writes them: space-separated, no header, one
// `<absolute clip path> <integer label>` row per clip, in the label file's order. Clip paths are
// `std::filesystem::absolute(root).lexically_normal()` joined with the dataset's layout (not
// relative like the frame lists: the original CSVs hold absolute paths and are compared as such).
struct DatasetListOptions {
  std::string root;     // the dataset folder in its official layout
  std::string out_dir;  // the lists' folder (the reference's saved/data/<dataset>)
  // Rows whose label is unknown or out of range are counted and skipped instead of failing.
  bool skip_bad = false;
  // Clip folders that are missing or hold no .jpg/.jpeg/.png file are counted and skipped (a
  // training run would otherwise fail on them hours in). Off: every labelled clip is listed. The
  // video lists (voxceleb2, ravdess) skip empty video files instead.
  bool check_frames = true;
  std::string exclude_file;  // voxceleb2: videos to leave out, one path (relative to root) a line
};

struct ListCounts {
  std::string list;               // the written file, relative to out_dir ("split01/train.csv")
  int64_t clips = 0;              // its rows
  std::vector<int64_t> by_class;  // rows per class index (empty for the unlabelled VoxCeleb2)
  std::string copy_of;            // val.csv: the list it copies (the reference's val = test)
};

struct DatasetListSummary {
  std::string dataset;               // the job's name
  std::vector<std::string> classes;  // class names in label-index order
  int64_t rows = 0;                  // label rows (or videos found) read
  std::vector<ListCounts> lists;     // in writing order
  std::vector<ListSkip> skipped;     // rows left out, with the reason
};

// Class names in label-index order (SPEC §4.2). FERV39k uses DFEW's order and names.
const std::vector<std::string>& dfew_classes();
const std::vector<std::string>& mafw_classes();
const std::vector<std::string>& ravdess_classes();    // the emotion codes 01..08 in order
const std::vector<std::string>& cremad_classes();     // ANG DIS FEA HAP NEU SAD
const std::vector<std::string>& enterface_classes();  // anger ... surprise

// Errors (dfer::UsageError): a root that is not a folder or contains whitespace (the lists
// separate columns by spaces), a missing label file (named, with the expected layout), a malformed
// row (file:line). A label that is unknown or out of range, or a clip listed twice with another
// label, is an error naming file:line unless skip_bad. A clip listed twice with the same label is
// skipped as a duplicate (the reference's dict keeps one row). Nothing is written unless every list
// was built; each list is written atomically.

// DFEW, 5 folds: EmoLabel_DataSplit/{train,test}(single-labeled)/set_<k>.csv (header with columns
// video_name and label, label 1-based) -> <out>/split0<k>/{train,test,val}.csv rows
// `<root>/Clip/jpg_256/<video_name, 5 digits> <label - 1>`; val.csv is a copy of test.csv.
DatasetListSummary build_dfew_lists(const DatasetListOptions& options);

// FERV39k: 4_setups/All_scenes/{train,test}_All.csv rows `<scene>/<emotion>/<id> <label name>` ->
// <out>/all_scenes/{train,test,val}.csv rows `<root>/2_ClipsforFaceCrop/<path> <index>`, val =
// test.
DatasetListSummary build_ferv39k_lists(const DatasetListOptions& options);

// MAFW single-label, 5 folds: split/single/no_caption/set_<k>/{train,test}.txt rows `<video file>
// <label>`, the label a class name (any case) or a 0-based class index -> <out>/single/split0<k>/
// {train,test,val}.csv rows `<root>/data/frames/<video file up to its first '.'> <index>`, val =
// test.
DatasetListSummary build_mafw_lists(const DatasetListOptions& options);

// VoxCeleb2 (pre-training): the files <root>/*/*/*.mp4 (speaker/video/clip, hidden names skipped as
// Python's glob does), sorted, minus those of exclude_file -> <out>/info_clean.csv rows
// `<absolute mp4 path> 0`. Reported as skipped: excluded videos, empty files (with check_frames),
// paths with whitespace, and exclude entries that match no video.
DatasetListSummary build_voxceleb2_list(const DatasetListOptions& options);

// RAVDESS, 6 actor-independent folds: the videos <root>/Actor_XX/MM-VC-EE-II-SS-RR-AA.mp4 of
// modality 01 (audio-video) or 02 (video-only), label = emotion EE - 1 -> <out>/split0<k>/
// {train,test,val}.csv, fold k testing actors 4k-3..4k and training on the other 20 (this
// implementation's reading of "6 actor-independent folds of 4 actors", SPEC §4.2), rows
// `<absolute mp4 path> <label>` sorted by path, val = test. The lists name videos: dfer-prep
// extract turns them into frame folders, or the loader reads the videos directly. Reported as
// skipped: audio-only files (modality 03, .wav), names that are not seven two-digit fields in
// range, an actor field that differs from its Actor_XX folder, other files, empty files (with
// check_frames) and actors without any video. Only the Actor_XX folders of root are read.
DatasetListSummary build_ravdess_lists(const DatasetListOptions& options);

// CREMA-D, 5 actor-independent folds: the videos <root>/VideoFlash/AAAA_SSS_EEE_LL.flv (also .mp4
// or .avi, if converted), label = the emotion code's index in cremad_classes() -> <out>/split0<k>/
// {train,test,val}.csv, fold k testing a block of consecutive actors (1001-1019, 1020-1037,
// 1038-1055, 1056-1073, 1074-1091: this implementation's folds, the reference ships only its
// CSVs), rows sorted by path, val = test. Reported as skipped: names that are not actor 1001-1091,
// one of the 12 sentences, an emotion code and a level LO/MD/HI/XX, other files, empty files (with
// check_frames) and actors without any video.
DatasetListSummary build_cremad_lists(const DatasetListOptions& options);

// eNTERFACE'05, 5 subject-independent folds: the videos <root>/subject N/<emotion>/[sentence K/]
// *.avi, label = the emotion folder's index in enterface_classes() -> <out>/split0<k>/{train,test,
// val}.csv, fold k testing subjects 1-9, 10-18, 19-27, 28-36, 37-44, val = test. The archive's
// names hold spaces, so each video is listed as a symbolic link <out>/videos/sNN/<emotion>/<file>
// (created or refreshed by the job). Reported as skipped: files that are not .avi, a name whose
// emotion code (s1_an_1) contradicts its folder, unknown emotion or subject folders, empty files
// (with check_frames), two videos of one name, and subjects without any video.
DatasetListSummary build_enterface_lists(const DatasetListOptions& options);

// The summary as printed by dfer-prep: rows read, clips per list and per class, and the skipped
// rows (the first `max_skipped`, then how many more).
std::string describe(const DatasetListSummary& summary, std::size_t max_skipped = 10);

}  // namespace dfer::data
