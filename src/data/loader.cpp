// Prefetching, ordered, reproducible batch loader (see loader.h).
#include "dfer/data/loader.h"

#include "dfer/util/system.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "dfer/util/error.h"

namespace dfer::data {

namespace {

torch::Tensor stack_field(const std::vector<Sample>& samples, torch::Tensor Sample::*field,
                          const char* name) {
  size_t have = 0;
  for (const Sample& s : samples) have += (s.*field).defined() ? 1 : 0;
  if (have == 0) return {};
  if (have != samples.size()) {
    throw Error(std::string("collate: only ") + std::to_string(have) + " of " +
                std::to_string(samples.size()) + " samples have a " + name);
  }
  std::vector<torch::Tensor> parts;
  parts.reserve(samples.size());
  for (const Sample& s : samples) {
    if (!(s.*field).sizes().equals((samples.front().*field).sizes())) {
      throw Error(std::string("collate: ") + name + " shapes differ (" +
                  c10::str((samples.front().*field).sizes()) + " vs " +
                  c10::str((s.*field).sizes()) + ", sample " + std::to_string(s.index) + ")");
    }
    parts.push_back(s.*field);
  }
  return torch::stack(parts);
}

}  // namespace

Batch collate(std::vector<Sample> samples) {
  Batch b;
  b.clips = stack_field(samples, &Sample::clip, "clip");
  b.labels = stack_field(samples, &Sample::label, "label");
  b.targets = stack_field(samples, &Sample::target, "target");
  b.masks = stack_field(samples, &Sample::mask, "mask");
  for (Sample& s : samples) {
    b.indices.push_back(s.index);
    b.rows.push_back(s.row);
    b.segments.push_back(s.segment);
    b.crops.push_back(s.crop);
    b.ids.push_back(std::move(s.id));
  }
  return b;
}

std::vector<int64_t> distributed_indices(int64_t dataset_size, int64_t world_size, int64_t rank,
                                         bool shuffle, uint64_t seed, int64_t epoch, bool drop_tail,
                                         bool uneven) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw UsageError("distributed sampler: rank " + std::to_string(rank) + " is not in [0, " +
                     std::to_string(world_size) + ")");
  }
  if (dataset_size < 0) throw Error("distributed sampler: negative dataset size");
  std::vector<int64_t> all(static_cast<size_t>(dataset_size));
  if (shuffle && dataset_size > 0) {
    const torch::Tensor perm = torch::randperm(
        dataset_size, at::detail::createCPUGenerator(seed + static_cast<uint64_t>(epoch)),
        torch::kLong);
    std::copy(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + dataset_size, all.begin());
  } else {
    for (int64_t i = 0; i < dataset_size; ++i) all[static_cast<size_t>(i)] = i;
  }
  if (uneven) {
    std::vector<int64_t> mine;
    for (int64_t i = rank; i < dataset_size; i += world_size)
      mine.push_back(all[static_cast<size_t>(i)]);
    return mine;
  }
  int64_t per_rank = 0;
  if (drop_tail && dataset_size % world_size != 0) {
    per_rank = (dataset_size - world_size + world_size - 1) / world_size;  // ceil((n - w) / w)
  } else {
    per_rank = (dataset_size + world_size - 1) / world_size;
  }
  const int64_t total = per_rank * world_size;
  if (!drop_tail && dataset_size > 0) {
    // indices += (indices * ceil(pad / n))[:pad]: wrap around as often as needed.
    for (int64_t i = dataset_size; i < total; ++i)
      all.push_back(all[static_cast<size_t>(i % dataset_size)]);
  }
  all.resize(static_cast<size_t>(std::max<int64_t>(total, 0)));
  std::vector<int64_t> mine;
  for (int64_t i = rank; i < total; i += world_size) mine.push_back(all[static_cast<size_t>(i)]);
  return mine;
}

Loader::Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  if (!dataset_) throw Error("Loader: no dataset");
  if (options_.batch_size < 1) throw UsageError("data loader: batch_size must be >= 1");
  if (options_.num_workers < 0) throw UsageError("data loader: num_workers must be >= 0");
  if (options_.prefetch_batches < 1) throw UsageError("data loader: prefetch must be >= 1");
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size) {
    throw UsageError("data loader: rank " + std::to_string(options_.rank) + " is not in [0, " +
                     std::to_string(options_.world_size) + ")");
  }
}

Loader::~Loader() {
  stop_workers();
}

int64_t Loader::samples_per_epoch() const {
  const int64_t n = dataset_->size(), w = options_.world_size;
  if (options_.uneven_shards) return n > options_.rank ? (n - options_.rank + w - 1) / w : 0;
  return (n + w - 1) / w;
}

int64_t Loader::batches_per_epoch() const {
  const int64_t s = samples_per_epoch(), b = options_.batch_size;
  return options_.drop_last ? s / b : (s + b - 1) / b;
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_cv_.notify_all();
  ready_cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void Loader::start_epoch(int64_t epoch, int64_t start_batch) {
  stop_workers();
  std::lock_guard<std::mutex> lock(mutex_);
  epoch_ = epoch;
  order_ = distributed_indices(dataset_->size(), options_.world_size, options_.rank,
                               options_.shuffle, options_.sampler_seed, epoch,
                               /*drop_tail=*/false, options_.uneven_shards);
  end_batch_ = batches_per_epoch();
  next_claim_ = next_yield_ = std::clamp<int64_t>(start_batch, 0, end_batch_);
  ready_.clear();
  stop_ = false;
  started_ = true;
  for (int64_t i = 0; i < options_.num_workers; ++i)
    workers_.emplace_back([this] { worker_loop(); });
}

void Loader::worker_loop() {
  // Workers run many small tensor ops; letting each spawn an OpenMP team oversubscribes the cores
  // the training step's threads need (and spins), so a worker computes on its own thread only.
  use_single_thread_kernels_here();
  const int64_t window = options_.num_workers * options_.prefetch_batches;
  for (;;) {
    int64_t batch = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_cv_.wait(lock, [&] {
        return stop_ || next_claim_ >= end_batch_ || next_claim_ < next_yield_ + window;
      });
      if (stop_ || next_claim_ >= end_batch_) return;
      batch = next_claim_++;
    }
    Slot slot;
    try {
      slot.batch = make_batch(batch);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_[batch] = std::move(slot);
    }
    ready_cv_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  if (!started_) throw Error("data loader: start_epoch() must be called before next()");
  if (options_.num_workers == 0) {
    if (next_yield_ >= end_batch_) return std::nullopt;
    std::optional<SingleThreadKernels> own_thread;
    if (options_.single_thread_kernels) own_thread.emplace();
    return make_batch(next_yield_++);
  }
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (next_yield_ >= end_batch_) return std::nullopt;
    ready_cv_.wait(lock, [&] { return stop_ || ready_.count(next_yield_) > 0; });
    if (stop_) return std::nullopt;
    auto it = ready_.find(next_yield_);
    slot = std::move(it->second);
    ready_.erase(it);
    ++next_yield_;
  }
  space_cv_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

void Loader::record_bad(int64_t index, const std::string& reason) const {
  const std::string where = dataset_->describe(index);
  spdlog::warn("skipping bad sample {}: {}", where, reason);
  std::lock_guard<std::mutex> lock(bad_mutex_);
  bad_.push_back({index, where, reason});
}

Sample Loader::make_sample(int64_t position, int64_t index, bool* dropped) const {
  const uint64_t seed = sample_seed(options_.seed, epoch_, index);
  try {
    Rng rng(seed);
    return dataset_->get(index, rng);
  } catch (const std::exception& e) {
    if (options_.bad_samples == BadSamplePolicy::kFail) {
      rethrow_with_context("while loading " + dataset_->describe(index));
    }
    record_bad(index, e.what());
  }
  if (options_.bad_samples == BadSamplePolicy::kDrop) {
    *dropped = true;
    return {};
  }
  // Replacement: a deterministic random other sample, as the reference re-draws an index.
  Rng pick(mix_seed(seed, static_cast<uint64_t>(position) + 1));
  const int64_t n = dataset_->size();
  for (int64_t attempt = 0; attempt < options_.max_replacement_tries; ++attempt) {
    const int64_t other = randint(pick, 0, n - 1);
    try {
      Rng rng(
          mix_seed(sample_seed(options_.seed, epoch_, other), static_cast<uint64_t>(attempt) + 1));
      return dataset_->get(other, rng);
    } catch (const std::exception& e) {
      record_bad(other, e.what());
    }
  }
  throw Error("while loading " + dataset_->describe(index) + ": the sample and " +
              std::to_string(options_.max_replacement_tries) + " random replacements failed");
}

Batch Loader::make_batch(int64_t batch) const {
  const int64_t begin = batch * options_.batch_size;
  const int64_t end =
      std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(order_.size()));
  std::vector<Sample> samples;
  samples.reserve(static_cast<size_t>(std::max<int64_t>(end - begin, 0)));
  for (int64_t p = begin; p < end; ++p) {
    bool dropped = false;
    Sample s = make_sample(p, order_[static_cast<size_t>(p)], &dropped);
    if (!dropped) samples.push_back(std::move(s));
  }
  Batch b = collate(std::move(samples));
  b.epoch = epoch_;
  b.batch_index = batch;
  if (options_.pin_memory && torch::cuda::is_available()) {
    for (torch::Tensor* t : {&b.clips, &b.labels, &b.targets, &b.masks}) {
      if (t->defined()) *t = t->pin_memory();
    }
  }
  return b;
}

std::vector<BadSample> Loader::bad_samples() const {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  return bad_;
}

std::string Loader::bad_sample_report() const {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  if (bad_.empty()) return "";
  std::string out = std::to_string(bad_.size()) + " bad sample(s) skipped:";
  for (const BadSample& b : bad_) out += "\n  " + b.where + ": " + b.reason;
  return out;
}

}  // namespace dfer::data
