// Temporal sampling: which frame indices make a clip, exactly as the reference computes them
// (SPEC 2.5 pre-training, 3.3.2 fine-tuning, 3.5 test views, 5.2 and SPEC-later b for gaze).
// Pure functions; every random choice comes from the Rng passed in. Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "dfer/data/random.h"

namespace dfer::data {

// Fine-tuning / validation sampling (VideoClsDatasetFrame.load_video). With seg = n / segments
// and L = clip_len * rate, per segment:
//   seg <= L: floor(linspace(0, seg, seg / rate)) padded with seg to clip_len, clipped to seg-1;
//   seg >  L: end uniform in [L, seg-1], start = end - L,
//             floor(clip(linspace(start, end, clip_len), start, end - 1)).
// Segment i is offset by i * seg; the result has clip_len * segments entries.
// Throws dfer::Error when a segment has no frame.
std::vector<int64_t> train_clip_indices(int64_t num_video_frames, int64_t clip_len,
                                        int64_t sampling_rate, Rng& rng, int64_t num_segments = 1);

// The seg > L branch with a given end index (L <= end <= n - 1), for tests and replays.
std::vector<int64_t> train_clip_indices_ending_at(int64_t num_video_frames, int64_t clip_len,
                                                  int64_t sampling_rate, int64_t end);

// Pre-training sampling (VideoMAE dataset, SPEC 2.5): start offsets as _sample_train_indices
// (one segment: start uniform in [0, n - clip_len*rate], 0 when the video is shorter), then per
// start `clip_len` indices stepping by `rate`; the index stops advancing once index + rate would
// reach n - 1 (so the last frame is never reached by a step and short videos repeat a frame).
std::vector<int64_t> pretrain_clip_indices(int64_t num_video_frames, int64_t clip_len,
                                           int64_t sampling_rate, Rng& rng,
                                           int64_t num_segments = 1);

// The index walk of one segment from a given 0-based start.
std::vector<int64_t> pretrain_clip_indices_from(int64_t num_video_frames, int64_t clip_len,
                                                int64_t sampling_rate, int64_t start);

// Test-time frames (SPEC 3.5): 0, r, 2r, ... < n, padded with the last index up to clip_len.
std::vector<int64_t> test_frame_indices(int64_t num_video_frames, int64_t sampling_rate,
                                        int64_t clip_len);

// Start of temporal view k among `num_segments` over `num_sampled` test frames:
// int(k * max((num_sampled - clip_len) / (num_segments - 1), 0)). The reference divides by zero
// for one segment; here one segment starts at 0.
int64_t test_temporal_start(int64_t num_sampled, int64_t clip_len, int64_t num_segments,
                            int64_t segment);

// The clip_len frame indices of temporal test view `segment`.
std::vector<int64_t> test_view_indices(int64_t num_video_frames, int64_t sampling_rate,
                                       int64_t clip_len, int64_t num_segments, int64_t segment);

// Offset of spatial test crop `crop` along the long side: int(crop * (long - short) /
// (num_crops - 1)); 0 for a single crop (the reference divides by zero there).
int64_t test_spatial_start(int64_t long_side, int64_t short_side, int64_t num_crops, int64_t crop);

// Gaze360 clip of SPEC 5.2: frame numbers of the clip_len frames ending at `last_frame`, walking
// back while `exists(frame)` holds (a gap stops the walk), front-padded with the earliest frame
// found; chronological order. Throws dfer::Error when `last_frame` itself does not exist.
std::vector<int64_t> gaze_clip_frames(int64_t last_frame, int64_t clip_len,
                                      const std::function<bool(int64_t)>& exists);

// The clip_stride value meaning "one random window per sequence, chosen once".
constexpr int64_t kRandomWindowStride = 999;

// Window starts over one per-sequence CSV of `sequence_len` frames (SPEC-later b):
// 0, stride, 2*stride, ... <= sequence_len - clip_len*rate; stride 999 draws one start uniformly
// in that range. Sequences shorter than clip_len*rate give no window.
std::vector<int64_t> sequence_window_starts(int64_t sequence_len, int64_t clip_len,
                                            int64_t sampling_rate, int64_t clip_stride, Rng& rng);

// start, start + rate, ... (clip_len entries).
std::vector<int64_t> sequence_window_indices(int64_t start, int64_t clip_len,
                                             int64_t sampling_rate);

}  // namespace dfer::data
