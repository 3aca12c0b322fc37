// Building a model from a ModelSpec (the single entry point used by tools and the train layer).
#pragma once

#include "dfer/models/classifier.h"
#include "dfer/models/masked_model.h"
#include "dfer/models/pretrain.h"
#include "dfer/models/spec.h"
#include "dfer/models/videomamba.h"
#include "dfer/models/videomamba_pretrain.h"
#include "dfer/models/vision_transformer.h"

#include <torch/torch.h>

#include <memory>

namespace dfer::models {

// Validates the spec and builds the module its `backbone` and `kind` name, freshly initialised
// as upstream. The returned pointer is, for kPretrain, a PretrainVisionTransformerImpl or
// PretrainVisionMambaImpl (both MaskedVideoModelImpl: as_masked_model()); for kFinetune a
// VisionMambaImpl (backbone "videomamba") or VisionTransformerImpl; use
// as_videomamba()/as_finetune()/as_pretrain() to get the typed holder.
std::shared_ptr<torch::nn::Module> build_model(const ModelSpec& spec);

// The fine-tune model of either backbone, as the train layer holds it; throws unless kFinetune.
ClipClassifier build_classifier(const ModelSpec& spec);
ClipClassifier as_classifier(const std::shared_ptr<torch::nn::Module>& m);

// The masked pre-training model of either backbone (PretrainVisionTransformerImpl or
// PretrainVisionMambaImpl); throws unless kPretrain.
MaskedVideoModel build_masked_model(const ModelSpec& spec);
MaskedVideoModel as_masked_model(const std::shared_ptr<torch::nn::Module>& m);

VisionTransformer build_finetune(const ModelSpec& spec);          // throws unless a ViT kFinetune
PretrainVisionTransformer build_pretrain(const ModelSpec& spec);  // throws unless kPretrain
VisionMamba build_videomamba(const ModelSpec& spec);  // throws unless backbone "videomamba"

// Typed views of a build_model() result; throw dfer::Error when the module is of the other kind.
VisionTransformer as_finetune(const std::shared_ptr<torch::nn::Module>& m);
PretrainVisionTransformer as_pretrain(const std::shared_ptr<torch::nn::Module>& m);
VisionMamba as_videomamba(const std::shared_ptr<torch::nn::Module>& m);

// Parameters without the duplicates that shared attention modules (lg_attn_param_sharing_*)
// register under a second name: what an optimizer must be given. Name = first registration.
std::vector<std::pair<std::string, torch::Tensor>> unique_named_parameters(
    const torch::nn::Module& m);

}  // namespace dfer::models
