// Parameter groups: layer ids, layer-decay scales and no-decay rules (see param_groups.h).
#include "dfer/train/param_groups.h"

#include <cmath>
#include <map>

#include "dfer/util/strings.h"

namespace dfer::train {

int64_t vit_layer_id(const std::string& name, int64_t num_layers) {
  if (name == "cls_token" || name == "mask_token" || name == "pos_embed" ||
      name == "temporal_pos_embedding")
    return 0;
  if (name.rfind("patch_embed", 0) == 0) return 0;
  // VideoMamba's blocks are `layers.<i>`. The later reference's optimizer knows only `blocks.`,
  // so all its Mamba layers fall into the top group (SPEC-later d); here they decay per layer as
  // the ViT's do, which is what layer decay is for.
  const size_t start = name.rfind("blocks.", 0) == 0 ? 7 : name.rfind("layers.", 0) == 0 ? 7 : 0;
  if (start > 0) {
    // blocks.<i>.rest: the reference takes int(name.split('.')[1]).
    const size_t dot = name.find('.', start);
    const std::string digits =
        name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos)
      return std::stoll(digits) + 1;
  }
  return num_layers + 1;
}

std::vector<double> layer_scales(double layer_decay, int64_t num_layers) {
  std::vector<double> out;
  for (int64_t k = 0; k < num_layers + 2; ++k)
    out.push_back(std::pow(layer_decay, static_cast<double>(num_layers + 1 - k)));
  return out;
}

// temporal_pos_embedding: VideoMamba's no_weight_decay() list (SPEC-videomamba 2.2 item 7).
std::set<std::string> finetune_skip_list() {
  return {"pos_embed", "cls_token", "part_tokens", "lg_region_tokens", "temporal_pos_embedding"};
}

std::set<std::string> pretrain_skip_list() {
  return {"pos_embed", "cls_token", "mask_token", "lg_region_tokens", "temporal_pos_embedding"};
}

bool is_no_decay(const std::string& name, const torch::Tensor& param,
                 const ParamGroupOptions& options) {
  if (param.dim() == 1 || ends_with(name, ".bias")) return true;
  if (options.skip_list.count(name)) return true;
  if (!options.exact_skip_names) {
    const size_t dot = name.rfind('.');
    if (dot != std::string::npos && options.skip_list.count(name.substr(dot + 1))) return true;
  }
  return false;
}

std::vector<ParamGroup> build_param_groups(
    const std::vector<std::pair<std::string, torch::Tensor>>& named_params,
    const ParamGroupOptions& options) {
  const bool layered = options.layer_decay < 1.0;
  const auto scales = layer_scales(options.layer_decay, options.num_layers);
  std::vector<ParamGroup> groups;
  std::map<std::string, size_t> index;
  for (const auto& [name, param] : named_params) {
    if (!param.requires_grad()) continue;
    const bool no_decay = is_no_decay(name, param, options);
    std::string group = no_decay ? "no_decay" : "decay";
    double scale = 1.0;
    if (layered) {
      const int64_t layer = vit_layer_id(name, options.num_layers);
      group = "layer_" + std::to_string(layer) + "_" + group;
      scale = scales[static_cast<size_t>(layer)];
    }
    auto it = index.find(group);
    if (it == index.end()) {
      ParamGroup g;
      g.name = group;
      g.weight_decay = no_decay ? 0.0 : options.weight_decay;
      g.lr_scale = scale;
      index[group] = groups.size();
      groups.push_back(std::move(g));
      it = index.find(group);
    }
    groups[it->second].param_names.push_back(name);
    groups[it->second].params.push_back(param);
  }
  return groups;
}

}  // namespace dfer::train
