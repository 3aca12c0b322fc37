// Validation and multi-view test passes (see evaluate.h).
#include "dfer/train/evaluate.h"

#include <map>
#include <set>
#include <sstream>

#include "dfer/io/atomic_file.h"
#include "dfer/train/eval_records.h"
#include "dfer/train/progress.h"
#include "dfer/util/error.h"

namespace dfer::train {

namespace {
torch::Tensor to_device(const torch::Tensor& t, const torch::Device& d) {
  return t.to(d, /*non_blocking=*/d.is_cuda());
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}
}  // namespace

EvalSet evaluate_outputs(const LogitsFn& logits_fn, data::Loader& loader, int64_t epoch,
                         const EvalOptions& options, const BatchCheck& check) {
  torch::NoGradGuard no_grad;
  loader.start_epoch(epoch);
  EvalRecords records;
  Progress progress(options.label, loader.batches_per_epoch(), "batch");
  int64_t done = 0;
  const CastCacheScope cast_once(options.precision);
  while (auto batch = loader.next()) {
    torch::Tensor out;
    {
      AutocastScope autocast(options.precision, options.device);
      out = logits_fn(to_device(batch->clips, options.device));
    }
    check(*batch, out);
    records.add(*batch, out);
    progress.update(++done);
  }
  progress.finish();
  return records.gather(options.label);
}

namespace {
// Classification batches need labels and [B, num_classes] logits; `what` names the pass.
BatchCheck classification_check(const std::string& what, int64_t num_classes) {
  return [what, num_classes](const data::Batch& b, const torch::Tensor& logits) {
    if (!b.labels.defined()) throw Error(what + " data has no labels");
    if (logits.dim() != 2 || logits.size(1) != num_classes)
      throw Error(what + ": the model returned logits of shape " + c10::str(logits.sizes()) +
                  ", expected [B, " + std::to_string(num_classes) + "]");
  };
}
}  // namespace

ValidationResult validate(const LogitsFn& logits_fn, data::Loader& loader, int64_t epoch,
                          const EvalOptions& options) {
  const EvalSet all = evaluate_outputs(logits_fn, loader, epoch, options,
                                       classification_check("validation", options.num_classes));
  ValidationResult r;
  if (all.size() == 0) {
    r.metrics = compute_classification_metrics({}, {}, options.num_classes, {});
    return r;
  }
  const torch::Tensor logits = all.outputs.contiguous();
  r.loss =
      torch::nn::functional::cross_entropy(logits.to(torch::kDouble), all.labels).item<double>();
  const auto labels = to_vector(all.labels), preds = to_vector(logits.argmax(1));
  std::vector<float> scores(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
  r.metrics = compute_classification_metrics(labels, preds, options.num_classes, scores);
  return r;
}

TestResult test_multiview(const LogitsFn& logits_fn, data::Loader& loader,
                          const EvalOptions& options) {
  EvalOptions to = options;
  to.label = "test";
  const EvalSet all =
      evaluate_outputs(logits_fn, loader, 0, to, classification_check("test", options.num_classes));
  struct Video {
    std::string id;
    int64_t label = -1;
    std::set<std::pair<int64_t, int64_t>> seen;
    std::vector<double> prob_sum;
  };
  std::map<int64_t, Video> videos;  // by annotation row
  const auto K = static_cast<size_t>(options.num_classes);
  const torch::Tensor probs =
      all.size() > 0 ? torch::softmax(all.outputs, 1).contiguous() : torch::Tensor();
  const auto labels = all.size() > 0 ? to_vector(all.labels) : std::vector<int64_t>{};
  for (size_t i = 0; i < static_cast<size_t>(all.size()); ++i) {
    const float* pp = probs.data_ptr<float>() + i * K;
    Video& v = videos[all.rows[i]];
    if (v.prob_sum.empty()) {
      v.prob_sum.assign(K, 0.0);
      v.id = all.ids[i];
      v.label = labels[i];
    }
    // The reference merge keeps the first result of a duplicated view id.
    if (!v.seen.insert({all.segments[i], all.crops[i]}).second) continue;
    for (size_t c = 0; c < K; ++c) v.prob_sum[c] += pp[c];
  }
  TestResult r;
  for (auto& [row, v] : videos) {
    r.rows.push_back(row);
    r.ids.push_back(v.id);
    r.labels.push_back(v.label);
    r.views.push_back(static_cast<int64_t>(v.seen.size()));
    size_t best = 0;
    for (size_t c = 0; c < K; ++c) {
      const double p = v.prob_sum[c] / static_cast<double>(v.seen.size());
      r.probabilities.push_back(static_cast<float>(p));
      if (v.prob_sum[c] > v.prob_sum[best]) best = c;
    }
    r.predictions.push_back(static_cast<int64_t>(best));
  }
  r.metrics =
      compute_classification_metrics(r.labels, r.predictions, options.num_classes, r.probabilities);
  return r;
}

void write_predictions_csv(const std::string& path, const TestResult& r) {
  std::ostringstream os;
  const size_t K = r.labels.empty() ? 0 : r.probabilities.size() / r.labels.size();
  os << "id,label,prediction,views";
  for (size_t c = 0; c < K; ++c) os << ",p" << c;
  os << "\n";
  os.precision(7);
  for (size_t i = 0; i < r.labels.size(); ++i) {
    os << r.ids[i] << "," << r.labels[i] << "," << r.predictions[i] << "," << r.views[i];
    for (size_t c = 0; c < K; ++c) os << "," << r.probabilities[i * K + c];
    os << "\n";
  }
  io::write_file_atomic(path, os.str());
}

}  // namespace dfer::train
