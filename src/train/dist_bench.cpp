// Data-parallel benchmark (see dist_bench.h).
#include "dfer/train/dist_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "dfer/dist/grad_sync.h"
#include "dfer/models/build.h"
#include "dfer/train/losses.h"
#include "dfer/util/error.h"

namespace dfer::train {

namespace {
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}
}  // namespace

DistBenchResult bench_dist(dist::World& world, const DistBenchOptions& o) {
  DistBenchResult r;
  r.world_size = world.size();
  r.backend = world.has_group() ? world.backend() : "none";
  const torch::Device dev = world.has_group() ? world.device() : o.train.device;
  // 1. All-reduce bandwidth. A group of one process (the GPU check's) has no peer to measure
  // against: one all-reduce there only proves that the group works.
  if (world.has_group() && !world.distributed()) {
    auto t = torch::full({1 << 18}, 3.0f, torch::TensorOptions().device(dev));
    world.sum(t, "the one-process check");
    if (!torch::equal(t.cpu(), torch::full({1 << 18}, 3.0f)))
      throw Error("bench --dist: an all-reduce over one process changed its input");
  } else if (world.has_group()) {
    for (const int64_t bytes : o.sizes_bytes) {
      auto t = torch::ones({bytes / 4}, torch::TensorOptions().device(dev));
      std::vector<double> times;
      for (int i = 0; i < o.reps + 1; ++i) {
        world.barrier("bandwidth sync");
        const auto t0 = Clock::now();
        world.sum(t, "bandwidth buffer");
        sync(dev);
        if (i > 0) times.push_back(since(t0));
      }
      DistBenchResult::Bandwidth b;
      b.bytes = bytes;
      b.seconds = median_seconds(times);
      const double n = static_cast<double>(world.size());
      b.algo_gb_s = static_cast<double>(bytes) / b.seconds / 1e9;
      b.bus_gb_s = b.algo_gb_s * 2.0 * (n - 1.0) / n;
      r.bandwidth.push_back(b);
    }
  }
  // 2. Training steps with the gradient all-reduce overlapping backward.
  const auto& spec = o.train.spec;
  torch::manual_seed(0);
  auto model = models::build_finetune(spec);
  model->to(o.train.device);
  model->train();
  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters())
    if (p.requires_grad()) params.push_back(p);
  dist::GradSyncOptions go;
  go.bucket_bytes = o.bucket_bytes;
  dist::GradientSync grads(world, params, go);
  r.buckets = grads.stats().buckets;
  r.grad_bytes = grads.stats().bytes;
  torch::optim::SGD opt(params, torch::optim::SGDOptions(1e-4));
  std::vector<double> step, exposed, alone;
  for (int i = 0; i < o.train.warmup + o.train.steps; ++i) {
    auto clips =
        torch::randn({o.train.batch, spec.in_chans, spec.num_frames, spec.img_size, spec.img_size})
            .to(o.train.device);
    auto labels =
        torch::randint(spec.num_classes, {o.train.batch}, torch::kLong).to(o.train.device);
    world.barrier("step sync");
    sync(o.train.device);
    const double exposed_before = grads.stats().exposed_wait_s;
    const auto t0 = Clock::now();
    torch::Tensor loss;
    {
      AutocastScope ac(o.train.precision, o.train.device);
      loss = label_smoothing_cross_entropy(model->forward(clips), labels, 0.1);
    }
    grads.arm();
    loss.backward();
    grads.finish();
    opt.step();
    opt.zero_grad();
    sync(o.train.device);
    const double s = since(t0);
    const double e = grads.stats().exposed_wait_s - exposed_before;
    // The same buckets' all-reduce with nothing else running.
    world.barrier("alone sync");
    const auto t1 = Clock::now();
    grads.reduce_alone();
    sync(o.train.device);
    const double a = since(t1);
    if (i < o.train.warmup) continue;
    step.push_back(s);
    exposed.push_back(e);
    alone.push_back(a);
  }
  r.step_s = median_seconds(step);
  r.exposed_comm_s = world.distributed() ? median_seconds(exposed) : 0.0;
  r.comm_alone_s = world.distributed() ? median_seconds(alone) : 0.0;
  r.hidden_fraction =
      r.comm_alone_s > 0 ? std::clamp(1.0 - r.exposed_comm_s / r.comm_alone_s, 0.0, 1.0) : 0.0;
  r.clips_per_s = static_cast<double>(o.train.batch * world.size()) / r.step_s;
  return r;
}

std::string DistBenchResult::to_string() const {
  std::string s = fmt::format("{} process(es), backend {}\n", world_size, backend);
  if (!bandwidth.empty()) {
    s += "all-reduce      bytes    median s   algo GB/s   bus GB/s\n";
    for (const auto& b : bandwidth)
      s += fmt::format("           {:>10}  {:>10.5f}  {:>10.3f}  {:>9.3f}\n", b.bytes, b.seconds,
                       b.algo_gb_s, b.bus_gb_s);
  }
  s += fmt::format(
      "training step: {:.4f} s median, {:.1f} clips/s over all processes; gradients {:.2f} MB in "
      "{} bucket(s)\n",
      step_s, clips_per_s, static_cast<double>(grad_bytes) / 1e6, buckets);
  if (world_size > 1)
    s += fmt::format(
        "communication: {:.4f} s alone, {:.4f} s left exposed after backward -> {:.0f}% hidden "
        "behind backward\n",
        comm_alone_s, exposed_comm_s, 100.0 * hidden_fraction);
  return s;
}

nlohmann::json DistBenchResult::to_json() const {
  nlohmann::json bw = nlohmann::json::array();
  for (const auto& b : bandwidth)
    bw.push_back({{"bytes", b.bytes},
                  {"seconds", b.seconds},
                  {"algo_gb_s", b.algo_gb_s},
                  {"bus_gb_s", b.bus_gb_s}});
  return {{"world_size", world_size},
          {"backend", backend},
          {"bandwidth", bw},
          {"buckets", buckets},
          {"grad_bytes", grad_bytes},
          {"step_s", step_s},
          {"exposed_comm_s", exposed_comm_s},
          {"comm_alone_s", comm_alone_s},
          {"hidden_fraction", hidden_fraction},
          {"clips_per_s", clips_per_s}};
}

}  // namespace dfer::train
