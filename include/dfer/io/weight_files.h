// Weight files of either kind the suite meets: safetensors (its own format) and official PyTorch
// .pth checkpoints, plus the one-off .pth -> safetensors conversion.
#pragma once

#include <string>

#include "dfer/io/safetensors.h"

namespace dfer::io {

// The model tensors of a weight file: a safetensors file whole, or the state dict that the
// original fine-tune loader would select from a .pth/.pt checkpoint (`model`, `module`, top level).
// The kind is decided by the file's first bytes (a zip or pickle is a checkpoint), not its name.
NamedTensors load_weights_any(const std::string& path);

struct ConvertResult {
  std::string selected_key;  // which dict of the checkpoint held the weights ("" = top level)
  size_t tensors = 0;
  int64_t values = 0;
};

// Converts a .pth checkpoint into a safetensors file with the model tensors under their original
// names (prefixes kept) and the rest of the checkpoint (epoch, args, optimizer summary) as JSON in
// the `dfer.pth_metadata` metadata entry. Written atomically.
ConvertResult convert_pth_to_safetensors(const std::string& in, const std::string& out);

}  // namespace dfer::io
