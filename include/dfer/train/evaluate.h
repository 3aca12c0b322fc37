// Evaluation of a classifier: the per-epoch validation pass (single clip, loss + metrics) and the
// reported multi-view test (softmax averaged over the temporal x spatial views of each video,
// SPEC 3.5), with the per-video predictions written as CSV.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "dfer/data/loader.h"
#include "dfer/train/eval_records.h"
#include "dfer/train/metrics.h"
#include "dfer/train/precision.h"

namespace dfer::train {

struct EvalOptions {
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  int64_t num_classes = 7;
  std::string label = "val";  // progress label
};

// The logits function of the model under evaluation: clips [B, C, T, H, W] -> [B, K].
using LogitsFn = std::function<torch::Tensor(const torch::Tensor& clips)>;

// The one pass every evaluation makes: epoch `epoch` of `loader` through `logits` without gradient
// under the precision's autocast, `check(batch, outputs)` on each batch (throw to reject it), with
// a progress line labelled options.label; the outputs of every rank gathered in dataset order.
using BatchCheck = std::function<void(const data::Batch& batch, const torch::Tensor& outputs)>;
EvalSet evaluate_outputs(const LogitsFn& logits, data::Loader& loader, int64_t epoch,
                         const EvalOptions& options, const BatchCheck& check);

struct ValidationResult {
  ClassificationMetrics metrics;
  double loss = 0;  // mean cross-entropy
};

// One pass over `loader` (epoch `epoch` of its sampler), no gradient.
ValidationResult validate(const LogitsFn& logits, data::Loader& loader, int64_t epoch,
                          const EvalOptions& options);

struct TestResult {
  ClassificationMetrics metrics;
  std::vector<std::string> ids;  // per video (annotation path)
  std::vector<int64_t> rows, labels, predictions;
  std::vector<float> probabilities;  // videos x K, row-major: averaged softmax
  std::vector<int64_t> views;        // distinct views averaged per video
};

// Multi-view test: every (segment, crop) view's softmax, averaged per video (views counted once
// by their (segment, crop) id, as the reference merge), prediction = argmax.
TestResult test_multiview(const LogitsFn& logits, data::Loader& loader, const EvalOptions& options);

// "id,label,prediction,views,p0,...,pK-1" with a header line.
void write_predictions_csv(const std::string& path, const TestResult& result);

}  // namespace dfer::train
