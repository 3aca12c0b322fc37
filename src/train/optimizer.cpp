// AdamW with exact state save/restore (see optimizer.h).
#include "dfer/train/optimizer.h"

#include <cmath>

#include "dfer/util/error.h"

namespace dfer::train {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : groups_(std::move(groups)), options_(options) {}

torch::Tensor AdamW::gradient_of(const torch::Tensor& p) const {
  torch::Tensor grad = p.grad();
  if (!grad.defined() && options_.missing_grad_as_zero) grad = torch::zeros_like(p);
  return grad;
}

AdamW::State& AdamW::advance_state(const std::string& name, const torch::Tensor& p) {
  State& s = state_[name];
  if (!s.exp_avg.defined()) {
    s.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    s.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
  }
  s.step += 1;
  return s;
}

void AdamW::step(double lr, double weight_decay) {
  torch::NoGradGuard no_grad;
  for (auto& g : groups_) {
    const double group_lr = lr * g.lr_scale;
    const double wd = g.weight_decay > 0 ? weight_decay : 0.0;
    const bool foreach = options_.issue == AdamWOptions::Issue::kForeach ||
                         (options_.issue == AdamWOptions::Issue::kAuto && !g.params.empty() &&
                          g.params.front().is_cuda());
    // Multi-tensor form: bucketed by step count (a parameter that once had no gradient lags
    // behind), so each bucket shares its bias corrections.
    std::map<int64_t, Bucket> by_step;
    for (size_t i = 0; i < g.params.size(); ++i) {
      torch::Tensor p = g.params[i];
      const torch::Tensor grad = gradient_of(p);
      if (!grad.defined()) continue;
      State& s = advance_state(g.param_names[i], p);
      if (foreach) {
        Bucket& b = by_step[s.step];
        b.params.push_back(p);
        b.grads.push_back(grad);
        b.states.push_back(&s);
        continue;
      }
      // torch.optim.AdamW (_single_tensor_adamw), operation for operation.
      p.mul_(1.0 - group_lr * wd);
      s.exp_avg.mul_(options_.beta1).add_(grad, 1.0 - options_.beta1);
      s.exp_avg_sq.mul_(options_.beta2).addcmul_(grad, grad, 1.0 - options_.beta2);
      const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(s.step));
      const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(s.step));
      const double step_size = group_lr / bc1;
      torch::Tensor denom = (s.exp_avg_sq.sqrt() / std::sqrt(bc2)).add_(options_.eps);
      p.addcdiv_(s.exp_avg, denom, -step_size);
    }
    for (auto& [step, bucket] : by_step) update_foreach(bucket, group_lr, wd);
  }
}

void AdamW::update_foreach(Bucket& b, double lr, double wd) {
  std::vector<torch::Tensor> m, v;
  for (State* s : b.states) {
    m.push_back(s->exp_avg);
    v.push_back(s->exp_avg_sq);
  }
  const double step = static_cast<double>(b.states.front()->step);
  // The per-tensor sequence of step(), one multi-tensor call per operation.
  at::_foreach_mul_(b.params, 1.0 - lr * wd);
  at::_foreach_mul_(m, options_.beta1);
  at::_foreach_add_(m, b.grads, 1.0 - options_.beta1);
  at::_foreach_mul_(v, options_.beta2);
  at::_foreach_addcmul_(v, b.grads, b.grads, 1.0 - options_.beta2);
  const double bc1 = 1.0 - std::pow(options_.beta1, step);
  const double bc2 = 1.0 - std::pow(options_.beta2, step);
  auto denom = at::_foreach_sqrt(v);
  at::_foreach_div_(denom, std::sqrt(bc2));
  at::_foreach_add_(denom, options_.eps);
  at::_foreach_addcdiv_(b.params, m, denom, -(lr / bc1));
}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

double AdamW::grad_norm() const {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& g : groups_)
    for (const auto& p : g.params)
      if (p.grad().defined()) norms.push_back(p.grad().detach().to(torch::kFloat).norm(2));
  if (norms.empty()) return 0.0;
  return torch::stack(norms).norm(2).item<double>();
}

void AdamW::scale_grads(double factor) {
  torch::NoGradGuard no_grad;
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad().mul_(factor);
}

bool AdamW::grads_finite() const {
  torch::NoGradGuard no_grad;
  for (const auto& g : groups_)
    for (const auto& p : g.params)
      if (p.grad().defined() && !torch::isfinite(p.grad()).all().item<bool>()) return false;
  return true;
}

io::NamedTensors AdamW::state_tensors() const {
  io::NamedTensors out;
  for (const auto& g : groups_)
    for (const auto& name : g.param_names) {
      auto it = state_.find(name);
      if (it == state_.end() || !it->second.exp_avg.defined()) continue;
      out.emplace_back("opt." + name + ".exp_avg", it->second.exp_avg.detach().cpu());
      out.emplace_back("opt." + name + ".exp_avg_sq", it->second.exp_avg_sq.detach().cpu());
    }
  return out;
}

nlohmann::json AdamW::state_json() const {
  nlohmann::json steps = nlohmann::json::object();
  for (const auto& [name, s] : state_)
    if (s.exp_avg.defined()) steps[name] = s.step;
  return {{"type", "adamw"},
          {"betas", {options_.beta1, options_.beta2}},
          {"eps", options_.eps},
          {"steps", steps}};
}

void AdamW::load_state(const std::map<std::string, torch::Tensor>& tensors,
                       const nlohmann::json& meta) {
  state_.clear();
  const auto& steps = meta.at("steps");
  for (auto& g : groups_)
    for (size_t i = 0; i < g.params.size(); ++i) {
      const std::string& name = g.param_names[i];
      if (!steps.contains(name)) continue;  // never stepped: no state, as in PyTorch
      State s;
      s.step = steps.at(name).get<int64_t>();
      for (const char* which : {"exp_avg", "exp_avg_sq"}) {
        const std::string key = "opt." + name + "." + which;
        auto it = tensors.find(key);
        if (it == tensors.end()) throw Error("optimizer state: tensor '" + key + "' is missing");
        if (it->second.sizes() != g.params[i].sizes())
          throw Error("optimizer state: '" + key + "' has shape " + c10::str(it->second.sizes()) +
                      ", the parameter " + c10::str(g.params[i].sizes()));
        torch::Tensor t = it->second.to(g.params[i].device(), torch::kFloat).clone();
        (std::string(which) == "exp_avg" ? s.exp_avg : s.exp_avg_sq) = t;
      }
      state_[name] = std::move(s);
    }
}

}  // namespace dfer::train
