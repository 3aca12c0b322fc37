// Runs a reference fixture and compares every expected tensor (see dfer/models/parity.h).
#include "dfer/models/parity.h"

#include "dfer/io/safetensors.h"
#include "dfer/models/build.h"
#include "dfer/models/mae_target.h"
#include "dfer/models/weights.h"
#include "dfer/util/error.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace dfer::models {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using TensorMap = std::map<std::string, torch::Tensor>;

// Fine-tune fixture (ViT / LGI-Former or VideoMamba): logits, features and the taps, and for an
// LGI-Former the logits/features of every classify token type.
TensorMap run_finetune(const ModelSpec& spec, const io::NamedTensors& weights,
                       const TensorMap& inputs, const fs::path& input_file,
                       const torch::Device& device) {
  auto model = build_classifier(spec);
  load_state(*model, weights, /*strict=*/true);
  model->to(device);
  model->eval();
  torch::NoGradGuard guard;
  auto video = fixture_tensor(inputs, "video", input_file.string()).to(device);
  Taps taps;
  auto [logits, features] = model->forward_with_features(video, &taps);
  TensorMap out(taps.begin(), taps.end());
  out["logits"] = logits;
  out["features"] = features;
  if (spec.backbone == "vit" && spec.attn_type == "local_global") {
    auto vit = as_finetune(model);
    const std::pair<const char*, ClassifyTokens> kinds[] = {{"org", ClassifyTokens::kOrg},
                                                            {"region", ClassifyTokens::kRegion},
                                                            {"all", ClassifyTokens::kAll}};
    for (const auto& [suffix, kind] : kinds) {
      vit->set_classify_tokens(kind);
      auto [l, f] = vit->forward_with_features(video);
      out[fmt::format("logits_{}", suffix)] = l;
      out[fmt::format("features_{}", suffix)] = f;
    }
  }
  return out;
}

MaeTargetOptions engine_options(const json& config, const ModelSpec& spec) {
  MaeTargetOptions o;
  o.patch_size = spec.patch_size;
  o.tubelet_size = spec.tubelet_size;
  if (!config.contains("engine")) return o;
  const auto& e = config["engine"];
  if (e.contains("patch_size")) o.patch_size = e["patch_size"].get<int64_t>();
  if (e.contains("normlize_target")) o.normalize_target = e["normlize_target"].get<bool>();
  if (e.contains("use_frame_diff_as_target"))
    o.use_frame_diff = e["use_frame_diff_as_target"].get<bool>();
  if (e.contains("frame_diff_group_size"))
    o.frame_diff_group_size = e["frame_diff_group_size"].get<int64_t>();
  if (e.contains("target_diff_weight") && !e["target_diff_weight"].is_null())
    o.target_diff_weight = e["target_diff_weight"].get<double>();
  if (e.contains("imagenet_mean")) o.mean = e["imagenet_mean"].get<std::array<double, 3>>();
  if (e.contains("imagenet_std")) o.std = e["imagenet_std"].get<std::array<double, 3>>();
  return o;
}

// Pre-train fixture: decoder outputs, targets and losses as the engine computes them, plus taps.
TensorMap run_pretrain(const ModelSpec& spec, const json& config, const io::NamedTensors& weights,
                       const TensorMap& inputs, const fs::path& input_file,
                       const torch::Device& device) {
  auto model = build_pretrain(spec);
  load_state(*model, weights, /*strict=*/true);
  model->to(device);
  model->eval();
  torch::NoGradGuard guard;
  auto video = fixture_tensor(inputs, "video", input_file.string()).to(device);
  auto mask = fixture_tensor(inputs, "mask", input_file.string()).to(device);
  Taps taps;
  auto outputs = model->forward(video, mask, &taps);
  auto opt = engine_options(config, spec);
  auto targets = compute_mae_targets(video, mask, opt);
  auto losses = mae_loss(outputs, targets.labels, opt);
  TensorMap out(taps.begin(), taps.end());
  out["outputs"] = outputs;
  out["labels"] = targets.labels;
  out["target_all"] = targets.all;
  out["target_appearance_norm_all"] = targets.appearance;
  out["loss"] = losses.loss;
  out["loss_org"] = losses.loss_org;
  out["loss_diff"] = losses.loss_diff;
  return out;
}

bool is_loss(const std::string& name) {
  return name.rfind("loss", 0) == 0;
}
bool is_target(const std::string& name) {
  return name == "labels" || name.rfind("target_", 0) == 0;
}

TensorCheck compare(const std::string& name, const torch::Tensor& expected,
                    const torch::Tensor* ours, const ParityOptions& o) {
  TensorCheck c;
  c.name = name;
  c.shape.assign(expected.sizes().begin(), expected.sizes().end());
  if (!ours) {
    c.note = "not produced by the model (unknown expected tensor)";
    return c;
  }
  if (ours->sizes() != expected.sizes()) {
    c.note = fmt::format("shape {} != expected {}", shape_str(ours->sizes()),
                         shape_str(expected.sizes()));
    return c;
  }
  auto e = expected.to(torch::kFloat64);
  auto a = ours->detach().to(torch::kCPU).to(torch::kFloat64);
  if (e.numel() == 0) {
    c.passed = true;
    return c;
  }
  auto diff = (a - e).abs();
  auto mag = e.abs();
  c.max_abs = diff.max().item<double>();
  c.max_ref = mag.max().item<double>();
  c.max_rel = (diff / mag.clamp_min(o.atol)).max().item<double>();
  if (!torch::isfinite(a).all().item<bool>()) {
    c.note = "non-finite values";
    return c;
  }
  torch::Tensor bound;
  if (is_loss(name)) {
    bound = mag * o.loss_rtol + 1e-12;
  } else {
    const double atol = (is_target(name) ? o.target_atol : o.atol) * std::max(1.0, c.max_ref);
    bound = mag * o.rtol + atol;
  }
  c.passed = (diff <= bound).all().item<bool>();
  if (!c.passed) c.note = "beyond tolerance";
  return c;
}

}  // namespace

bool ParityResult::passed() const {
  if (checks.empty()) return false;
  for (const auto& c : checks)
    if (!c.passed) return false;
  return true;
}

std::string ParityResult::to_string() const {
  std::string s = fmt::format("== {}: {}\n", fixture, description);
  size_t ok = 0;
  for (const auto& c : checks) {
    ok += c.passed;
    s += fmt::format("  {:<28} {:<16} max_abs {:.3e}  max_rel {:.3e}  (max|ref| {:.3g})  {}{}\n",
                     c.name, shape_str(c.shape), c.max_abs, c.max_rel, c.max_ref,
                     c.passed ? "PASS" : "FAIL", c.note.empty() ? "" : " - " + c.note);
  }
  s += fmt::format("  result: {} ({}/{} tensors)", passed() ? "PASS" : "FAIL", ok, checks.size());
  return s;
}

json read_fixture_config(const std::string& fixture_dir) {
  const auto path = fs::path(fixture_dir) / "config.json";
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("cannot open {}", path.string()));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: invalid JSON: {}", path.string(), e.what()));
  }
}

std::string fixture_name(const std::string& fixture_dir) {
  const fs::path dir(fixture_dir);
  return dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
}

const torch::Tensor& fixture_tensor(const std::map<std::string, torch::Tensor>& tensors,
                                    const std::string& name, const std::string& file) {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw Error(fmt::format("{}: no tensor '{}'", file, name));
  return it->second;
}

ParityResult run_parity(const std::string& fixture_dir, const ParityOptions& options) {
  const fs::path dir(fixture_dir);
  ParityResult r;
  r.fixture = fixture_name(fixture_dir);
  const auto config = read_fixture_config(dir.string());
  ModelSpec spec;
  try {
    spec = spec_from_reference_config(config);
  } catch (...) {
    rethrow_with_context((dir / "config.json").string());
  }
  r.description = fmt::format("{} [{} attention, {}]", describe(spec), to_string(options.backend),
                              options.device.str());

  const auto weights = io::load_safetensors((dir / "weights.safetensors").string());
  const auto input_file = dir / "input.safetensors";
  const auto inputs = io::to_map(io::load_safetensors(input_file.string()));
  const auto expected = io::load_safetensors((dir / "expected.safetensors").string());

  const auto saved_backend = attention_backend();
  set_attention_backend(options.backend);
  auto& ctx = at::globalContext();
  const bool tf32_cudnn = ctx.allowTF32CuDNN(), tf32_cublas = ctx.allowTF32CuBLAS();
  const auto restore = [&] {
    set_attention_backend(saved_backend);
    if (options.device.is_cuda()) {
      ctx.setAllowTF32CuDNN(tf32_cudnn);
      ctx.setAllowTF32CuBLAS(tf32_cublas);
    }
  };
  if (options.device.is_cuda()) {
    ctx.setAllowTF32CuDNN(false);  // on by default for convolutions (the patch embedding)
    ctx.setAllowTF32CuBLAS(false);
  }
  TensorMap ours;
  try {
    if (spec.kind == ModelKind::kPretrain)
      ours = run_pretrain(spec, config, weights, inputs, input_file, options.device);
    else
      ours = run_finetune(spec, weights, inputs, input_file, options.device);
  } catch (const c10::Error& e) {
    // LibTorch messages carry a C++ backtrace; the first line is what matters here.
    restore();
    throw Error(fmt::format("running fixture {}: {}", dir.string(), e.what_without_backtrace()));
  } catch (...) {
    restore();
    rethrow_with_context(fmt::format("running fixture {}", dir.string()));
  }
  restore();

  for (const auto& [name, t] : expected) {
    auto it = ours.find(name);
    r.checks.push_back(compare(name, t, it == ours.end() ? nullptr : &it->second, options));
  }
  return r;
}

}  // namespace dfer::models
