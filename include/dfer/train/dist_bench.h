// Data-parallel benchmark (dfer-model bench --dist), run by every rank of a launched job
// (tools/bench_dist.sh launches it with 1 and with 2 processes and compares them): all-reduce
// bandwidth over the world's backend, and training steps of a fine-tune model with the gradient
// all-reduce, the time backward left exposed, and the same buckets' all-reduce timed alone, so
// the share of communication hidden behind backward is measured, not guessed.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "dfer/dist/world.h"
#include "dfer/train/bench.h"

namespace dfer::train {

struct DistBenchOptions {
  TrainBenchOptions train;  // model, batch per process, warm-up and measured steps, device
  std::vector<int64_t> sizes_bytes = {1 << 20, 4 << 20, 25 << 20, 100 << 20};
  int reps = 7;  // per all-reduce size (median reported)
  int64_t bucket_bytes = 25 << 20;
};

struct DistBenchResult {
  int64_t world_size = 1;
  std::string backend;
  struct Bandwidth {
    int64_t bytes = 0;
    double seconds = 0, algo_gb_s = 0, bus_gb_s = 0;  // bus = algo x 2 (n - 1) / n (ring)
  };
  std::vector<Bandwidth> bandwidth;
  int64_t buckets = 0, grad_bytes = 0;
  // Medians per training step, seconds.
  double step_s = 0, exposed_comm_s = 0, comm_alone_s = 0;
  double hidden_fraction = 0;  // 1 - exposed / alone, within [0, 1]
  double clips_per_s = 0;      // all ranks together
  std::string to_string() const;
  nlohmann::json to_json() const;
};

DistBenchResult bench_dist(dist::World& world, const DistBenchOptions& options);

}  // namespace dfer::train
