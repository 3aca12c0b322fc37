// LoRA adapters on attention projections (see lora.h).
#include "dfer/models/lora.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "dfer/models/attention.h"
#include "dfer/util/error.h"
#include "dfer/util/strings.h"

namespace dfer::models {

namespace {

// By value: named_parameters() builds a fresh dict, so a pointer into it would dangle once this
// returns (it did, and the forward then read freed memory: an intermittent crash under load).
// Undefined when absent.
torch::Tensor find_param(const torch::nn::Module& m, const char* name, bool buffer) {
  const auto dict = buffer ? m.named_buffers(false) : m.named_parameters(false);
  const torch::Tensor* t = dict.find(name);
  return t ? *t : torch::Tensor();
}

}  // namespace

bool has_lora(const torch::nn::LinearImpl& linear) {
  return find_param(linear, "lora_A", false).defined();
}

void add_lora(torch::nn::LinearImpl& linear, const LoraOptions& o) {
  if (o.rank <= 0) throw UsageError("LoRA rank must be positive");
  if (has_lora(linear)) return;
  torch::NoGradGuard guard;
  const auto& w = linear.weight;
  auto a = torch::empty({o.rank, w.size(1)}, w.options());
  // The Kaiming-uniform form of nn.Linear's default init (a = sqrt(5)), as LoRA implementations
  // initialise A; B = 0 makes the initial update exactly zero.
  torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
  linear.register_parameter("lora_A", a);
  linear.register_parameter("lora_B", torch::zeros({w.size(0), o.rank}, w.options()));
  linear.register_buffer("lora_scale",
                         torch::full({}, o.alpha / static_cast<double>(o.rank), w.options()));
}

torch::Tensor lora_delta(const torch::nn::LinearImpl& linear, const torch::Tensor& x, int64_t row0,
                         int64_t rows) {
  const torch::Tensor a = find_param(linear, "lora_A", false);
  if (!a.defined()) return {};
  const torch::Tensor b = find_param(linear, "lora_B", false);
  const torch::Tensor scale = find_param(linear, "lora_scale", true);
  auto bb = rows < 0 ? b : b.narrow(0, row0, rows);
  return at::linear(at::linear(x, a.to(x.scalar_type())), bb.to(x.scalar_type())) *
         scale.to(x.scalar_type());
}

int64_t add_lora_to_attention(torch::nn::Module& root, const LoraOptions& o) {
  std::set<const torch::nn::LinearImpl*> done;
  auto adapt = [&](torch::nn::Linear& lin) {
    if (done.insert(lin.get()).second) add_lora(*lin, o);
  };
  auto visit = [&](torch::nn::Module& m) {
    if (auto* att = m.as<AttentionImpl>()) {
      adapt(att->qkv);
      adapt(att->proj);
    } else if (auto* g = m.as<GeneralAttentionImpl>()) {
      adapt(g->q);
      adapt(g->kv);
      adapt(g->proj);
    }
  };
  visit(root);
  for (auto& m : root.modules(/*include_self=*/false)) visit(*m);
  return static_cast<int64_t>(done.size());
}

io::NamedTensors merge_lora(const io::NamedTensors& weights, int64_t* merged) {
  std::map<std::string, torch::Tensor> by_name(weights.begin(), weights.end());
  std::map<std::string, torch::Tensor> folded;  // base weight key -> merged weight
  for (const auto& [k, t] : weights) {
    if (!ends_with(k, ".lora_A")) continue;
    const std::string base = k.substr(0, k.size() - 7);
    auto need = [&](const std::string& key) -> const torch::Tensor& {
      auto it = by_name.find(key);
      if (it == by_name.end())
        throw Error(fmt::format("merge-lora: '{}' has no '{}' (incomplete adapter)", k, key));
      return it->second;
    };
    const auto& b = need(base + ".lora_B");
    const auto& s = need(base + ".lora_scale");
    const auto& w = need(base + ".weight");
    if (b.dim() != 2 || t.dim() != 2 || w.dim() != 2 || b.size(1) != t.size(0) ||
        b.size(0) != w.size(0) || t.size(1) != w.size(1) || s.numel() != 1)
      throw Error(fmt::format("merge-lora: adapter shapes of '{}' do not fit its weight", base));
    auto delta = torch::matmul(b.to(torch::kFloat64), t.to(torch::kFloat64)) *
                 s.to(torch::kFloat64).item<double>();
    folded[base + ".weight"] = (w.to(torch::kFloat64) + delta).to(w.scalar_type());
  }
  io::NamedTensors out;
  for (const auto& [k, t] : weights) {
    if (k.find(".lora_") != std::string::npos) continue;
    auto it = folded.find(k);
    out.emplace_back(k, it != folded.end() ? it->second : t);
  }
  for (const auto& [k, t] : weights)
    if (ends_with(k, ".lora_B") || ends_with(k, ".lora_scale")) {
      const auto base = k.substr(0, k.rfind(".lora_"));
      if (!by_name.count(base + ".lora_A"))
        throw Error(
            fmt::format("merge-lora: '{}' has no '{}.lora_A' (incomplete adapter)", k, base));
    }
  if (merged) *merged = static_cast<int64_t>(folded.size());
  return out;
}

}  // namespace dfer::models
