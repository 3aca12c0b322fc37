// Loader benchmark (see loader_bench.h).
#include "dfer/train/loader_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "dfer/data/loader.h"
#include "dfer/data/sampling.h"
#include "dfer/train/bench.h"
#include "dfer/train/data_setup.h"
#include "dfer/train/model_factory.h"
#include "dfer/util/error.h"

namespace dfer::train {

namespace {
using Clock = std::chrono::steady_clock;

// Forked children that spin until this object goes (SIGKILL + reap): another busy program on the
// machine, started and stopped by the benchmark itself so every row sees the same load.
class BusyLoad {
 public:
  explicit BusyLoad(int n) {
    for (int i = 0; i < n; ++i) {
      const pid_t pid = fork();
      if (pid < 0) throw Error("bench --loader: fork for --busy failed");
      if (pid == 0) {
        volatile uint64_t x = 0;
        for (;;) x = x + 1;  // pure computation: no lock of the parent's is touched after fork
      }
      pids_.push_back(pid);
    }
  }
  ~BusyLoad() {
    for (const pid_t pid : pids_) kill(pid, SIGKILL);
    for (const pid_t pid : pids_) waitpid(pid, nullptr, 0);
  }
  BusyLoad(const BusyLoad&) = delete;
  BusyLoad& operator=(const BusyLoad&) = delete;

 private:
  std::vector<pid_t> pids_;
};

// The loading half of the training dataset: the training sampler's frame indices, decoded (or read
// from a pack) and resized by the frame loader, returned as uint8 [T, H, W, 3].
class DecodeOnlyDataset : public data::Dataset {
 public:
  DecodeOnlyDataset(std::vector<io::AnnotationRow> rows, data::FrameLoader loader,
                    data::ClipDatasetOptions options)
      : rows_(std::move(rows)), loader_(std::move(loader)), o_(std::move(options)) {}
  int64_t size() const override { return static_cast<int64_t>(rows_.size()); }
  data::Sample get(int64_t index, data::Rng& rng) const override {
    data::Sample s;
    // The same pick as ClipDataset's training mode.
    s.clip = loader_(rows_[static_cast<size_t>(index)], [&](int64_t n) {
      return data::train_clip_indices(n, o_.num_frames, o_.sampling_rate, rng, o_.num_segments);
    });
    s.index = index;
    return s;
  }

 private:
  std::vector<io::AnnotationRow> rows_;
  data::FrameLoader loader_;
  data::ClipDatasetOptions o_;
};

}  // namespace

std::vector<LoaderBenchRow> bench_loader(const Config& base, const LoaderBenchOptions& o) {
  std::vector<LoaderBenchRow> rows;
  const BusyLoad busy(o.busy_processes);
  for (const auto& [label, path] : o.sources) {
    Config cfg = base;
    cfg.set_string("data.data_path", path);
    const auto spec = model_spec_from_config(cfg);
    // Every chain reads the training list; the others only change what happens after decoding,
    // through a frame loader that resizes to short_side_size as the training chain's first step.
    auto train_rows = make_clip_dataset(cfg, data::ClipMode::kTrain, spec);
    std::shared_ptr<data::Dataset> dataset = train_rows;
    if (o.decode_only || o.eval_chain) {
      data::ClipDatasetOptions opts = train_rows->options();
      const int side = static_cast<int>(opts.train.short_side_size);
      auto frames = data::make_frame_loader(opts.source, side, side);
      if (o.decode_only) {
        dataset = std::make_shared<DecodeOnlyDataset>(train_rows->rows(), std::move(frames), opts);
      } else {
        opts.mode = data::ClipMode::kValidation;
        dataset = std::make_shared<data::ClipDataset>(train_rows->rows(), std::move(frames), opts);
      }
    }
    // (workers, kernels on their own thread) pairs: worker threads always compute alone.
    std::vector<std::pair<int64_t, bool>> runs;
    for (const int64_t w : o.workers) {
      if (w == 0 && o.compare_shared_kernels) runs.emplace_back(w, false);
      runs.emplace_back(w, true);
    }
    for (const auto& [w, own] : runs) {
      auto lo = make_loader_options(cfg, data::ClipMode::kTrain, false);
      lo.num_workers = w;
      lo.single_thread_kernels = own;
      data::Loader loader(dataset, lo);
      const int64_t per_epoch = loader.batches_per_epoch();
      if (per_epoch < 2)
        throw UsageError("bench --loader: '" + path + "' gives fewer than 2 training batches of " +
                         std::to_string(lo.batch_size));
      const int64_t n = std::min<int64_t>(o.batches, per_epoch - 1);
      reset_host_peak();
      LoaderBenchRow row;
      row.source = label;
      row.workers = w;
      row.batch = lo.batch_size;
      row.chain = o.decode_only ? "decode" : (o.eval_chain ? "eval" : "train");
      row.kernels = own ? "own" : "shared";
      std::vector<double> rates;
      for (int run = 0; run < o.runs; ++run) {
        loader.start_epoch(run);
        auto first = loader.next();  // fills the pipeline; not timed
        if (!first) throw Error("bench --loader: empty epoch");
        if (row.clip_shape.empty()) {
          const auto s = first->clips.sizes();  // [B, ...]
          for (int64_t d = 1; d < first->clips.dim(); ++d)
            row.clip_shape += (d > 1 ? "x" : "") + std::to_string(s[d]);
        }
        const auto t0 = Clock::now();
        int64_t clips = 0;
        for (int64_t b = 0; b < n; ++b) {
          auto batch = loader.next();
          if (!batch) break;
          clips += batch->size();
        }
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        rates.push_back(s > 0 ? static_cast<double>(clips) / s : 0.0);
        spdlog::debug("loader bench {} workers={} run {}: {:.1f} clips/s", label, w, run,
                      rates.back());
      }
      std::sort(rates.begin(), rates.end());
      row.clips_per_s = rates[rates.size() / 2];
      row.min_clips_per_s = rates.front();
      row.peak_rss_bytes = host_peak_rss();
      rows.push_back(row);
    }
  }
  return rows;
}

std::string loader_bench_table(const std::vector<LoaderBenchRow>& rows) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-16s %-6s %7s %-7s %5s %-14s %10s %10s %8s %10s\n", "source",
                "chain", "workers", "kernels", "batch", "clip", "clips/s", "slowest", "speedup",
                "peak RSS");
  out += buf;
  // First source's rate per (worker count, kernel placement).
  std::map<std::pair<int64_t, std::string>, double> base;
  for (const auto& r : rows)
    if (!base.count({r.workers, r.kernels})) base[{r.workers, r.kernels}] = r.clips_per_s;
  for (const auto& r : rows) {
    const double b = base[{r.workers, r.kernels}];
    std::snprintf(
        buf, sizeof buf, "%-16s %-6s %7lld %-7s %5lld %-14s %10.1f %10.1f %7.2fx %7.0f MiB\n",
        r.source.c_str(), r.chain.c_str(), static_cast<long long>(r.workers), r.kernels.c_str(),
        static_cast<long long>(r.batch), r.clip_shape.c_str(), r.clips_per_s, r.min_clips_per_s,
        b > 0 ? r.clips_per_s / b : 0.0, static_cast<double>(r.peak_rss_bytes) / (1 << 20));
    out += buf;
  }
  return out;
}

}  // namespace dfer::train
