// Strict JPEG decoding for the frame sources (frame_internal.h): libjpeg reports damaged entropy
// data only as a warning and fills in garbage, which OpenCV's imdecode passes on as a good image.
// Here the first warning is an error naming the file.
#include <csetjmp>
#include <cstdio>
#include <string>

#include <jpeglib.h>

#include "dfer/util/error.h"
#include "frame_internal.h"

namespace dfer::data::detail {

namespace {

struct StrictErrors {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<StrictErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// Level -1 is a warning (corrupt data the decoder worked around); levels >= 0 are trace output.
void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_error(cinfo);
}

// The two libjpeg stages, each behind its own setjmp with plain-data locals only (a longjmp must
// not cross a C++ object's lifetime). False when libjpeg reported an error or a warning.
bool read_header(jpeg_decompress_struct* cinfo, StrictErrors* err, const uint8_t* data,
                 std::size_t size) {
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  return true;
}

bool read_pixels(jpeg_decompress_struct* cinfo, StrictErrors* err, uint8_t* out, std::size_t step) {
  if (setjmp(err->jump)) return false;
  // The settings OpenCV and PIL decode with (libjpeg's defaults: ISLOW DCT, fancy upsampling),
  // straight into BGR.
  cinfo->out_color_space = JCS_EXT_BGR;
  jpeg_start_decompress(cinfo);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = out + step * cinfo->output_scanline;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

cv::Mat decode_jpeg_bgr_strict(const std::vector<uint8_t>& bytes, const std::string& file) {
  jpeg_decompress_struct cinfo{};
  StrictErrors err{};
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  err.base.emit_message = on_message;
  auto fail = [&] {
    jpeg_destroy_decompress(&cinfo);
    return Error("corrupt image " + file + ": " + err.message);
  };
  if (!read_header(&cinfo, &err, bytes.data(), bytes.size())) throw fail();
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);  // libjpeg cannot convert these to BGR; OpenCV can
    return cv::Mat();
  }
  // The output size is the image size (no scaling requested).
  cv::Mat img(static_cast<int>(cinfo.image_height), static_cast<int>(cinfo.image_width), CV_8UC3);
  if (!read_pixels(&cinfo, &err, img.data, img.step[0])) throw fail();
  jpeg_destroy_decompress(&cinfo);
  return img;
}

}  // namespace dfer::data::detail
