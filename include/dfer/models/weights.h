// Weights in and out of a module by upstream state-dict name: a tolerant loader that reports
// missing / unexpected / mismatched tensors, safetensors save, and the fine-tune loading rules
// for pre-trained checkpoints (SPEC §1.13).
#pragma once

#include "dfer/io/safetensors.h"

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace dfer::models {

struct ShapeMismatch {
  std::string name;
  std::vector<int64_t> expected;  // the module's shape
  std::vector<int64_t> got;       // the file's shape
  std::string reason;             // "shape", "dtype <name>", "duplicate"
};

struct LoadReport {
  std::vector<std::string> loaded;        // names copied into the module
  std::vector<std::string> missing;       // in the module, not in the input (left as they were)
  std::vector<std::string> unexpected;    // in the input, not in the module (ignored)
  std::vector<ShapeMismatch> mismatched;  // present in both but not loadable (left as they were)
  std::vector<std::string> notes;         // adaptations applied before loading (prefixes, drops)

  bool clean() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // Multi-line, upstream-log style: "Weights of X not initialized from pretrained model: [...]",
  // "Weights from pretrained model not used in X: [...]", size mismatches, notes.
  std::string summary(const std::string& model_name = "model") const;
};

// The module's state as upstream's state_dict(): parameters then buffers, in registration order,
// detached (shared modules appear under each name).
io::NamedTensors state_dict(const torch::nn::Module& module);

// Copies every tensor whose name and shape match into `module` (no grad; dtype converted for
// floating tensors). Never throws for bad content; with `strict` it throws dfer::Error carrying
// the summary when the report is not clean (after loading what could be loaded).
LoadReport load_state(torch::nn::Module& module, const io::NamedTensors& tensors,
                      bool strict = false);

// Writes state_dict(module) to a safetensors file (atomic, via io::save_safetensors).
void save_state(const torch::nn::Module& module, const std::string& path,
                const std::map<std::string, std::string>& metadata = {});
// Reads a safetensors file and load_state()s it; errors name the file.
LoadReport load_state_file(torch::nn::Module& module, const std::string& path, bool strict = false);

// Upstream's pre-trained -> fine-tune key rules: strip `module.` (DDP), drop head.weight/bias
// when their shape differs from the module's, then strip one leading `backbone.` or `encoder.`.
// The result is what load_state() gets; `notes` (optional) receives one line per change.
io::NamedTensors adapt_pretrained_keys(const io::NamedTensors& tensors,
                                       const torch::nn::Module& target,
                                       std::vector<std::string>* notes = nullptr);

// adapt_pretrained_keys + non-strict load_state. Keys that only the pre-train model has
// (mask_token, decoder.*, encoder_to_decoder.*, the encoder's final norm.* when the target uses
// fc_norm) end up in `unexpected`, exactly what the original log lists as "not used".
LoadReport load_pretrained_for_finetune(torch::nn::Module& module, const io::NamedTensors& tensors);

}  // namespace dfer::models
