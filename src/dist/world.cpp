// The c10d process group wrapper (see world.h).
#include "dfer/dist/world.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backends.h"
#include "dfer/util/error.h"

namespace dfer::dist {

struct World::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
};

struct PendingReduce::State {
  c10::intrusive_ptr<c10d::Work> work;
  std::function<void(const std::exception&)> fail;
};

namespace {

std::shared_ptr<World>& current() {
  static std::shared_ptr<World> w = std::make_shared<World>();
  return w;
}

// Runs `f`; a c10d failure becomes a dfer::Error that says what to do about it.
// c10's errors carry a C++ backtrace in what(); the message alone is what a user needs.
std::string message_of(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

[[noreturn]] void fail_collective(const LaunchEnv& env, const WorldOptions& o,
                                  const std::string& what, const std::exception& e) {
  throw Error(fmt::format(
      "distributed: rank {} of {}: {} failed: {}\nAnother rank has probably died (look at its "
      "log) or stalled for longer than system.dist_timeout ({} s); this rank stops too.",
      env.rank, env.world_size, what, message_of(e),
      std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count()));
}

template <class F>
auto guarded(const LaunchEnv& env, const WorldOptions& o, const std::string& what, F&& f) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail_collective(env, o, what, e);
  }
}

}  // namespace

void PendingReduce::wait() {
  if (!s_) return;
  auto s = std::move(s_);
  try {
    s->work->wait();
  } catch (const std::exception& e) {
    s->fail(e);
    throw;
  }
}

World::World() = default;
World::~World() = default;

std::shared_ptr<World> World::join(const LaunchEnv& env, const WorldOptions& options) {
  auto w = std::make_shared<World>();
  w->env_ = env;
  w->options_ = options;
  if (options.backend != "gloo" && options.backend != "nccl")
    throw UsageError("system.dist_backend: '" + options.backend + "' is not gloo or nccl");
  if (options.backend == "nccl" && !detail::nccl_compiled())
    detail::make_nccl({}, 0, 1, options.timeout, 0);  // throws the build's explanation
  if (env.world_size == 1 && !options.force_group) return w;
  w->impl_ = std::make_shared<Impl>();
  w->impl_->store =
      guarded(env, options,
              "the rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port), [&] {
                c10d::TCPStoreOptions so;
                so.port = static_cast<uint16_t>(env.master_port);
                // With torchrun's agent store every rank is a client; otherwise rank 0 serves.
                so.isServer = !env.agent_store && env.rank == 0;
                so.numWorkers = env.agent_store
                                    ? std::nullopt
                                    : std::optional<size_t>(static_cast<size_t>(env.world_size));
                // Every rank counts itself in (a client that does not is never seen by rank 0's
                // wait).
                so.waitWorkers = !env.agent_store;
                so.multiTenant = true;
                so.timeout = options.timeout;
                auto tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
                // A restarted job may meet keys of the attempt before in the agent's store.
                return c10::intrusive_ptr<c10d::Store>(c10::make_intrusive<c10d::PrefixStore>(
                    "dfer/attempt_" + std::to_string(env.restart_count), tcp));
              });
  const int rank = static_cast<int>(env.rank), size = static_cast<int>(env.world_size);
  w->impl_->backend =
      guarded(env, options, "creating the " + options.backend + " process group", [&] {
        return options.backend == "nccl"
                   ? detail::make_nccl(w->impl_->store, rank, size, options.timeout,
                                       static_cast<int>(options.cuda_device))
                   : detail::make_gloo(w->impl_->store, rank, size, options.timeout,
                                       env.master_addr);
      });
  spdlog::debug("distributed: joined as {} with {}", env.describe(), options.backend);
  return w;
}

torch::Device World::device() const {
  if (options_.backend == "nccl")
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(options_.cuda_device));
  return torch::kCPU;
}

void World::broadcast(std::vector<torch::Tensor> tensors, const std::string& what) {
  if (!impl_ || tensors.empty()) return;
  guarded(env_, options_, "broadcast of " + what, [&] {
    // One flat buffer per dtype: a handful of collectives instead of one per tensor.
    std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
    for (auto& t : tensors) by_type[t.scalar_type()].push_back(t);
    for (auto& [type, group] : by_type) {
      std::vector<torch::Tensor> flat_parts;
      for (auto& t : group) flat_parts.push_back(t.detach().reshape({-1}).to(device()));
      std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
      c10d::BroadcastOptions bo;
      bo.rootRank = 0;
      impl_->backend->broadcast(flat, bo)->wait();
      int64_t offset = 0;
      torch::NoGradGuard no_grad;
      for (auto& t : group) {
        t.copy_(flat[0].narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    }
    return 0;
  });
}

PendingReduce World::start_sum(torch::Tensor t, const std::string& what) {
  if (!impl_) return PendingReduce();
  auto state = std::make_shared<PendingReduce::State>();
  state->fail = [env = env_, o = options_, what](const std::exception& e) {
    fail_collective(env, o, "all-reduce of " + what, e);
  };
  state->work = guarded(env_, options_, "all-reduce of " + what, [&] {
    std::vector<torch::Tensor> v{t};
    return impl_->backend->allreduce(v);
  });
  return PendingReduce(state);
}

void World::sum(torch::Tensor t, const std::string& what) {
  start_sum(std::move(t), what).wait();
}

std::vector<double> World::sum(std::vector<double> values, const std::string& what) {
  if (!impl_ || values.empty()) return values;
  auto t = torch::tensor(values, torch::kDouble).to(device());
  sum(t, what);
  t = t.to(torch::kCPU).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

torch::Tensor World::gather_rows(const torch::Tensor& t, const std::string& what) {
  if (!impl_) return t;
  return guarded(env_, options_, "gathering " + what, [&] {
    // Row counts first, then every rank's rows padded to the largest count.
    std::vector<torch::Tensor> counts_in{torch::full({1}, t.size(0), torch::kLong).to(device())};
    std::vector<std::vector<torch::Tensor>> counts_out(1);
    for (int64_t r = 0; r < env_.world_size; ++r)
      counts_out[0].push_back(torch::empty_like(counts_in[0]));
    impl_->backend->allgather(counts_out, counts_in)->wait();
    std::vector<int64_t> counts;
    int64_t most = 0;
    for (auto& c : counts_out[0]) {
      counts.push_back(c.to(torch::kCPU).item<int64_t>());
      most = std::max(most, counts.back());
    }
    auto shape = t.sizes().vec();
    shape[0] = most;
    auto padded = torch::zeros(shape, t.options().device(device()));
    if (t.size(0) > 0) padded.narrow(0, 0, t.size(0)).copy_(t);
    std::vector<torch::Tensor> in{padded};
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int64_t r = 0; r < env_.world_size; ++r) out[0].push_back(torch::empty_like(padded));
    impl_->backend->allgather(out, in)->wait();
    std::vector<torch::Tensor> parts;
    for (int64_t r = 0; r < env_.world_size; ++r)
      parts.push_back(out[0][static_cast<size_t>(r)].narrow(0, 0, counts[static_cast<size_t>(r)]));
    return torch::cat(parts).to(t.device());
  });
}

std::vector<std::string> World::gather_strings(const std::vector<std::string>& v,
                                               const std::string& what) {
  if (!impl_) return v;
  // One byte row per rank: the strings, each ended by a NUL.
  std::string bytes;
  for (const auto& s : v) bytes.append(s).push_back('\0');
  auto t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  auto all = gather_rows(t, what).contiguous();
  const char* p = reinterpret_cast<const char*>(all.data_ptr<uint8_t>());
  std::vector<std::string> out;
  for (int64_t i = 0, start = 0; i < all.numel(); ++i)
    if (p[i] == '\0') {
      out.emplace_back(p + start, p + i);
      start = i + 1;
    }
  return out;
}

void World::barrier(const std::string& what) {
  if (!impl_) return;
  // A one-element sum rather than Backend::barrier: NCCL's barrier guesses a device.
  auto t = torch::zeros({1}, torch::TensorOptions().device(device()));
  sum(t, what);
}

World& world() {
  return *current();
}

void set_world(std::shared_ptr<World> w) {
  if (!w) throw Error("set_world: null world");
  current() = std::move(w);
}

}  // namespace dfer::dist
