// The MLP as one autograd function that recomputes its GELU in backward (see lean_mlp.h).
#include "dfer/models/lean_mlp.h"

#include <ATen/autocast_mode.h>

namespace dfer::models {

namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The dtype autocast runs a linear in: its reduced type when it is on for x's device (float64
// stays float64, as autocast leaves it), else x's own.
at::ScalarType compute_dtype(const torch::Tensor& x) {
  const auto dev = x.device().type();
  if (x.scalar_type() != at::kDouble && at::autocast::is_autocast_enabled(dev))
    return at::autocast::get_autocast_dtype(dev);
  return x.scalar_type();
}

std::optional<at::Tensor> cast_bias(const torch::Tensor& b, bool present, at::ScalarType dtype) {
  if (!present) return std::nullopt;
  return b.to(dtype);
}

// Every operand is cast to the compute dtype here, so autocast (if on) finds nothing left to cast
// or cache and the linears run exactly as autocast would run them: aten::linear, an addmm.
struct LeanMlp : torch::autograd::Function<LeanMlp> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& w1, const torch::Tensor& b1,
                               const torch::Tensor& w2, const torch::Tensor& b2, bool has_b1,
                               bool has_b2) {
    const auto cd = compute_dtype(x);
    const auto xc = x.to(cd);
    auto h = at::linear(xc, w1.to(cd), cast_bias(b1, has_b1, cd));
    auto y = at::linear(at::gelu(h), w2.to(cd), cast_bias(b2, has_b2, cd));
    ctx->save_for_backward({xc, h, w1, w2});
    ctx->saved_data["has_b1"] = has_b1;
    ctx->saved_data["has_b2"] = has_b2;
    ctx->saved_data["x_dtype"] = static_cast<int64_t>(x.scalar_type());
    return y;
  }

  // The gradients autograd derives for the composed ops (addmm's mm_mat1/mm_mat2 backward, the
  // bias as the column sum, GELU's backward, each cast's backward a cast back), in its order.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &xc = saved[0], &h = saved[1], &w1 = saved[2], &w2 = saved[3];
    const auto cd = h.scalar_type();
    const int64_t K = xc.size(-1), H = h.size(-1), N = w2.size(0);
    const auto gy = grads[0].to(cd).reshape({-1, N});
    const auto h2 = h.reshape({-1, H});
    torch::Tensor gx, gw1, gb1, gw2, gb2;
    if (ctx->needs_input_grad(3)) gw2 = gy.t().mm(at::gelu(h2)).to(w2.scalar_type());
    if (ctx->saved_data["has_b2"].toBool() && ctx->needs_input_grad(4))
      gb2 = gy.sum(0).to(w2.scalar_type());
    const auto gh = at::gelu_backward(gy.mm(w2.to(cd)), h2);
    if (ctx->needs_input_grad(1)) gw1 = gh.t().mm(xc.reshape({-1, K})).to(w1.scalar_type());
    if (ctx->saved_data["has_b1"].toBool() && ctx->needs_input_grad(2))
      gb1 = gh.sum(0).to(w1.scalar_type());
    if (ctx->needs_input_grad(0)) {
      const auto x_dtype = static_cast<at::ScalarType>(ctx->saved_data["x_dtype"].toInt());
      gx = gh.mm(w1.to(cd)).reshape(xc.sizes()).to(x_dtype);
    }
    return {gx, gw1, gb1, gw2, gb2, torch::Tensor(), torch::Tensor()};
  }
};
}  // namespace

torch::Tensor lean_mlp(const torch::Tensor& x, const torch::Tensor& w1, const torch::Tensor& b1,
                       const torch::Tensor& w2, const torch::Tensor& b2) {
  // Function::apply refuses undefined tensors: an absent bias travels as an empty placeholder.
  const auto none = torch::empty({0}, w1.options().requires_grad(false));
  return LeanMlp::apply(x, w1, b1.defined() ? b1 : none, w2, b2.defined() ? b2 : none, b1.defined(),
                        b2.defined());
}

}  // namespace dfer::models
