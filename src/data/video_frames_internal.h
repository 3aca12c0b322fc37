// Internal pieces of dfer-prep extract (video_frames.h): one video's work, shared by the driver
// (video_frames.cpp) and its implementation (video_frames_clip.cpp). Not part of the public API.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "dfer/data/video_frames.h"

namespace dfer::data {

class FaceDetector;

namespace detail {

// One distinct video and its folder; several list rows may name it.
struct ClipJob {
  std::filesystem::path video, folder;
  std::string item;  // as written in the list, for skips
};

struct ClipOutcome {
  bool done = false, already = false;
  int64_t frames = 0;
  std::string skipped;  // the reason, when neither done nor already
};

// The settings that decide the frames' pixels, as the marker records them: a folder whose marker
// holds other settings is redone.
std::string extract_settings(const ExtractOptions& options);

// One video: left alone when its folder is complete with `settings`, else (re)extracted and
// marked, or skipped with the reason (its folder cleared). `detector` set: face crops. Throws
// dfer::Error when a file cannot be written.
ClipOutcome extract_clip(const ClipJob& job, const ExtractOptions& options,
                         const std::string& settings, FaceDetector* detector);

}  // namespace detail
}  // namespace dfer::data
