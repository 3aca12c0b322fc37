// Reader for PyTorch .pth checkpoints (torch.save zip format) without Python: LibTorch's zip reader
// plus the restricted unpickler of pickle.h; nothing in the file is ever executed.
#pragma once

#include <torch/torch.h>

#include "dfer/io/pickle.h"
#include "dfer/io/safetensors.h"

#include <string>
#include <vector>

namespace dfer::io {

// A whole checkpoint: the inert value tree of data.pkl with every tensor materialised on the CPU.
// Tensors are views (as_strided) of one tensor per storage record, so tensors that shared a
// storage in Python share memory here too (e.g. a transposed view and its base).
struct PthFile {
  std::string path;
  std::string archive;                 // the zip's top folder (torch.save names it after the file)
  pickle::Document doc;                // the tree; Tensor nodes index `tensors`
  std::vector<torch::Tensor> tensors;  // tensors[v.i] for every Tensor node v

  const pickle::Value& root() const { return doc.root(); }
  // The tensor of a Tensor node; throws dfer::Error naming the file for any other node.
  const torch::Tensor& tensor(const pickle::Value& v) const;
};

// Reads a torch.save zip checkpoint. Legacy (pre-1.6, non-zip) files are refused with a message
// that gives the one-line Python re-save; unreadable or corrupt files throw dfer::Error naming
// the path.
PthFile read_pth(const std::string& path);

// Picks the model state dict like the original fine-tune loader: `model`, then `module`, else
// the top-level dict itself if it maps names to tensors. Order is kept; key prefixes (`module.`,
// `encoder.`) are left as stored. `selected_key` receives "model", "module" or "" (top level).
// Throws dfer::Error if no name->tensor dict is found.
NamedTensors state_dict_from(const PthFile& file, std::string* selected_key = nullptr);
NamedTensors load_pth_state_dict(const std::string& path, std::string* selected_key = nullptr);

// JSON text of the non-tensor parts of the top-level dict (epoch, args Namespace fields, scaler,
// an optimizer summary, ...) for storing as metadata next to converted weights. `skip_key`
// (usually the selected state-dict key) is left out; any other name->tensor dict is summarised
// by its tensor count; tensors elsewhere appear as {"tensor": {"dtype", "shape"}}; an optimizer
// dict keeps param_groups (with `params` reduced to a count) and summarises `state`.
std::string pth_metadata_json(const PthFile& file, const std::string& skip_key = "",
                              int indent = -1);

// The one-line Python command that re-saves `in` in the zip format as `out` (used in messages).
std::string pth_resave_command(const std::string& in, const std::string& out);

}  // namespace dfer::io
