// Reference fixture config.json -> ModelSpec (constructor argument names of the Python classes).
#include "dfer/models/parity.h"

#include "dfer/util/error.h"

#include <fmt/format.h>

#include <cstdlib>
#include <functional>
#include <map>

namespace dfer::models {

namespace {

using json = nlohmann::json;
using Setter = std::function<void(ModelSpec&, const json&)>;

int64_t as_int(const json& v) {
  return v.get<int64_t>();
}

std::string as_opt_string(const json& v) {
  return v.is_null() ? "" : v.get<std::string>();
}

// "partial(nn.LayerNorm, eps=1e-6)" -> 1e-6
double norm_eps_of(const json& v) {
  const auto s = v.get<std::string>();
  if (s.find("LayerNorm") == std::string::npos)
    throw Error(fmt::format("norm_layer '{}' is not a LayerNorm", s));
  const auto at = s.find("eps=");
  if (at == std::string::npos) return 1e-5;  // nn.LayerNorm default
  return std::strtod(s.c_str() + at + 4, nullptr);
}

void require_value(const json& v, const json& allowed, const char* what) {
  if (v != allowed)
    throw Error(fmt::format("{} = {} is not supported (only {})", what, v.dump(), allowed.dump()));
}

std::map<std::string, Setter> common_setters() {
  std::map<std::string, Setter> m;
  m["img_size"] = [](ModelSpec& s, const json& v) { s.img_size = as_int(v); };
  m["patch_size"] = [](ModelSpec& s, const json& v) { s.patch_size = as_int(v); };
  m["mlp_ratio"] = [](ModelSpec& s, const json& v) { s.mlp_ratio = v.get<double>(); };
  m["qkv_bias"] = [](ModelSpec& s, const json& v) { s.qkv_bias = v.get<bool>(); };
  m["qk_scale"] = [](ModelSpec&, const json& v) { require_value(v, nullptr, "qk_scale"); };
  m["drop_rate"] = [](ModelSpec& s, const json& v) { s.drop_rate = v.get<double>(); };
  m["attn_drop_rate"] = [](ModelSpec& s, const json& v) { s.attn_drop_rate = v.get<double>(); };
  m["drop_path_rate"] = [](ModelSpec& s, const json& v) { s.drop_path_rate = v.get<double>(); };
  m["init_values"] = [](ModelSpec& s, const json& v) {
    s.init_values = v.is_null() ? 0.0 : v.get<double>();
  };
  m["use_learnable_pos_emb"] = [](ModelSpec&, const json& v) {
    require_value(v, false, "use_learnable_pos_emb");
  };
  m["tubelet_size"] = [](ModelSpec& s, const json& v) { s.tubelet_size = as_int(v); };
  m["attn_type"] = [](ModelSpec& s, const json& v) { s.attn_type = v.get<std::string>(); };
  m["lg_region_size"] = [](ModelSpec& s, const json& v) {
    auto r = v.get<std::vector<int64_t>>();
    if (r.size() != 3) throw Error("lg_region_size must have 3 entries");
    s.lg_region_size = {r[0], r[1], r[2]};
  };
  m["lg_first_attn_type"] = [](ModelSpec& s, const json& v) {
    s.lg_first_attn_type = v.get<std::string>();
  };
  m["lg_third_attn_type"] = [](ModelSpec& s, const json& v) {
    s.lg_third_attn_type = v.get<std::string>();
  };
  m["lg_attn_param_sharing_first_third"] = [](ModelSpec& s, const json& v) {
    s.lg_attn_param_sharing_first_third = v.get<bool>();
  };
  m["lg_attn_param_sharing_all"] = [](ModelSpec& s, const json& v) {
    s.lg_attn_param_sharing_all = v.get<bool>();
  };
  m["lg_no_second"] = [](ModelSpec& s, const json& v) { s.lg_no_second = v.get<bool>(); };
  m["lg_no_third"] = [](ModelSpec& s, const json& v) { s.lg_no_third = v.get<bool>(); };
  m["norm_layer"] = [](ModelSpec& s, const json& v) { s.norm_eps = norm_eps_of(v); };
  return m;
}

std::map<std::string, Setter> finetune_setters() {
  auto m = common_setters();
  m["in_chans"] = [](ModelSpec& s, const json& v) { s.in_chans = as_int(v); };
  m["num_classes"] = [](ModelSpec& s, const json& v) { s.num_classes = as_int(v); };
  m["embed_dim"] = [](ModelSpec& s, const json& v) { s.embed_dim = as_int(v); };
  m["depth"] = [](ModelSpec& s, const json& v) { s.depth = as_int(v); };
  m["num_heads"] = [](ModelSpec& s, const json& v) { s.num_heads = as_int(v); };
  m["init_scale"] = [](ModelSpec& s, const json& v) { s.init_scale = v.get<double>(); };
  m["all_frames"] = [](ModelSpec& s, const json& v) { s.num_frames = as_int(v); };
  m["use_mean_pooling"] = [](ModelSpec& s, const json& v) { s.use_mean_pooling = v.get<bool>(); };
  m["keep_temporal_dim"] = [](ModelSpec&, const json& v) {
    require_value(v, false, "keep_temporal_dim");
  };
  m["head_activation_func"] = [](ModelSpec& s, const json& v) {
    s.head_activation = as_opt_string(v);
  };
  m["lg_classify_token_type"] = [](ModelSpec& s, const json& v) {
    s.lg_classify_token_type = v.get<std::string>();
  };
  return m;
}

std::map<std::string, Setter> pretrain_setters() {
  auto m = common_setters();
  m["encoder_in_chans"] = [](ModelSpec& s, const json& v) { s.in_chans = as_int(v); };
  m["encoder_num_classes"] = [](ModelSpec&, const json& v) {
    require_value(v, 0, "encoder_num_classes");
  };
  m["encoder_embed_dim"] = [](ModelSpec& s, const json& v) { s.embed_dim = as_int(v); };
  m["encoder_depth"] = [](ModelSpec& s, const json& v) { s.depth = as_int(v); };
  m["encoder_num_heads"] = [](ModelSpec& s, const json& v) { s.num_heads = as_int(v); };
  m["decoder_num_classes"] = [](ModelSpec&, const json&) {};  // checked after all keys
  m["decoder_embed_dim"] = [](ModelSpec& s, const json& v) { s.decoder_embed_dim = as_int(v); };
  m["decoder_depth"] = [](ModelSpec& s, const json& v) { s.decoder_depth = as_int(v); };
  m["decoder_num_heads"] = [](ModelSpec& s, const json& v) { s.decoder_num_heads = as_int(v); };
  return m;
}

// VideoMamba's VisionMamba constructor. The fused-kernel switches only choose how the same
// arithmetic runs upstream, but only the configuration this model implements (RMSNorm, fp32
// residual, fused add+norm, bidirectional v2 mixer) is accepted.
std::map<std::string, Setter> videomamba_setters() {
  std::map<std::string, Setter> m;
  m["img_size"] = [](ModelSpec& s, const json& v) { s.img_size = as_int(v); };
  m["patch_size"] = [](ModelSpec& s, const json& v) { s.patch_size = as_int(v); };
  m["depth"] = [](ModelSpec& s, const json& v) { s.depth = as_int(v); };
  m["embed_dim"] = [](ModelSpec& s, const json& v) { s.embed_dim = as_int(v); };
  m["channels"] = [](ModelSpec& s, const json& v) { s.in_chans = as_int(v); };
  m["num_classes"] = [](ModelSpec& s, const json& v) { s.num_classes = as_int(v); };
  m["drop_rate"] = [](ModelSpec& s, const json& v) { s.drop_rate = v.get<double>(); };
  m["drop_path_rate"] = [](ModelSpec& s, const json& v) { s.drop_path_rate = v.get<double>(); };
  m["fc_drop_rate"] = [](ModelSpec& s, const json& v) { s.fc_drop_rate = v.get<double>(); };
  m["norm_epsilon"] = [](ModelSpec& s, const json& v) { s.norm_eps = v.get<double>(); };
  m["kernel_size"] = [](ModelSpec& s, const json& v) { s.tubelet_size = as_int(v); };
  m["num_frames"] = [](ModelSpec& s, const json& v) { s.num_frames = as_int(v); };
  m["ssm_cfg"] = [](ModelSpec& s, const json& v) {
    if (v.is_null()) return;
    if (!v.is_object()) throw Error("ssm_cfg must be null or an object");
    for (const auto& [key, value] : v.items()) {
      if (key == "d_state")
        s.d_state = as_int(value);
      else if (key == "d_conv")
        s.d_conv = as_int(value);
      else if (key == "expand")
        s.expand = as_int(value);
      else
        throw Error(
            fmt::format("ssm_cfg key '{}' is not supported (d_state, d_conv, expand)", key));
    }
  };
  m["initializer_cfg"] = [](ModelSpec&, const json& v) {
    require_value(v, nullptr, "initializer_cfg");
  };
  for (const char* flag : {"fused_add_norm", "rms_norm", "residual_in_fp32", "bimamba"})
    m[flag] = [flag](ModelSpec&, const json& v) { require_value(v, true, flag); };
  // Activation checkpointing upstream: no effect on the values.
  m["use_checkpoint"] = [](ModelSpec&, const json& v) { (void)v.get<bool>(); };
  m["checkpoint_num"] = [](ModelSpec&, const json& v) { (void)as_int(v); };
  return m;
}

}  // namespace

ModelSpec spec_from_reference_config(const json& config) {
  if (!config.is_object() || !config.contains("model_class") || !config.contains("constructor"))
    throw Error("reference config: needs 'model_class' and 'constructor'");
  const auto cls = config.at("model_class").get<std::string>();
  ModelSpec spec;
  std::map<std::string, Setter> setters;
  if (cls == "modeling_finetune.VisionTransformer") {
    spec.kind = ModelKind::kFinetune;
    spec.name = "VisionTransformer";
    setters = finetune_setters();
  } else if (cls == "modeling_pretrain.PretrainVisionTransformer") {
    spec.kind = ModelKind::kPretrain;
    spec.name = "PretrainVisionTransformer";
    // Class defaults that differ from the fine-tune class.
    spec.num_classes = 0;
    spec.lg_region_size = {2, 2, 10};
    setters = pretrain_setters();
  } else if (cls == "videomamba.VisionMamba (videomamba/video_sm/models/videomamba.py)") {
    // The class defaults: videomamba_tiny's width and depth at 224 px, 8 frames, tubelet 1.
    spec = spec_from_name("videomamba_tiny");
    spec.name = "VisionMamba";
    spec.num_classes = 1000;
    setters = videomamba_setters();
  } else {
    throw Error(fmt::format("reference config: unknown model_class '{}'", cls));
  }
  for (const auto& [key, value] : config.at("constructor").items()) {
    auto it = setters.find(key);
    if (it == setters.end())
      throw Error(fmt::format("reference config: constructor argument '{}' is not supported", key));
    try {
      it->second(spec, value);
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("reference config: constructor argument '{}': {}", key, e.what()));
    } catch (const Error& e) {
      throw Error(fmt::format("reference config: constructor argument '{}': {}", key, e.what()));
    }
  }
  if (spec.kind == ModelKind::kPretrain) {
    // The encoder's PatchEmbed is always built for its default 16 frames upstream.
    spec.num_frames = 16;
    if (config.contains("derived") && config["derived"].contains("num_frames"))
      spec.num_frames = config["derived"]["num_frames"].get<int64_t>();
    const auto& ctor = config.at("constructor");
    if (ctor.contains("decoder_num_classes") &&
        ctor["decoder_num_classes"].get<int64_t>() != spec.decoder_num_classes())
      throw Error(
          fmt::format("reference config: decoder_num_classes {} != in_chans*tubelet*patch^2 "
                      "= {}",
                      ctor["decoder_num_classes"].get<int64_t>(), spec.decoder_num_classes()));
  }
  validate(spec);
  return spec;
}

}  // namespace dfer::models
