// Internal pieces of dfer-predict (predict.h): the face pass over a video and the annotated copy.
#pragma once

#include <torch/torch.h>
#include <opencv2/core.hpp>

#include <string>
#include <vector>

#include "dfer/data/frame_source.h"
#include "dfer/train/predict.h"

namespace dfer::train::detail {

// The square crop box of every frame (full frames when faces are not detected), and how each
// box was found.
struct FaceTrack {
  std::vector<cv::Rect> boxes;
  int64_t detected = 0, tracked = 0;
  std::vector<bool> found;  // per frame: detected or tracked
};

// Pass 1 over `source`: the largest face per frame (cascade on a grey copy whose longer side is at
// most 640 px), followed by template matching through frames the cascade misses, then smoothed
// and enlarged by `margin` (data::smooth_face_boxes). Throws dfer::Error naming `what` when no
// frame has a face.
FaceTrack track_faces(data::FrameSource& source, const std::string& cascade, double margin,
                      const std::string& what, bool progress);

// Pass 2: every frame's box cropped and resized to side x side, as uint8 [N, side, side, 3] RGB.
torch::Tensor face_crops(data::FrameSource& source, const FaceTrack& track, int64_t side);

// Frames are read in chunks of this many (memory stays bounded for long videos).
inline constexpr int64_t kChunk = 64;

// Writes `source` again with the face box, the window's label, the class probability bars and a
// gaze arrow on each frame, as an mp4 (mp4v) at `fps`.
void write_annotated_video(data::FrameSource& source, const FaceTrack& track,
                           const VideoPrediction& video, const std::vector<std::string>& classes,
                           const std::string& path);

}  // namespace dfer::train::detail
