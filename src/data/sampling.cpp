// Temporal sampling as the reference computes it (see sampling.h for the rules).
#include "dfer/data/sampling.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "dfer/util/error.h"

namespace dfer::data {

namespace {

void require_positive(int64_t value, const char* what) {
  if (value < 1) {
    throw Error(std::string("temporal sampling: ") + what + " must be >= 1, got " +
                std::to_string(value));
  }
}

// numpy.linspace(start, stop, num) with endpoint: start + i * ((stop - start) / (num - 1)), the
// last element set to stop exactly (same operation order, so the same doubles).
std::vector<double> linspace(double start, double stop, int64_t num) {
  std::vector<double> out;
  if (num <= 0) return out;
  out.reserve(static_cast<size_t>(num));
  if (num == 1) {
    out.push_back(start);
    return out;
  }
  const double step = (stop - start) / static_cast<double>(num - 1);
  for (int64_t i = 0; i < num; ++i) out.push_back(static_cast<double>(i) * step + start);
  out.back() = stop;
  return out;
}

// np.clip(v, lo, hi).astype(np.int64): truncation toward zero after clipping.
int64_t clip_to_int(double v, double lo, double hi) {
  return static_cast<int64_t>(std::min(std::max(v, lo), hi));
}

std::vector<int64_t> short_segment_indices(int64_t seg_len, int64_t clip_len, int64_t rate) {
  const int64_t m = seg_len / rate;
  std::vector<double> points = linspace(0.0, static_cast<double>(seg_len), m);
  points.resize(static_cast<size_t>(std::max<int64_t>(clip_len, m)), static_cast<double>(seg_len));
  std::vector<int64_t> out;
  out.reserve(points.size());
  for (double p : points) out.push_back(clip_to_int(p, 0.0, static_cast<double>(seg_len - 1)));
  return out;
}

std::vector<int64_t> long_segment_indices(int64_t clip_len, int64_t rate, int64_t end) {
  const int64_t start = end - clip_len * rate;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(clip_len));
  for (double p : linspace(static_cast<double>(start), static_cast<double>(end), clip_len)) {
    out.push_back(clip_to_int(p, static_cast<double>(start), static_cast<double>(end - 1)));
  }
  return out;
}

int64_t floor_div(int64_t a, int64_t b) {  // Python's //
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

std::vector<int64_t> train_clip_indices(int64_t num_video_frames, int64_t clip_len,
                                        int64_t sampling_rate, Rng& rng, int64_t num_segments) {
  require_positive(clip_len, "clip_len");
  require_positive(sampling_rate, "sampling_rate");
  require_positive(num_segments, "num_segments");
  const int64_t seg_len = num_video_frames / num_segments;
  if (num_video_frames < 1 || seg_len < 1) {
    throw Error("temporal sampling: a clip of " + std::to_string(num_video_frames) +
                " frames cannot fill " + std::to_string(num_segments) + " segment(s)");
  }
  const int64_t span = clip_len * sampling_rate;
  std::vector<int64_t> all;
  all.reserve(static_cast<size_t>(clip_len * num_segments));
  for (int64_t i = 0; i < num_segments; ++i) {
    std::vector<int64_t> seg;
    if (seg_len <= span) {
      seg = short_segment_indices(seg_len, clip_len, sampling_rate);
    } else {
      const int64_t end = randint(rng, span, seg_len - 1);  // numpy randint(L, seg): [L, seg-1]
      seg = long_segment_indices(clip_len, sampling_rate, end);
    }
    for (int64_t v : seg) all.push_back(v + i * seg_len);
  }
  return all;
}

std::vector<int64_t> train_clip_indices_ending_at(int64_t num_video_frames, int64_t clip_len,
                                                  int64_t sampling_rate, int64_t end) {
  require_positive(clip_len, "clip_len");
  require_positive(sampling_rate, "sampling_rate");
  const int64_t span = clip_len * sampling_rate;
  if (num_video_frames <= span || end < span || end > num_video_frames - 1) {
    throw Error("temporal sampling: end " + std::to_string(end) + " is outside [" +
                std::to_string(span) + ", " + std::to_string(num_video_frames - 1) +
                "] for a clip of " + std::to_string(num_video_frames) + " frames");
  }
  return long_segment_indices(clip_len, sampling_rate, end);
}

std::vector<int64_t> pretrain_clip_indices_from(int64_t num_video_frames, int64_t clip_len,
                                                int64_t sampling_rate, int64_t start) {
  require_positive(num_video_frames, "the number of video frames");
  require_positive(clip_len, "clip_len");
  require_positive(sampling_rate, "sampling_rate");
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(clip_len));
  // The reference keeps a 1-based offset o and advances while o + rate < n.
  int64_t offset = start + 1;
  for (int64_t i = 0; i < clip_len; ++i) {
    out.push_back(offset - 1);
    if (offset + sampling_rate < num_video_frames) offset += sampling_rate;
  }
  return out;
}

std::vector<int64_t> pretrain_clip_indices(int64_t num_video_frames, int64_t clip_len,
                                           int64_t sampling_rate, Rng& rng, int64_t num_segments) {
  require_positive(num_video_frames, "the number of video frames");
  require_positive(num_segments, "num_segments");
  const int64_t skip = clip_len * sampling_rate;
  const int64_t average = floor_div(num_video_frames - skip + 1, num_segments);
  std::vector<int64_t> starts(static_cast<size_t>(num_segments), 0);
  if (average > 0) {
    for (int64_t k = 0; k < num_segments; ++k)
      starts[k] = k * average + randint(rng, 0, average - 1);
  } else if (num_video_frames > std::max(num_segments, skip)) {
    for (auto& s : starts) s = randint(rng, 0, num_video_frames - skip);
    std::sort(starts.begin(), starts.end());
  }
  std::vector<int64_t> all;
  all.reserve(static_cast<size_t>(clip_len * num_segments));
  for (int64_t s : starts) {
    for (int64_t v : pretrain_clip_indices_from(num_video_frames, clip_len, sampling_rate, s)) {
      all.push_back(v);
    }
  }
  return all;
}

std::vector<int64_t> test_frame_indices(int64_t num_video_frames, int64_t sampling_rate,
                                        int64_t clip_len) {
  require_positive(num_video_frames, "the number of video frames");
  require_positive(sampling_rate, "sampling_rate");
  std::vector<int64_t> out;
  for (int64_t i = 0; i < num_video_frames; i += sampling_rate) out.push_back(i);
  while (static_cast<int64_t>(out.size()) < clip_len) out.push_back(out.back());
  return out;
}

int64_t test_temporal_start(int64_t num_sampled, int64_t clip_len, int64_t num_segments,
                            int64_t segment) {
  require_positive(num_segments, "test_num_segment");
  if (segment < 0 || segment >= num_segments) {
    throw Error("temporal sampling: test segment " + std::to_string(segment) + " outside [0, " +
                std::to_string(num_segments) + ")");
  }
  if (num_segments == 1) return 0;
  const double step = std::max(
      static_cast<double>(num_sampled - clip_len) / static_cast<double>(num_segments - 1), 0.0);
  return static_cast<int64_t>(static_cast<double>(segment) * step);
}

std::vector<int64_t> test_view_indices(int64_t num_video_frames, int64_t sampling_rate,
                                       int64_t clip_len, int64_t num_segments, int64_t segment) {
  const std::vector<int64_t> all = test_frame_indices(num_video_frames, sampling_rate, clip_len);
  const int64_t n = static_cast<int64_t>(all.size());
  const int64_t start = test_temporal_start(n, clip_len, num_segments, segment);
  return std::vector<int64_t>(all.begin() + start, all.begin() + std::min(n, start + clip_len));
}

int64_t test_spatial_start(int64_t long_side, int64_t short_side, int64_t num_crops, int64_t crop) {
  require_positive(num_crops, "test_num_crop");
  if (crop < 0 || crop >= num_crops) {
    throw Error("spatial sampling: test crop " + std::to_string(crop) + " outside [0, " +
                std::to_string(num_crops) + ")");
  }
  if (num_crops == 1) return 0;
  const double step =
      static_cast<double>(long_side - short_side) / static_cast<double>(num_crops - 1);
  return static_cast<int64_t>(static_cast<double>(crop) * step);
}

std::vector<int64_t> gaze_clip_frames(int64_t last_frame, int64_t clip_len,
                                      const std::function<bool(int64_t)>& exists) {
  require_positive(clip_len, "clip_len");
  if (!exists(last_frame)) {
    throw Error("gaze clip: labelled frame " + std::to_string(last_frame) + " does not exist");
  }
  std::vector<int64_t> frames;  // newest first while walking back
  int64_t frame = last_frame;
  while (static_cast<int64_t>(frames.size()) < clip_len && exists(frame)) {
    frames.push_back(frame);
    --frame;
  }
  const int64_t earliest = frames.back();
  while (static_cast<int64_t>(frames.size()) < clip_len) frames.push_back(earliest);
  std::reverse(frames.begin(), frames.end());
  return frames;
}

std::vector<int64_t> sequence_window_starts(int64_t sequence_len, int64_t clip_len,
                                            int64_t sampling_rate, int64_t clip_stride, Rng& rng) {
  require_positive(clip_len, "clip_len");
  require_positive(sampling_rate, "sampling_rate");
  require_positive(clip_stride, "clip_stride");
  const int64_t last = sequence_len - clip_len * sampling_rate;
  std::vector<int64_t> starts;
  if (last < 0) return starts;
  if (clip_stride == kRandomWindowStride) {
    starts.push_back(randint(rng, 0, last));
    return starts;
  }
  for (int64_t s = 0; s <= last; s += clip_stride) starts.push_back(s);
  return starts;
}

std::vector<int64_t> sequence_window_indices(int64_t start, int64_t clip_len,
                                             int64_t sampling_rate) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(std::max<int64_t>(clip_len, 0)));
  for (int64_t i = 0; i < clip_len; ++i) out.push_back(start + i * sampling_rate);
  return out;
}

}  // namespace dfer::data
