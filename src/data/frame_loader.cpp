// FrameLoader over the frame sources of frame_source.h (see dataset.h).
#include "dfer/data/dataset.h"
#include "dfer/data/frame_source.h"

namespace dfer::data {

FrameLoader make_frame_loader(const std::string& annotation_file, int out_h, int out_w) {
  return [annotation_file, out_h, out_w](const io::AnnotationRow& row, const IndexPicker& pick) {
    // One source per call: sources are not thread-safe, and opening one is cheap.
    std::unique_ptr<FrameSource> source =
        open_frame_source(resolve_clip_path(annotation_file, row.path));
    return source->read(pick(source->num_frames()), out_h, out_w);
  };
}

}  // namespace dfer::data
