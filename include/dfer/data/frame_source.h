// Frame sources: one clip as uint8 RGB frames [T, H, W, 3] read from a frame folder (DFEW layout),
// a video file (OpenCV) or a packed shard (shard.h), each frame resized to a square training size.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dfer::data {

enum class SourceKind { kFolder, kVideo, kShard };

// One clip. Not thread-safe (a video source keeps a decoder position): open one per worker; opening
// is cheap (a folder lists its files, a video probes its header, a shard source is a view).
class FrameSource {
 public:
  virtual ~FrameSource() = default;

  // Number of frames (>= 1: an empty clip already fails when the source is opened).
  virtual int64_t num_frames() const = 0;

  // Frames at `indices` (any order, repeats allowed, each in [0, num_frames())) as a contiguous
  // uint8 tensor [indices.size(), out_h, out_w, 3] in RGB order. Every frame is resized to
  // out_h x out_w with bilinear interpolation (cv::INTER_LINEAR; the aspect ratio is not kept, as
  // the reference resizes to a square, SPEC §3.3.3). out_h = out_w = 0 keeps the stored size, which
  // then must be the same for every requested frame. Throws dfer::Error naming the file on a frame
  // that cannot be decoded (corrupt, truncated) and on an index out of range.
  virtual torch::Tensor read(const std::vector<int64_t>& indices, int out_h, int out_w) = 0;

  virtual SourceKind kind() const = 0;

  // The folder, video file or "shard file [key]" the frames come from, for messages.
  virtual std::string describe() const = 0;
};

// Opens `path` by what it is:
//  * a directory -> frame folder: its *.jpg / *.jpeg / *.png files (extension case-insensitive),
//    sorted lexicographically by file name as the reference's sorted glob does (frame names must
//    therefore be zero-padded);
//  * "<pack dir or its index.json>#<key>" -> the clip `key` of a packed dataset (shard.h); the
//    dataset is opened once per process and shared;
//  * any other existing file -> a video decoded with cv::VideoCapture (mp4, avi, mkv, ...).
// Missing paths, empty folders, unreadable videos and unknown pack keys throw dfer::Error naming
// the path (callers add the annotation file and line).
std::unique_ptr<FrameSource> open_frame_source(const std::string& path);

// The frame files of a folder in reading order (full paths). Throws if the folder is missing,
// not a directory or has no frame files.
std::vector<std::string> list_frame_files(const std::string& folder);

// Decodes one image file to an RGB uint8 tensor [H, W, 3] resized to out_h x out_w (0, 0: native
// size). JPEG files must end with their end-of-image marker and PNG files with their IEND chunk, so
// a truncated file is an error instead of a silently grey-filled frame (libjpeg only warns). EXIF
// orientation is ignored, as PIL does in the reference.
torch::Tensor read_image_rgb(const std::string& file, int out_h = 0, int out_w = 0);

// Annotation paths: an absolute entry is kept; a relative entry is resolved against the folder of
// the annotation file that lists it (the datasets written by `dfer-prep synth` use such relative
// paths, so a dataset folder can be moved). The result is lexically normalised.
std::string resolve_clip_path(const std::string& annotation_file, const std::string& entry);

}  // namespace dfer::data
