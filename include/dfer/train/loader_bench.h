// Loader benchmark (dfer-model bench --loader): clips/s and peak resident memory of the training
// loader (decode + the configured fine-tune augmentation + collation) for several data sources and
// worker counts, so JPEG frame folders and packed shards can be compared on the same recipe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dfer/config/config.h"

namespace dfer::train {

struct LoaderBenchOptions {
  // (label, data.data_path) pairs: a folder with train.csv or a pack folder.
  std::vector<std::pair<std::string, std::string>> sources;
  std::vector<int64_t> workers = {1, 2};
  int64_t batches = 8;  // batches timed per run (after the first, which fills the pipeline)
  int runs = 3;         // runs per (source, workers); the median is reported
  // true: the validation chain (decode, resize, centre crop, normalise) instead of the training
  // augmentation, which isolates how fast a source delivers frames.
  bool eval_chain = false;
  // true (wins over eval_chain): loading alone, i.e. the training sampler's frames decoded and
  // resized to data.short_side_size as uint8 [T, H, W, 3] with no transform at all; what a pack
  // replaces, measured without the float work every source shares.
  bool decode_only = false;
  // Also time num_workers 0 with the loader's kernels on the training threads' OpenMP team (the
  // behaviour before LoaderOptions::single_thread_kernels), for a before/after in one run.
  bool compare_shared_kernels = false;
  // Processes that spin on a core each for the whole benchmark: a deliberate background load.
  int busy_processes = 0;
};

struct LoaderBenchRow {
  std::string source;
  int64_t workers = 0;
  int64_t batch = 0;
  double clips_per_s = 0;      // median over runs
  double min_clips_per_s = 0;  // slowest run
  int64_t peak_rss_bytes = 0;  // process peak RSS while this row ran (reset before it)
  std::string clip_shape;      // "CxTxHxW" of one training clip ("TxHxWxC" for decode)
  std::string chain;           // "train", "eval" or "decode"
  std::string kernels;         // "own": single-thread kernels on the loading thread; "shared"
};

// Runs the training split of `cfg` (with data.data_path replaced by each source) through the
// loader. Throws dfer::Error from the data pipeline (bad paths, ...).
std::vector<LoaderBenchRow> bench_loader(const Config& cfg, const LoaderBenchOptions& options);

// The rows as a fixed-width table with a speed-up column relative to the first source.
std::string loader_bench_table(const std::vector<LoaderBenchRow>& rows);

}  // namespace dfer::train
