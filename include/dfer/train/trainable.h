// Which parameters a fine-tuning run trains: all of them, or with training.freeze only the head
// and the decoder, and with LoRA also the adapters (the later reference's freeze_encoder rule,
// SPEC-later g). Frozen parameters get requires_grad = false, so the optimizer never sees them.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dfer::train {

struct TrainableCounts {
  int64_t trainable = 0, total = 0;  // parameter elements (shared ones counted once)
};

// freeze or lora: only parameters named head.* / decoder.* (and *lora_* with lora) stay
// trainable; neither: every parameter. Logs the trainable / total counts. Throws
// dfer::UsageError when the rule leaves nothing to train (a model without head).
TrainableCounts apply_trainable_policy(torch::nn::Module& model, bool freeze, bool lora);

// The parameters that require a gradient, each once (shared modules), by their first name: what
// the optimizer is given.
std::vector<std::pair<std::string, torch::Tensor>> trainable_named_parameters(
    const torch::nn::Module& model);

}  // namespace dfer::train
