// Gathering of evaluation records (see eval_records.h).
#include "dfer/train/eval_records.h"

#include <numeric>

#include "dfer/dist/world.h"
#include "dfer/util/error.h"

namespace dfer::train {

namespace {

torch::Tensor cat_or_undefined(const std::vector<torch::Tensor>& parts, const char* what) {
  if (parts.empty() || !parts.front().defined()) return {};
  for (const auto& p : parts)
    if (!p.defined()) throw Error(std::string("evaluation: only some batches have ") + what);
  return torch::cat(parts);
}

std::vector<int64_t> gather_ints(dist::World& w, const std::vector<int64_t>& v,
                                 const std::string& what) {
  if (!w.distributed()) return v;
  auto t = w.gather_rows(torch::tensor(v, torch::kLong).reshape({-1}), what).contiguous();
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

}  // namespace

void EvalRecords::add(const data::Batch& b, const torch::Tensor& outputs) {
  if (outputs.size(0) != b.size())
    throw Error("evaluation: " + std::to_string(outputs.size(0)) + " outputs for a batch of " +
                std::to_string(b.size()));
  outputs_.push_back(outputs.detach().to(torch::kCPU, torch::kFloat));
  targets_.push_back(b.targets.defined() ? b.targets.to(torch::kCPU) : torch::Tensor());
  labels_.push_back(b.labels.defined() ? b.labels.to(torch::kCPU, torch::kLong) : torch::Tensor());
  indices_.insert(indices_.end(), b.indices.begin(), b.indices.end());
  rows_.insert(rows_.end(), b.rows.begin(), b.rows.end());
  segments_.insert(segments_.end(), b.segments.begin(), b.segments.end());
  crops_.insert(crops_.end(), b.crops.begin(), b.crops.end());
  ids_.insert(ids_.end(), b.ids.begin(), b.ids.end());
}

EvalSet EvalRecords::gather(const std::string& what) const {
  dist::World& w = dist::world();
  EvalSet s;
  s.outputs = cat_or_undefined(outputs_, "outputs");
  s.targets = cat_or_undefined(targets_, "targets");
  s.labels = cat_or_undefined(labels_, "labels");
  s.indices = indices_;
  s.rows = rows_;
  s.segments = segments_;
  s.crops = crops_;
  s.ids = ids_;
  if (w.distributed()) {
    // Every rank takes part in every gather, even with an empty shard: the tensor shapes beyond
    // the first dimension come from the model, known on all ranks only once one batch ran, so
    // an empty shard is an error rather than a guess.
    if (!s.outputs.defined())
      throw Error("distributed evaluation: rank " + std::to_string(w.rank()) +
                  " got no sample of the " + what + " set (fewer samples than processes?)");
    s.outputs = w.gather_rows(s.outputs, what + " outputs");
    if (s.targets.defined()) s.targets = w.gather_rows(s.targets, what + " targets");
    if (s.labels.defined()) s.labels = w.gather_rows(s.labels, what + " labels");
    s.indices = gather_ints(w, s.indices, what + " indices");
    s.rows = gather_ints(w, s.rows, what + " rows");
    s.segments = gather_ints(w, s.segments, what + " segments");
    s.crops = gather_ints(w, s.crops, what + " crops");
    s.ids = w.gather_strings(s.ids, what + " ids");
  }
  if (s.size() == 0) return s;
  // Dataset order: what one process would have produced.
  std::vector<int64_t> order(s.indices.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return s.indices[static_cast<size_t>(a)] < s.indices[static_cast<size_t>(b)];
  });
  auto perm = torch::tensor(order, torch::kLong);
  auto pick = [&](auto& v) {
    auto copy = v;
    for (size_t i = 0; i < order.size(); ++i) v[i] = copy[static_cast<size_t>(order[i])];
  };
  s.outputs = s.outputs.index_select(0, perm);
  if (s.targets.defined()) s.targets = s.targets.index_select(0, perm);
  if (s.labels.defined()) s.labels = s.labels.index_select(0, perm);
  pick(s.indices);
  pick(s.rows);
  pick(s.segments);
  pick(s.crops);
  pick(s.ids);
  return s;
}

}  // namespace dfer::train
