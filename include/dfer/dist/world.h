// The process group of a data-parallel job, on PyTorch's own c10d: a TCPStore for the rendezvous
// (rank 0 serves it, or torchrun's agent does) and ProcessGroupGloo (CPU tensors) or
// ProcessGroupNCCL (CUDA tensors, CUDA builds only) for the collectives. A World of one process
// needs no store and makes every collective a no-op, so callers never branch on the world size.
// Every failure of a collective (a dead peer, the timeout) becomes a dfer::Error saying which
// collective, which rank, and what to look at.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dfer/dist/launch_env.h"

namespace dfer::dist {

struct WorldOptions {
  std::string backend = "gloo";  // gloo | nccl
  // How long a collective (and the rendezvous) may wait for the other ranks.
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  int64_t cuda_device = -1;  // nccl: this rank's device
  // Create the store and process group even for a world of one (the GPU check's 1-GPU NCCL
  // world); otherwise a single process has none and its collectives are no-ops.
  bool force_group = false;
};

// An all-reduce in flight (see World::start_sum).
class PendingReduce {
 public:
  struct State;
  explicit PendingReduce(std::shared_ptr<State> s = nullptr) : s_(std::move(s)) {}
  void wait();  // no-op when nothing is pending
 private:
  std::shared_ptr<State> s_;
};

class World {
 public:
  World();  // one process
  // Joins the job described by `env` (a world of one when env.world_size == 1).
  static std::shared_ptr<World> join(const LaunchEnv& env, const WorldOptions& options);
  ~World();

  int64_t rank() const { return env_.rank; }
  int64_t size() const { return env_.world_size; }
  int64_t local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  bool distributed() const { return env_.world_size > 1; }
  bool has_group() const { return impl_ != nullptr; }
  const LaunchEnv& env() const { return env_; }
  const std::string& backend() const { return options_.backend; }
  // The device collectives run on: CPU for gloo, this rank's GPU for nccl.
  torch::Device device() const;

  // In place, from rank 0 to every rank. `what` names the data in error messages.
  void broadcast(std::vector<torch::Tensor> tensors, const std::string& what);
  // In-place sum over ranks.
  void sum(torch::Tensor t, const std::string& what);
  PendingReduce start_sum(torch::Tensor t, const std::string& what);
  // Host values summed over ranks (double precision).
  std::vector<double> sum(std::vector<double> values, const std::string& what);
  // Concatenation along dim 0 of every rank's tensor (rank order); rows may differ per rank, the
  // other dimensions and the dtype may not.
  torch::Tensor gather_rows(const torch::Tensor& t, const std::string& what);
  // Every rank's strings, in rank order.
  std::vector<std::string> gather_strings(const std::vector<std::string>& v,
                                          const std::string& what);
  void barrier(const std::string& what);

  struct Impl;

 private:
  LaunchEnv env_;
  WorldOptions options_;
  std::shared_ptr<Impl> impl_;
};

// The process's world: one process until set_world is called (the engines' setup does, once).
World& world();
void set_world(std::shared_ptr<World> w);

}  // namespace dfer::dist
