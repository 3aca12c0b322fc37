// Data-parallel gradient averaging over a World: the trainable parameters are laid out in flat
// buckets (~25 MB, in reverse registration order as PyTorch's DDP, since backward produces the
// last layers' gradients first). A hook after each parameter's gradient accumulation copies it
// into its bucket; a full bucket starts its all-reduce at once, so communication runs while
// backward computes the earlier layers. Buckets are launched strictly in index order, the same on
// every rank, whatever order the hooks fire in. Only an armed backward (the last micro-step of an
// accumulation) communicates; the others just accumulate locally, as DDP's no_sync.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "dfer/dist/world.h"

namespace dfer::dist {

struct GradSyncOptions {
  int64_t bucket_bytes = 25 * 1024 * 1024;
};

struct GradSyncStats {
  int64_t buckets = 0;
  int64_t bytes = 0;                 // one rank's gradient bytes per synchronisation
  int64_t syncs = 0;                 // finished synchronisations
  double exposed_wait_s = 0;         // time finish() spent waiting for all-reduces (not hidden)
  int64_t launched_in_backward = 0;  // bucket launches by hooks during backward (the rest: finish)
};

class GradientSync {
 public:
  // `params`: the parameters the optimizer updates (requires_grad), in registration order.
  GradientSync(World& world, std::vector<torch::Tensor> params, GradSyncOptions options = {});
  ~GradientSync();  // removes the hooks
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // The next backward is the last micro-step before an optimizer step: communicate during it.
  void arm();
  // After that backward: starts the buckets not started yet (a parameter that got no gradient
  // counts as zeros, as DDP), waits for all, and leaves the average over ranks in every .grad.
  void finish();

  const GradSyncStats& stats() const { return stats_; }
  // For the benchmark: every bucket's all-reduce on its current contents, started back to back
  // and waited for, with no backward to hide behind (the gradients are left as they are).
  void reduce_alone();

  struct Bucket;

 private:
  void on_grad(size_t param);
  void launch_ready(bool in_backward);

  World& world_;
  std::vector<torch::Tensor> params_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<std::pair<size_t, int64_t>> where_;  // param -> (bucket, offset)
  std::vector<char> arrived_;                      // param's gradient came in this backward
  size_t next_launch_ = 0;
  bool armed_ = false;
  GradSyncStats stats_;
};

}  // namespace dfer::dist
