// Video -> frame folders (dfer-prep extract): every frame of each listed video decoded once into
// <frames dir>/<video file stem>/00001.jpg, 00002.jpg, ... (the DFEW layout the loader reads
// fastest), optionally cropped to the face; resumable, parallel over videos, and a clip list of
// the folders. Torch-free interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dfer/data/frame_lists.h"  // ListSkip

namespace dfer::data {

// The file that marks a frame folder complete: written last, atomically, holding the frame count
// and the settings the frames were made with.
inline constexpr const char* kFramesDoneMarker = ".done";

struct ExtractOptions {
  // `video label...` rows (space-separated; video paths relative to the list's folder or absolute,
  // resolve_clip_path; the label columns, numbers, are copied to list_out unchanged).
  std::string list;
  std::string frames_dir;  // one folder per video, named by the video's file stem
  std::string list_out;    // `frame_folder label...` rows in input order, written atomically
  int size = 256;          // frames: shorter side in pixels (aspect kept); face crops: square side
  bool face_crop = false;
  std::string cascade;   // Haar cascade file; empty: find_face_cascade() (face_boxes.h)
  double margin = 1.25;  // face box enlargement before the crop
  int threads = 0;       // videos decoded in parallel; <= 0: all cores
  int jpeg_quality = 95;
};

struct ExtractSummary {
  int64_t videos = 0;        // rows of the list
  int64_t extracted = 0;     // distinct videos written by this run
  int64_t already_done = 0;  // distinct videos whose folder was complete with the same settings
  int64_t frames = 0;        // frame files written by this run
  std::string list_out;
  std::vector<ListSkip> skipped;  // rows left out of list_out (one per row of a skipped video)
};

// Runs the job. Per video, in parallel (`threads` workers):
//  * a folder with a marker of the same settings is complete and left untouched (a rerun after an
//    interruption only does what is missing); any other folder is cleared of its frame files and
//    marker and redone, so a half-written folder or one made with another --size is never used;
//  * frames: every frame cv::VideoCapture decodes, resized so that the shorter side is `size`
//    (0: stored size), INTER_AREA when shrinking (no aliasing), INTER_LINEAR when enlarging;
//  * face crop: a first pass detects the largest face per frame and smooth_face_boxes turns the
//    detections into square boxes; a second pass decodes again and writes each crop resized to
//    size x size (two passes keep one frame in memory instead of the whole clip);
//  * skipped, and reported with list file, line and reason: a missing or unreadable video, one that
//    yields no frame, one with more than 99999 frames (the names would stop sorting), and with
//    face crop one without a face in any frame.
// A row naming the same video as an earlier row reuses its folder. Errors (dfer::UsageError,
// before any video is touched): missing options, a bad row (file:line), two different videos with
// the same file stem (they would share a folder; both lines named), a frames_dir path with
// whitespace (the list could not hold it), no cascade for face crop. A failure to write a frame
// (disk full) stops the job with dfer::Error; list_out is then not written, the complete folders
// stay and a rerun resumes.
ExtractSummary extract_video_frames(const ExtractOptions& options);

// The summary as dfer-prep prints it: counts, frames written and the first `max_skipped` skipped
// rows with their reasons (then how many more).
std::string describe(const ExtractSummary& summary, std::size_t max_skipped = 10);

}  // namespace dfer::data
