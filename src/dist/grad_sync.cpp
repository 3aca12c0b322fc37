// Bucketed, overlapped gradient all-reduce (see grad_sync.h).
#include "dfer/dist/grad_sync.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <chrono>

#include "dfer/util/error.h"

namespace dfer::dist {

struct GradientSync::Bucket {
  torch::Tensor flat;
  std::vector<size_t> params;
  size_t pending = 0;  // gradients still to arrive in this backward
  bool launched = false;
  PendingReduce reduce;
};

namespace {

class AfterAccumulate : public torch::autograd::PostAccumulateGradHook {
 public:
  explicit AfterAccumulate(std::function<void()> f) : f_(std::move(f)) {}
  void operator()(const torch::autograd::Variable&) override { f_(); }

 private:
  std::function<void()> f_;
};

}  // namespace

GradientSync::GradientSync(World& world, std::vector<torch::Tensor> params, GradSyncOptions o)
    : world_(world), params_(std::move(params)) {
  where_.resize(params_.size());
  arrived_.assign(params_.size(), 0);
  // Reverse order: the first bucket holds the last layers, whose gradients come first.
  Bucket* cur = nullptr;
  int64_t cur_bytes = 0, cur_numel = 0;  // of the bucket being filled
  auto close = [&] {
    if (!cur) return;
    cur->flat =
        torch::zeros({cur_numel}, params_[cur->params.front()].options().requires_grad(false));
    stats_.bytes += cur_numel * static_cast<int64_t>(cur->flat.element_size());
    cur = nullptr;
  };
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    if (!p.requires_grad()) throw Error("GradientSync: a parameter does not require a gradient");
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (cur && (cur_bytes + bytes > o.bucket_bytes ||
                p.scalar_type() != params_[cur->params.front()].scalar_type() ||
                p.device() != params_[cur->params.front()].device()))
      close();
    if (!cur) {
      buckets_.push_back(std::make_unique<Bucket>());
      cur = buckets_.back().get();
      cur_bytes = cur_numel = 0;
    }
    where_[k] = {buckets_.size() - 1, cur_numel};
    cur->params.push_back(k);
    cur_bytes += bytes;
    cur_numel += p.numel();
  }
  close();
  stats_.buckets = static_cast<int64_t>(buckets_.size());
  if (!world_.distributed()) return;  // one process: nothing to average, no hooks
  for (size_t k = 0; k < params_.size(); ++k)
    torch::autograd::impl::set_post_acc_grad_hooks(
        params_[k], std::make_unique<AfterAccumulate>([this, k] { on_grad(k); }));
}

GradientSync::~GradientSync() {
  if (!world_.distributed()) return;
  for (auto& p : params_) torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
}

void GradientSync::arm() {
  if (!world_.distributed()) return;
  for (auto& b : buckets_) {
    b->pending = b->params.size();
    b->launched = false;
  }
  std::fill(arrived_.begin(), arrived_.end(), 0);
  next_launch_ = 0;
  armed_ = true;
}

void GradientSync::on_grad(size_t k) {
  if (!armed_) return;
  const auto [bi, offset] = where_[k];
  Bucket& b = *buckets_[bi];
  const torch::Tensor& g = params_[k].grad();
  torch::NoGradGuard no_grad;
  auto slot = b.flat.narrow(0, offset, params_[k].numel());
  if (g.defined())
    slot.copy_(g.reshape({-1}));
  else
    slot.zero_();
  if (!arrived_[k]) {
    arrived_[k] = 1;
    --b.pending;
  }
  launch_ready(/*in_backward=*/true);
}

void GradientSync::launch_ready(bool in_backward) {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_]->pending == 0) {
    Bucket& b = *buckets_[next_launch_];
    b.reduce = world_.start_sum(b.flat, "gradient bucket " + std::to_string(next_launch_) + " of " +
                                            std::to_string(buckets_.size()));
    b.launched = true;
    ++next_launch_;
    if (in_backward) stats_.launched_in_backward += 1;
  }
}

void GradientSync::finish() {
  if (!world_.distributed()) return;
  if (!armed_) throw Error("GradientSync::finish without arm()");
  armed_ = false;
  // Parameters whose hook did not fire (no part in this backward): their accumulated gradient,
  // or zeros, so that every rank starts the same buckets.
  for (size_t bi = next_launch_; bi < buckets_.size(); ++bi) {
    Bucket& b = *buckets_[bi];
    torch::NoGradGuard no_grad;
    for (size_t k : b.params) {
      if (arrived_[k]) continue;
      auto slot = b.flat.narrow(0, where_[k].second, params_[k].numel());
      if (params_[k].grad().defined())
        slot.copy_(params_[k].grad().reshape({-1}));
      else
        slot.zero_();
    }
    b.pending = 0;
  }
  launch_ready(/*in_backward=*/false);
  const auto t0 = std::chrono::steady_clock::now();
  const double inv = 1.0 / static_cast<double>(world_.size());
  torch::NoGradGuard no_grad;
  for (auto& bp : buckets_) {
    bp->reduce.wait();
    bp->flat.mul_(inv);
    for (size_t k : bp->params) {
      auto& p = params_[k];
      auto avg = bp->flat.narrow(0, where_[k].second, p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(avg);
      else
        p.mutable_grad() = avg.clone();
    }
  }
  stats_.exposed_wait_s +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stats_.syncs += 1;
}

void GradientSync::reduce_alone() {
  if (!world_.distributed()) return;
  std::vector<PendingReduce> pending;
  for (size_t i = 0; i < buckets_.size(); ++i)
    pending.push_back(world_.start_sum(buckets_[i]->flat, "benchmark bucket " + std::to_string(i)));
  for (auto& p : pending) p.wait();
}

}  // namespace dfer::dist
