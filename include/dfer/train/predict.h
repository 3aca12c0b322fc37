// dfer-predict: emotions (and gaze) of the faces in a video, a frame folder or a CSV of clips with
// a trained model. Faces are found with OpenCV's Haar cascade (Debian's opencv-data), followed
// between detections by template matching, smoothed, cropped square with a margin and resized like
// the training data; sliding windows of num_frames x sampling_rate frames go through the model in
// batches. Outputs a per-window timeline (CSV and JSON), a per-video summary and, on request, an
// annotated video.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace dfer::train {

struct PredictOptions {
  std::string config;                   // the run's config.yaml (or the recipe it was trained with)
  std::string weights;                  // safetensors, a training checkpoint or an official .pth
  std::vector<std::string> inputs;      // video files, frame folders, CSV lists of either
  std::string out_dir = "predictions";  // timeline.csv, timeline.json, summary.json
  std::string annotate;                 // annotated video of the (single) input; "" = none
  int64_t stride = 0;                   // frames between window starts; 0 = half a window's span
  int64_t batch = 8;                    // windows per forward pass
  std::string device;                   // "" = the config's system.device
  std::string cascade;                  // "" = haarcascade_frontalface_alt2.xml of opencv-data
  double margin = 1.25;                 // crop side / smoothed face side
  bool detect_faces = true;             // false: the frames are face crops already
  double folder_fps = 25.0;             // frame rate of frame folders (videos carry their own)
  bool progress = true;
};

struct WindowPrediction {
  int64_t first = 0, last = 0;    // frame indices the window spans (inclusive)
  double start_s = 0, end_s = 0;  // the same in seconds
  int64_t face_frames = 0;        // of its sampled frames, those with a detected or tracked face
  int64_t top = -1;               // argmax class (-1 for gaze-only models)
  std::vector<float> probs;       // softmax over the classes
  std::optional<std::array<float, 2>> gaze;  // (pitch, yaw) radians
};

struct VideoPrediction {
  std::string input;
  int64_t frames = 0;
  double fps = 0;
  int64_t detected = 0;      // frames where the cascade found a face
  int64_t tracked = 0;       // frames where the face was followed by template matching instead
  bool face_search = false;  // whether faces were searched (false with --no-face-detect)
  std::vector<WindowPrediction> windows;
  std::string error;  // non-empty: this input failed (the message names it), no windows
};

struct PredictResult {
  std::vector<std::string> class_names;  // empty for gaze-only models
  bool gaze = false;
  std::vector<VideoPrediction> videos;
};

// Runs the model over every input. An input that cannot be read, holds no frame or no face gets
// its `error` set and the others still run; bad options, config or weights throw dfer::UsageError.
PredictResult predict(const PredictOptions& options);

// Writes timeline.csv, timeline.json and summary.json into `out_dir` (created).
void write_predictions(const PredictResult& result, const std::string& out_dir);

// One line per video: frames, faces, windows, the most frequent top class and mean gaze.
std::string describe(const PredictResult& result);

}  // namespace dfer::train
