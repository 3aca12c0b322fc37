// What an evaluation pass keeps of every clip (model output, target, label, identity), so that a
// data-parallel evaluation computes each metric once over the whole set: every rank evaluates its
// shard (no padding, no sample twice), the records of all ranks are gathered and put back in
// dataset order, and the metrics equal those of one process.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "dfer/data/loader.h"

namespace dfer::train {

struct EvalSet {
  torch::Tensor outputs;  // [N, ...] float, CPU
  torch::Tensor targets;  // [N, ...] or undefined
  torch::Tensor labels;   // [N, ...] int64 or undefined
  std::vector<int64_t> indices, rows, segments, crops;
  std::vector<std::string> ids;
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

class EvalRecords {
 public:
  // One batch and the model's output for it (moved to the CPU as float).
  void add(const data::Batch& batch, const torch::Tensor& outputs);
  // Concatenation over the batches and, in a data-parallel job, over the ranks (every rank gets
  // all of it), ordered by dataset index.
  EvalSet gather(const std::string& what) const;

 private:
  std::vector<torch::Tensor> outputs_, targets_, labels_;
  std::vector<int64_t> indices_, rows_, segments_, crops_;
  std::vector<std::string> ids_;
};

}  // namespace dfer::train
