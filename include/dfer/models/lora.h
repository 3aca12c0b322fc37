// LoRA (low-rank adaptation) of the attention projections: a frozen Linear W gets a trainable
// update (alpha / rank) B A, A (rank, in) Kaiming-uniform and B (out, rank) zero, so an adapted
// model starts out computing exactly what the frozen one does. The adapter lives on the Linear
// itself (keys <linear>.lora_A, <linear>.lora_B and the scale as buffer <linear>.lora_scale), so a
// checkpoint is self-describing and merge_lora needs no config.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "dfer/io/safetensors.h"

namespace dfer::models {

struct LoraOptions {
  int64_t rank = 8;
  double alpha = 16.0;
};

// Registers the adapter on `linear` (no-op when it has one already: shared attention modules).
void add_lora(torch::nn::LinearImpl& linear, const LoraOptions& options);
bool has_lora(const torch::nn::LinearImpl& linear);

// The adapter's contribution scale * B (A x) for the output rows [row0, row0 + rows) of `linear`
// (rows < 0: all), or an undefined tensor when `linear` has no adapter.
torch::Tensor lora_delta(const torch::nn::LinearImpl& linear, const torch::Tensor& x,
                         int64_t row0 = 0, int64_t rows = -1);

// Adds adapters to every attention projection under `root` (ViT qkv + proj, LGI q + kv + proj);
// returns how many Linear modules got one.
int64_t add_lora_to_attention(torch::nn::Module& root, const LoraOptions& options);

// Folds every adapter of a state dict into its base weight (W += scale * B A, computed in float64
// and cast back) and drops the lora_* keys: the result loads into the model built without LoRA and
// computes the same function. Throws dfer::Error naming the key of an incomplete adapter.
io::NamedTensors merge_lora(const io::NamedTensors& weights, int64_t* merged = nullptr);

}  // namespace dfer::models
