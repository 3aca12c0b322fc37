// lean_mlp against the composed ops it replaces: values and every gradient bitwise equal, in fp32,
// float64 and under bf16 autocast, with and without biases, with frozen weights.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "dfer/models/lean_mlp.h"
#include "support/cpu_autocast.h"

namespace {

struct Params {
  torch::Tensor x, w1, b1, w2, b2;
};

Params make(torch::ScalarType dtype, bool biases, bool frozen) {
  torch::manual_seed(11);
  const auto o = torch::TensorOptions().dtype(dtype);
  Params p;
  p.x = torch::randn({2, 37, 24}, o).requires_grad_(true);
  p.w1 = torch::randn({64, 24}, o).mul_(0.2).requires_grad_(!frozen);
  p.w2 = torch::randn({24, 64}, o).mul_(0.2).requires_grad_(!frozen);
  if (biases) {
    p.b1 = torch::randn({64}, o).requires_grad_(!frozen);
    p.b2 = torch::randn({24}, o).requires_grad_(!frozen);
  }
  return p;
}

std::optional<at::Tensor> opt(const torch::Tensor& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}

// Output and the gradients of x, w1, b1, w2, b2 (undefined where none) of sum(y * r).
std::vector<torch::Tensor> run(const Params& p, bool lean, at::ScalarType autocast) {
  torch::Tensor y;
  {
    std::optional<dfer::test::CpuAutocast> ac;
    if (autocast != at::kFloat) ac.emplace(autocast);
    y = lean ? dfer::models::lean_mlp(p.x, p.w1, p.b1, p.w2, p.b2)
             : at::linear(at::gelu(at::linear(p.x, p.w1, opt(p.b1))), p.w2, opt(p.b2));
  }
  torch::manual_seed(5);
  const auto r = torch::randn(y.sizes(), y.options().dtype(torch::kFloat)).to(y.scalar_type());
  (y * r).sum().backward();
  std::vector<torch::Tensor> out{y.detach()};
  for (auto t : {p.x, p.w1, p.b1, p.w2, p.b2}) {
    out.push_back(t.defined() && t.grad().defined() ? t.grad().clone() : torch::Tensor());
    if (t.defined() && t.grad().defined()) t.mutable_grad().reset();
  }
  return out;
}

void require_same(torch::ScalarType dtype, bool biases, bool frozen, at::ScalarType autocast) {
  const auto p = make(dtype, biases, frozen);
  const auto want = run(p, false, autocast), got = run(p, true, autocast);
  const char* names[] = {"y", "x.grad", "w1.grad", "b1.grad", "w2.grad", "b2.grad"};
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(names[i]);
    REQUIRE(want[i].defined() == got[i].defined());
    if (!want[i].defined()) continue;
    REQUIRE(want[i].scalar_type() == got[i].scalar_type());
    REQUIRE(torch::equal(want[i], got[i]));
  }
  if (!frozen) REQUIRE(want[2].defined());
}

}  // namespace

TEST_CASE("lean MLP equals the composed ops bitwise in fp32 and float64") {
  require_same(torch::kFloat, true, false, at::kFloat);
  require_same(torch::kDouble, true, false, at::kFloat);
  require_same(torch::kFloat, false, false, at::kFloat);
}

TEST_CASE("lean MLP equals the composed ops bitwise under bf16 autocast") {
  require_same(torch::kFloat, true, false, at::kBFloat16);
  require_same(torch::kFloat, false, false, at::kBFloat16);
}

TEST_CASE("lean MLP with frozen weights gives the input's gradient only") {
  require_same(torch::kFloat, true, true, at::kFloat);
  require_same(torch::kFloat, true, true, at::kBFloat16);
}
