// Model summary: parameter counts and multiply-accumulate counts per module group, counted like
// fvcore / the reference summary.json (Linear, attention QK^T and AV products, the patch Conv3d;
// norms, softmax, activations and additions are free).
#pragma once

#include "dfer/models/spec.h"

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dfer::models {

struct SummaryRow {
  std::string group;   // "patch_embed", "blocks", "head", "encoder.blocks", "decoder.head", ...
  int64_t params = 0;  // unique parameters whose name falls in the group
  int64_t macs = 0;    // per forward of the given batch
};

struct ModelSummary {
  std::string description;  // describe(spec)
  int64_t batch = 1;
  int64_t num_visible = 0;  // pre-train: visible tokens per clip used for the count
  std::vector<SummaryRow> rows;
  int64_t total_params = 0;      // unique parameters
  int64_t trainable_params = 0;  // unique parameters with requires_grad
  int64_t macs_linear = 0, macs_attention = 0, macs_conv = 0;
  // VideoMamba: the selective scan's multiply-adds (3 per token, channel and state, per
  // direction), which upstream's fvcore count cannot see inside the fused op (SPEC-videomamba 2.1).
  int64_t macs_scan = 0;
  int64_t total_macs() const { return macs_linear + macs_attention + macs_conv + macs_scan; }
  // A table: group, params, GMACs, then totals (GMACs and 2xMAC GFLOPs).
  std::string to_string() const;
};

// Analytic count for one forward of `batch` clips of the spec's input size. VideoMamba counts
// every Mamba projection, the depthwise convolutions and the scan, both directions. Parameters come
// from `model` (built from `spec`). For the pre-train model the encoder sees the visible tokens of
// a mask with `mask_ratio`: the part_window rule (per region-sized window) with local_global
// attention, the tube rule otherwise.
ModelSummary summarize(const torch::nn::Module& model, const ModelSpec& spec, int64_t batch = 1,
                       double mask_ratio = 0.9);

// The MAC count alone (no module needed).
ModelSummary count_macs(const ModelSpec& spec, int64_t batch = 1, double mask_ratio = 0.9);

}  // namespace dfer::models
