// The embedded default dataset: procedurally rendered face videos (OpenCV drawing, no downloads)
// whose 7 DFEW emotion classes differ in facial dynamics, with per-frame gaze labels, written in
// the original on-disk layouts (frame folders, "path label" lists, per-sequence frame CSVs).
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dfer::data {

// DFEW label order (SPEC §4.2).
inline constexpr int kSynthNumClasses = 7;
inline constexpr std::array<const char*, kSynthNumClasses> kSynthClassNames = {
    "Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear"};

struct SynthOptions {
  int64_t videos = 700;
  uint64_t seed = 0;
  int size = 112;       // square frame side in pixels
  int min_frames = 32;  // frames per clip, uniform in [min_frames, max_frames]
  int max_frames = 48;
  int jpeg_quality = 90;
  int threads = 0;  // rendering threads; <= 0: hardware concurrency (output does not depend on it)
  double train_fraction = 0.70;  // per class; the rest is split evenly into val and test
  // Size of the facial features (eyes, brows, nose, mouth) relative to the default face, and the
  // weakest apex intensity of an expressive clip. Larger features and stronger expressions make
  // the task easier to learn for a tiny model in a short demo; 1.0 / 0.45 is the subtle setting.
  double feature_scale = 1.35;
  double min_intensity = 0.6;
  // Framing: 1 shows head and shoulders; larger values zoom in on the face like the aligned face
  // crops of DFEW / FERV39k (1.6: brows to chin fill the frame), so small frames keep the detail.
  double face_zoom = 1.0;
};

// One rendered clip and the ground truth behind it.
struct SynthVideo {
  int label = 0;
  torch::Tensor frames;           // uint8 [T, size, size, 3], RGB
  std::vector<float> pitch, yaw;  // per frame gaze in radians (pitch > 0 up, yaw > 0 image right)
  std::vector<float> intensity;   // per frame expression intensity in [0, 1]
  int onset = 0, apex_begin = 0, apex_end = 0, offset_end = 0;  // frame numbers of the phases
};

// Renders clip `index` of the dataset with `options.seed` as it would be written, except that the
// label is given (the dataset draws labels balanced and shuffled). Deterministic.
SynthVideo render_synth_video(const SynthOptions& options, int64_t index, int label);

struct SynthSummary {
  int64_t videos = 0, frames = 0;
  std::array<int64_t, kSynthNumClasses> per_class{};
  std::array<int64_t, 3> per_split{};  // train, val, test
  double seconds = 0;
};

// Writes the dataset under `out_dir` (created; existing clip folders are overwritten):
//   clips/NNNNN/NNNNN.jpg            one frame folder per clip, frames 00001.jpg ... (1-based)
//   train.csv val.csv test.csv       "clips/NNNNN <label>"               emotion (SPEC §4.1)
//   pretrain.csv                     "clips/NNNNN 0"                     unlabeled, train clips
//   gaze_{train,val,test}.csv        "clips/NNNNN 0 <pitch> <yaw>"       clip gaze (mean over
//   frames) combine_{train,val,test}.csv     "clips/NNNNN <label> <pitch> <yaw>"
//   gaze/{train,val,test}/NNNNN.csv  "../../clips/NNNNN/00001.jpg 0 <pitch> <yaw>" one row per
//   frame combine/{same}/NNNNN.csv         "../../clips/NNNNN/00001.jpg <label> <pitch> <yaw>"
//   (SPEC-later §b;
//                                    the clip label is broadcast to its frames, as the relabel
//                                    does)
//   synth.json                       options and per-clip ground truth (phases, intensity, gaze)
//   README.md                        this layout
// Paths in lists are relative to the list's own folder (resolve_clip_path). Same options -> the
// same bytes, whatever the thread count. Labels are balanced (video i of a shuffled round-robin)
// and splits are stratified per class. Throws dfer::UsageError on invalid options.
SynthSummary write_synth_dataset(const std::string& out_dir, const SynthOptions& options);

// One PNG for eyeballing the generator: one row per class, `columns` frames evenly spaced over the
// clip (first and last included), a label strip on the left. `scale` enlarges each frame.
void write_synth_contact_sheet(const std::string& png_path, const SynthOptions& options,
                               int columns = 10, int scale = 2);

}  // namespace dfer::data
