// Model construction from a spec (see dfer/models/build.h).
#include "dfer/models/build.h"

#include "dfer/util/error.h"

#include <fmt/format.h>

#include <unordered_set>

namespace dfer::models {

std::shared_ptr<torch::nn::Module> build_model(const ModelSpec& spec) {
  validate(spec);
  if (spec.kind == ModelKind::kPretrain) return build_masked_model(spec);
  if (spec.backbone == "videomamba") return build_videomamba(spec).ptr();
  return build_finetune(spec).ptr();
}

VisionTransformer build_finetune(const ModelSpec& spec) {
  if (spec.kind != ModelKind::kFinetune)
    throw UsageError(
        fmt::format("model '{}' is a pre-train model, not a fine-tune model", spec.name));
  if (spec.backbone != "vit")
    throw UsageError(
        fmt::format("model '{}' is a {}, not a vision transformer", spec.name, spec.backbone));
  return VisionTransformer(spec);
}

ClipClassifier build_classifier(const ModelSpec& spec) {
  validate(spec);
  if (spec.kind != ModelKind::kFinetune)
    throw UsageError(
        fmt::format("model '{}' is a pre-train model, not a fine-tune model", spec.name));
  if (spec.backbone == "videomamba") return build_videomamba(spec).ptr();
  return build_finetune(spec).ptr();
}

ClipClassifier as_classifier(const std::shared_ptr<torch::nn::Module>& m) {
  auto p = std::dynamic_pointer_cast<ClipClassifierImpl>(m);
  if (!p) throw Error("model is not a fine-tune (clip classifier) model");
  return p;
}

MaskedVideoModel build_masked_model(const ModelSpec& spec) {
  validate(spec);
  if (spec.kind != ModelKind::kPretrain)
    throw UsageError(
        fmt::format("model '{}' is a fine-tune model, not a pre-train model", spec.name));
  if (spec.backbone == "videomamba") return PretrainVisionMamba(spec).ptr();
  return build_pretrain(spec).ptr();
}

MaskedVideoModel as_masked_model(const std::shared_ptr<torch::nn::Module>& m) {
  auto p = std::dynamic_pointer_cast<MaskedVideoModelImpl>(m);
  if (!p) throw Error("model is not a masked pre-training model");
  return p;
}

VisionMamba build_videomamba(const ModelSpec& spec) {
  if (spec.backbone != "videomamba")
    throw UsageError(
        fmt::format("model '{}' is not a VideoMamba (backbone '{}')", spec.name, spec.backbone));
  return VisionMamba(spec);
}

PretrainVisionTransformer build_pretrain(const ModelSpec& spec) {
  if (spec.kind != ModelKind::kPretrain)
    throw UsageError(
        fmt::format("model '{}' is a fine-tune model, not a pre-train model", spec.name));
  if (spec.backbone != "vit")
    throw UsageError(
        fmt::format("model '{}' is a {}, not a vision transformer", spec.name, spec.backbone));
  return PretrainVisionTransformer(spec);
}

VisionTransformer as_finetune(const std::shared_ptr<torch::nn::Module>& m) {
  auto p = std::dynamic_pointer_cast<VisionTransformerImpl>(m);
  if (!p) throw Error("model is not a fine-tune VisionTransformer");
  return VisionTransformer(p);
}

PretrainVisionTransformer as_pretrain(const std::shared_ptr<torch::nn::Module>& m) {
  auto p = std::dynamic_pointer_cast<PretrainVisionTransformerImpl>(m);
  if (!p) throw Error("model is not a PretrainVisionTransformer");
  return PretrainVisionTransformer(p);
}

VisionMamba as_videomamba(const std::shared_ptr<torch::nn::Module>& m) {
  auto p = std::dynamic_pointer_cast<VisionMambaImpl>(m);
  if (!p) throw Error("model is not a VisionMamba");
  return VisionMamba(p);
}

std::vector<std::pair<std::string, torch::Tensor>> unique_named_parameters(
    const torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  std::unordered_set<const void*> seen;
  for (const auto& kv : m.named_parameters(/*recurse=*/true)) {
    if (seen.insert(kv.value().unsafeGetTensorImpl()).second)
      out.emplace_back(kv.key(), kv.value());
  }
  return out;
}

}  // namespace dfer::models
