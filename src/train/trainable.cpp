// Frozen-encoder and LoRA parameter selection (see trainable.h).
#include "dfer/train/trainable.h"

#include <set>
#include <string>

#include <spdlog/spdlog.h>

#include "dfer/models/build.h"
#include "dfer/util/error.h"
#include "dfer/util/strings.h"

namespace dfer::train {

TrainableCounts apply_trainable_policy(torch::nn::Module& model, bool freeze, bool lora) {
  TrainableCounts c;
  std::set<const void*> seen;  // a parameter shared by two modules is one parameter
  for (auto& item : model.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    auto& p = item.value();
    const bool train = !(freeze || lora) || starts_with(name, "head.") ||
                       starts_with(name, "decoder.") ||
                       (lora && name.find("lora_") != std::string::npos);
    p.set_requires_grad(train);
    if (!seen.insert(p.unsafeGetTensorImpl()).second) continue;
    c.total += p.numel();
    if (train) c.trainable += p.numel();
  }
  if (c.trainable == 0)
    throw UsageError("training.freeze / use_lora: no parameter is left to train (no head?)");
  spdlog::info("trainable parameters: {} of {} ({:.2f}%){}", c.trainable, c.total,
               100.0 * static_cast<double>(c.trainable) / static_cast<double>(c.total),
               lora     ? ", LoRA adapters and head"
               : freeze ? ", head and decoder (frozen encoder)"
                        : "");
  return c;
}

std::vector<std::pair<std::string, torch::Tensor>> trainable_named_parameters(
    const torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& [name, p] : models::unique_named_parameters(model))
    if (p.requires_grad()) out.emplace_back(name, p);
  return out;
}

}  // namespace dfer::train
