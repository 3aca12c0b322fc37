// State-dict style load/save with reports, and the pre-train -> fine-tune key rules.
#include "dfer/models/weights.h"

#include "dfer/models/layers.h"
#include "dfer/util/error.h"
#include "dfer/util/strings.h"

#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

namespace dfer::models {

namespace {

void collect_state(const torch::nn::Module& m, const std::string& prefix, io::NamedTensors& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false))
    out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : m.named_children()) collect_state(*c.value(), prefix + c.key() + ".", out);
}

std::string py_list(const std::vector<std::string>& names) {
  std::string s = "[";
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", '" : "'") + names[i] + "'";
  return s + "]";
}

}  // namespace

std::string LoadReport::summary(const std::string& model_name) const {
  std::string s = fmt::format("loaded {} tensors into {}", loaded.size(), model_name);
  for (const auto& n : notes) s += "\n" + n;
  if (!missing.empty())
    s += fmt::format("\nWeights of {} not initialized from pretrained model: {}", model_name,
                     py_list(missing));
  if (!unexpected.empty())
    s += fmt::format("\nWeights from pretrained model not used in {}: {}", model_name,
                     py_list(unexpected));
  for (const auto& m : mismatched) {
    if (m.reason == "shape")
      s += fmt::format(
          "\nsize mismatch for {}: copying a param with shape {} from checkpoint, the shape in "
          "current model is {}.",
          m.name, shape_str(m.got), shape_str(m.expected));
    else
      s += fmt::format("\ncannot load {}: {} (checkpoint shape {}, model shape {})", m.name,
                       m.reason, shape_str(m.got), shape_str(m.expected));
  }
  return s;
}

io::NamedTensors state_dict(const torch::nn::Module& module) {
  io::NamedTensors out;
  collect_state(module, "", out);
  for (auto& kv : out) kv.second = kv.second.detach();
  return out;
}

LoadReport load_state(torch::nn::Module& module, const io::NamedTensors& tensors, bool strict) {
  LoadReport r;
  auto targets = state_dict(module);
  std::unordered_map<std::string, torch::Tensor> by_name;
  for (const auto& kv : targets) by_name.emplace(kv.first, kv.second);
  std::unordered_set<std::string> provided;

  torch::NoGradGuard guard;
  for (const auto& [name, t] : tensors) {
    if (!provided.insert(name).second) {
      r.mismatched.push_back({name, {}, {}, "duplicate name in the input"});
      continue;
    }
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      r.unexpected.push_back(name);
      continue;
    }
    auto& dst = it->second;
    std::vector<int64_t> want(dst.sizes().begin(), dst.sizes().end());
    if (!t.defined()) {
      r.mismatched.push_back({name, want, {}, "undefined tensor"});
      continue;
    }
    std::vector<int64_t> got(t.sizes().begin(), t.sizes().end());
    if (got != want) {
      r.mismatched.push_back({name, want, got, "shape"});
      continue;
    }
    if (dst.is_floating_point() != t.is_floating_point() || t.is_complex()) {
      r.mismatched.push_back(
          {name, want, got, fmt::format("dtype {}", c10::toString(t.scalar_type()))});
      continue;
    }
    dst.copy_(t);
    r.loaded.push_back(name);
  }
  for (const auto& kv : targets)
    if (!provided.count(kv.first)) r.missing.push_back(kv.first);
  if (strict && !r.clean()) throw Error("strict weight load failed:\n" + r.summary());
  return r;
}

void save_state(const torch::nn::Module& module, const std::string& path,
                const std::map<std::string, std::string>& metadata) {
  io::save_safetensors(path, state_dict(module), metadata);
}

LoadReport load_state_file(torch::nn::Module& module, const std::string& path, bool strict) {
  io::NamedTensors tensors;
  try {
    tensors = io::load_safetensors(path);
  } catch (...) {
    rethrow_with_context("loading weights from " + path);
  }
  try {
    return load_state(module, tensors, strict);
  } catch (...) {
    rethrow_with_context("loading weights from " + path);
  }
}

io::NamedTensors adapt_pretrained_keys(const io::NamedTensors& tensors,
                                       const torch::nn::Module& target,
                                       std::vector<std::string>* notes) {
  auto note = [&](std::string s) {
    if (notes) notes->push_back(std::move(s));
  };
  std::unordered_map<std::string, std::vector<int64_t>> target_shapes;
  for (const auto& kv : state_dict(target))
    target_shapes[kv.first] =
        std::vector<int64_t>(kv.second.sizes().begin(), kv.second.sizes().end());

  // 1. DDP prefix (REF multi-GPU checkpoints).
  io::NamedTensors in;
  size_t stripped_module = 0;
  for (const auto& [k, t] : tensors) {
    if (starts_with(k, "module.")) {
      in.emplace_back(k.substr(7), t);
      ++stripped_module;
    } else {
      in.emplace_back(k, t);
    }
  }
  if (stripped_module) note(fmt::format("stripped 'module.' from {} keys", stripped_module));

  // 2. A classifier of another size is dropped (fresh head).
  io::NamedTensors kept;
  for (auto& [k, t] : in) {
    if (k == "head.weight" || k == "head.bias") {
      auto it = target_shapes.find(k);
      if (it != target_shapes.end() && t.defined() &&
          std::vector<int64_t>(t.sizes().begin(), t.sizes().end()) != it->second) {
        note(fmt::format("Removing key {} from pretrained checkpoint (shape {} vs model {})", k,
                         shape_str(t.sizes()), shape_str(it->second)));
        continue;
      }
    }
    kept.emplace_back(k, t);
  }

  // 3. One leading backbone./encoder. prefix goes; a later key wins a name clash (dict update).
  io::NamedTensors out;
  std::unordered_map<std::string, size_t> index;
  size_t stripped = 0;
  for (auto& [k, t] : kept) {
    std::string name = k;
    if (starts_with(name, "backbone.")) {
      name = name.substr(9);
      ++stripped;
    } else if (starts_with(name, "encoder.")) {
      name = name.substr(8);
      ++stripped;
    }
    auto it = index.find(name);
    if (it != index.end()) {
      note(fmt::format("key {} appears twice after prefix stripping; the later one is used", name));
      out[it->second].second = t;
    } else {
      index[name] = out.size();
      out.emplace_back(name, t);
    }
  }
  if (stripped) note(fmt::format("stripped 'backbone.'/'encoder.' from {} keys", stripped));
  return out;
}

LoadReport load_pretrained_for_finetune(torch::nn::Module& module,
                                        const io::NamedTensors& tensors) {
  std::vector<std::string> notes;
  auto adapted = adapt_pretrained_keys(tensors, module, &notes);
  auto r = load_state(module, adapted, /*strict=*/false);
  r.notes = std::move(notes);
  return r;
}

}  // namespace dfer::models
