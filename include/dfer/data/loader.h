// The prefetching batch loader: worker threads decode and augment whole batches ahead of the
// trainer through a bounded, ordered window; DistributedSampler sharding; per-sample seeds from
// (seed, epoch, dataset index), so batches are identical whatever the worker count; resume at
// (epoch, batch); optional skipping of undecodable samples with a final report.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dfer/data/dataset.h"

namespace dfer::data {

struct Batch {
  torch::Tensor clips;    // [B, C, T, H, W]
  torch::Tensor labels;   // int64 [B]; undefined when the samples have no label
  torch::Tensor targets;  // float [B, ...]; undefined when the samples have no target
  torch::Tensor masks;    // bool [B, N]; undefined when the samples have no mask
  std::vector<int64_t> indices, rows, segments, crops;
  std::vector<std::string> ids;
  int64_t epoch = 0;
  int64_t batch_index = 0;  // position in this rank's epoch
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

// Stacks samples; a field is stacked when every sample has it and left undefined when none has
// it (dfer::Error when only some have it, or shapes differ).
Batch collate(std::vector<Sample> samples);

// torch.utils.data.DistributedSampler: a permutation (torch.randperm with a CPU generator
// seeded seed + epoch, the same as PyTorch's) or 0..n-1; without drop_tail the list is padded by
// wrapping to a multiple of world_size, with drop_tail cut to one; then rank::world_size.
// `uneven` (evaluation) neither pads nor cuts: ranks get one sample more or less, none twice.
std::vector<int64_t> distributed_indices(int64_t dataset_size, int64_t world_size, int64_t rank,
                                         bool shuffle, uint64_t seed, int64_t epoch,
                                         bool drop_tail = false, bool uneven = false);

// What happens when a sample cannot be produced (decode error, bad frame count, ...).
enum class BadSamplePolicy {
  kFail,     // the error reaches the consumer, naming the sample (file:line path)
  kReplace,  // another sample drawn at random takes its place (the reference's behaviour)
  kDrop,     // the batch is one smaller (evaluation: no sample counted twice)
};

struct LoaderOptions {
  int64_t batch_size = 1;
  int64_t num_workers = 0;       // 0 = build batches on the calling thread
  int64_t prefetch_batches = 2;  // batches in flight per worker
  bool shuffle = false;
  bool drop_last = false;     // drop this rank's last incomplete batch
  bool pin_memory = false;    // page-locked batches; a no-op without CUDA
  uint64_t seed = 0;          // augmentation seeds (sample_seed(seed, epoch, index))
  uint64_t sampler_seed = 0;  // shuffle seed; DistributedSampler's default is 0
  int64_t rank = 0;
  int64_t world_size = 1;
  // Shard without padding (evaluation: the gathered results hold every sample exactly once).
  bool uneven_shards = false;
  BadSamplePolicy bad_samples = BadSamplePolicy::kFail;
  int64_t max_replacement_tries = 10;
  // num_workers 0: the calling thread builds batches with its OpenMP kernels on itself alone.
  // Letting the loader's many small ops open the training threads' team made every op wait for
  // all of them: with another busy process on the machine one of them is often descheduled, and
  // loading fell ~10x (2 threads) where one thread kept its speed. false is for the benchmark.
  bool single_thread_kernels = true;
};

struct BadSample {
  int64_t index = -1;
  std::string where;   // Dataset::describe
  std::string reason;  // the error message
};

class Loader {
 public:
  Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~Loader();  // stops and joins the workers
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Samples of this rank per epoch (after distributed padding) and the batches they make.
  int64_t samples_per_epoch() const;
  int64_t batches_per_epoch() const;

  // Starts producing `epoch` from batch `start_batch` (resume); an epoch in flight is abandoned.
  void start_epoch(int64_t epoch, int64_t start_batch = 0);

  // The next batch in order, or nullopt at the end of the epoch. A failure while making the batch
  // is rethrown here as dfer::Error naming the sample (unless the policy skips it).
  std::optional<Batch> next();

  // Samples skipped so far (kReplace / kDrop), in the order they were met.
  std::vector<BadSample> bad_samples() const;
  // "N bad samples skipped:\n  where: reason\n..." or "" when none.
  std::string bad_sample_report() const;

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  Batch make_batch(int64_t batch) const;
  Sample make_sample(int64_t position, int64_t index, bool* dropped) const;
  void worker_loop();
  void stop_workers();
  void record_bad(int64_t index, const std::string& reason) const;

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;

  // The epoch in flight.
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;  // this rank's dataset indices
  int64_t end_batch_ = 0;
  int64_t next_claim_ = 0;  // next batch a worker takes
  int64_t next_yield_ = 0;  // next batch next() returns
  bool stop_ = false;
  bool started_ = false;
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> workers_;
  mutable std::mutex mutex_;
  std::condition_variable space_cv_;  // a worker may claim another batch
  std::condition_variable ready_cv_;  // a batch was finished

  mutable std::mutex bad_mutex_;
  mutable std::vector<BadSample> bad_;
};

}  // namespace dfer::data
