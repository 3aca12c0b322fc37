// Optimizer parameter groups as the reference builds them (optim_factory.get_parameter_groups):
// layer-wise LR decay for fine-tuning (SPEC 3.2) and the no-weight-decay rules, including the
// pre-training quirk that `encoder.lg_region_tokens` does get weight decay (SPEC 8.5).
#pragma once

#include <torch/torch.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace dfer::train {

struct ParamGroup {
  std::string name;  // "layer_3_decay", "no_decay", ... (the reference's group keys)
  std::vector<std::string> param_names;
  std::vector<torch::Tensor> params;
  double weight_decay = 0.0;  // 0 = no-decay group (never scheduled)
  double lr_scale = 1.0;
};

// get_num_layer_for_vit: cls_token / mask_token / pos_embed and patch_embed.* -> 0,
// blocks.<i>.* -> i + 1, everything else (region tokens, fc_norm, head) -> num_layers + 1.
int64_t vit_layer_id(const std::string& name, int64_t num_layers);

// LayerDecayValueAssigner scales: layer_decay^(num_layers + 1 - k), k = 0..num_layers + 1.
std::vector<double> layer_scales(double layer_decay, int64_t num_layers);

// The reference's no_weight_decay() name lists (matched against full parameter names).
std::set<std::string> finetune_skip_list();  // pos_embed, cls_token, part_tokens, lg_region_tokens
std::set<std::string> pretrain_skip_list();  // pos_embed, cls_token, mask_token, lg_region_tokens

struct ParamGroupOptions {
  double weight_decay = 0.05;
  // Layer-wise decay; applied when < 1 (as upstream builds the assigner only then).
  double layer_decay = 1.0;
  int64_t num_layers = 12;  // encoder depth
  std::set<std::string> skip_list;
  // The skip list is compared with full names (upstream). When false, a parameter whose last
  // name component is in the skip list is exempt too, which removes the pre-training quirk of
  // SPEC 8.5 (`encoder.lg_region_tokens` decayed).
  bool exact_skip_names = true;
};

// True when the reference puts `name` into a no-decay group: 1-D tensors, names ending in
// ".bias", skip-list names.
bool is_no_decay(const std::string& name, const torch::Tensor& param,
                 const ParamGroupOptions& options);

// Groups in first-appearance order (as the reference's dict), parameters in the given order;
// parameters without requires_grad are left out.
std::vector<ParamGroup> build_param_groups(
    const std::vector<std::pair<std::string, torch::Tensor>>& named_params,
    const ParamGroupOptions& options);

}  // namespace dfer::train
