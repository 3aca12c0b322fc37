// Resizing frames as the reference does: Pillow's Image.resize with BILINEAR, which widens its
// triangle filter by the scale factor when shrinking (antialiasing) and works in 22-bit fixed
// point, horizontal pass first, each pass rounded to 8 bits. OpenCV's INTER_LINEAR samples only
// the 2 nearest pixels, so a 256 -> 160 shrink aliased where the reference's did not (SPEC §3.3).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dfer::data {

// `src`: in_h rows of in_w pixels of `channels` interleaved 8-bit values, rows `src_stride` bytes
// apart; `dst`: out_h x out_w x channels, contiguous. Channel order is kept.
void pil_bilinear_resize(const uint8_t* src, int in_h, int in_w, size_t src_stride, int channels,
                         uint8_t* dst, int out_h, int out_w);

}  // namespace dfer::data
