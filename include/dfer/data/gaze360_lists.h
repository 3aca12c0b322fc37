// Gaze360 list conversion (dfer-prep gaze360): Gaze360 label lists -> gaze sequence CSVs
// `image 0 pitch yaw`, optionally on square face crops (SPEC-later §c step 1-2). Torch-free
// interface; paths and errors follow the list rules of frame_lists.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dfer/data/frame_lists.h"  // ListSkip

namespace dfer::data {

struct Gaze360Options {
  std::vector<std::string> label_files;  // `rec_x/head/<person>/<frame>.jpg gx gy gz` rows
  std::string image_root;                // the folder the label paths are relative to
  std::string out_dir;
  std::string boxes_file;  // `relative_image_path x y w h` rows (pixels); empty: no cropping
  int size = 224;          // side of the square crops (with boxes_file)
  int min_len = 16;        // in time steps, after gap filling
  int max_gap = 5;
};

struct Gaze360Summary {
  int64_t labels = 0;               // rows read from all label files
  int64_t sequences = 0, rows = 0;  // written, rows including the filled ones
  int64_t filled = 0;               // rows repeated to fill missing frames
  int64_t crops = 0;                // images cropped and written
  int64_t stale_removed = 0;        // sequence CSVs of an earlier run removed first
  std::vector<ListSkip> skipped;    // images without a face box, short sequences
};

// Per label file (split = its file stem): (pitch, yaw) from the gaze vector (gaze.h), rows sorted
// by (recording, person, frame), a new sequence where the recording or person changes or the frame
// step exceeds max_gap. Frames missing inside an allowed gap are filled by repeating the previous
// row, so each row is one time step. Writes `<out_dir>/<split>/<split>_<rec>_<person>_<k>.csv` rows
// `image_path 0 pitch yaw` (dummy class 0: the same files serve regression and combine). With a
// boxes file each image becomes a square crop under `<out_dir>/images/<relative path>` (JPEG).
Gaze360Summary convert_gaze360(const Gaze360Options& options);

// The square a face box (pixels, top-left x, y, width, height) is cropped to: side max(w, h)
// (rounded, >= 1) centred on the box centre; it may reach outside the image (filled black).
struct SquareCrop {
  int x = 0, y = 0, side = 0;
};
SquareCrop face_crop_square(double x, double y, double w, double h);

}  // namespace dfer::data
