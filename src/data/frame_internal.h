// Internal helpers shared by the frame sources and the packer (not part of the public API).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dfer/data/frame_source.h"

namespace dfer::data::detail {

// Resizes `src` (8-bit, 3 channels) to out_h x out_w with cv::INTER_LINEAR (no-op when the size
// already matches) and writes it into the contiguous HWC buffer `dst`, converting BGR -> RGB when
// `src_is_bgr`.
void store_frame(const cv::Mat& src, bool src_is_bgr, int out_h, int out_w, uint8_t* dst);

// Output size for a read(): the requested one, or the stored one when both are 0.
void resolve_out_size(int stored_h, int stored_w, int& out_h, int& out_w, const std::string& what);

// Throws unless every index is in [0, n).
void check_indices(const std::vector<int64_t>& indices, int64_t n, const std::string& what);

std::unique_ptr<FrameSource> open_folder_source(const std::string& folder);
std::unique_ptr<FrameSource> open_video_source(const std::string& file);

// Decodes an image file to BGR (validated, see read_image_rgb).
cv::Mat decode_image_bgr(const std::string& file);

// Decodes JPEG bytes to BGR with libjpeg, treating its first warning (damaged entropy data, a
// premature end) as an error naming `file` (dfer::Error). An empty Mat for CMYK/YCCK files, which
// the caller decodes otherwise.
cv::Mat decode_jpeg_bgr_strict(const std::vector<uint8_t>& bytes, const std::string& file);

}  // namespace dfer::data::detail
