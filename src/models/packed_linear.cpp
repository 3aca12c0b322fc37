// Linear products over weights packed once for oneDNN (see dfer/models/packed_linear.h).
#include "dfer/models/packed_linear.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <atomic>
#include <optional>
#include <string>

namespace dfer::models {

namespace {

thread_local PackedWeightScope* t_scope = nullptr;
std::atomic<bool> g_packing{true};

// The two mkldnn ops, found by name: they are registered by LibTorch's CPU library but have no
// public C++ function. A boxed call does not depend on how this LibTorch spells their C++ types.
struct MkldnnOps {
  std::optional<c10::OperatorHandle> reorder, linear;
};

const MkldnnOps& mkldnn_ops() {
  static const MkldnnOps ops = [] {
    MkldnnOps o;
    auto& d = c10::Dispatcher::singleton();
    o.reorder = d.findSchema({"mkldnn::_reorder_linear_weight", ""});
    o.linear = d.findSchema({"mkldnn::_linear_pointwise", ""});
    return o;
  }();
  return ops;
}

// weight (bf16, [N, K]) in oneDNN's blocked layout for inputs of about `batch` rows.
torch::Tensor reorder_weight(const torch::Tensor& weight, int64_t batch) {
  torch::jit::Stack stack{weight, c10::IValue(batch)};
  mkldnn_ops().reorder->callBoxed(&stack);
  return stack.at(0).toTensor();
}

// x @ W^T + bias through oneDNN's inner product, the bias added inside it; no post-op.
torch::Tensor linear_pointwise(const torch::Tensor& x, const torch::Tensor& packed,
                               const torch::Tensor& bias) {
  torch::jit::Stack stack{x,
                          packed,
                          bias.defined() ? c10::IValue(bias) : c10::IValue(),
                          c10::IValue(std::string("none")),
                          c10::IValue(c10::List<std::optional<at::Scalar>>()),
                          c10::IValue()};
  mkldnn_ops().linear->callBoxed(&stack);
  return stack.at(0).toTensor();
}

bool floating(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat || t.scalar_type() == torch::kBFloat16;
}

// The packed route's preconditions, cheapest first; the rest takes at::linear.
bool packable(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  return x.is_cpu() && !torch::GradMode::is_enabled() &&
         at::autocast::is_autocast_enabled(at::kCPU) &&
         at::autocast::get_autocast_dtype(at::kCPU) == at::kBFloat16 && x.dim() >= 2 &&
         x.numel() > 0 && weight.dim() == 2 && x.size(-1) == weight.size(1) && x.is_contiguous() &&
         floating(x) && floating(weight) && (!bias.defined() || floating(bias)) &&
         packed_linear_available();
}

}  // namespace

torch::Tensor autocast_operand(const torch::Tensor& t) {
  const auto dev = t.device().type();
  if (!at::autocast::is_autocast_enabled(dev)) return t;
  return at::autocast::cached_cast(at::autocast::get_autocast_dtype(dev), t, dev);
}

bool packed_linear_available() {
  static const bool ok = [] {
    if (!at::hasMKLDNN() || !mkldnn_ops().reorder || !mkldnn_ops().linear) return false;
    // LibTorch refuses the bf16 inner product on CPUs without the instructions for it.
    try {
      torch::NoGradGuard no_grad;
      const auto o = torch::TensorOptions().dtype(torch::kBFloat16);
      const auto x = torch::ones({3, 8}, o), w = torch::ones({5, 8}, o), b = torch::ones({5}, o);
      return torch::equal(linear_pointwise(x, reorder_weight(w, 3), b), at::linear(x, w, b));
    } catch (const c10::Error&) {
      return false;
    }
  }();
  return ok;
}

torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                    int64_t row0, int64_t rows) {
  const int64_t n = rows < 0 ? weight.size(0) - row0 : rows;
  const bool whole = row0 == 0 && n == weight.size(0);
  if (t_scope == nullptr || !g_packing.load(std::memory_order_relaxed) ||
      !packable(x, weight, bias))
    return whole ? at::linear(x, weight, bias)
                 : at::linear(x, autocast_operand(weight).narrow(0, row0, n), bias);
  // What autocast does to the operands of at::linear: every floating tensor cast to bf16.
  const auto xb = x.to(torch::kBFloat16);
  const auto bb = bias.defined() ? bias.to(torch::kBFloat16) : torch::Tensor();
  auto& e = t_scope->packed_[{weight.data_ptr(), row0, n, weight.size(1), weight.stride(0)}];
  if (!e.weight.defined() || e.version != weight._version()) {
    const auto w = (whole ? weight : weight.narrow(0, row0, n)).to(torch::kBFloat16).contiguous();
    e = {weight, static_cast<int64_t>(weight._version()),
         reorder_weight(w, x.numel() / x.size(-1))};
  }
  return linear_pointwise(xb, e.weight, bb);
}

void set_weight_packing(bool enabled) {
  g_packing.store(enabled);
}

PackedWeightScope::PackedWeightScope() : active_(t_scope == nullptr) {
  if (active_) t_scope = this;
}

PackedWeightScope::~PackedWeightScope() {
  if (active_) t_scope = nullptr;
}

}  // namespace dfer::models
