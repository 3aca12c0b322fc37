// The bridge from the configuration to the model zoo: which architecture a config describes.
// (models never include config; this train-layer file maps the keys onto a ModelSpec.)
#pragma once

#include "dfer/config/config.h"
#include "dfer/models/spec.h"

namespace dfer::train {

// model.name gives the registry defaults; every model.* key that is set (and data.num_classes,
// data.num_frames x data.num_segments, model.input_size) overrides them, as upstream passes its
// arguments to timm.create_model. Throws UsageError naming the key for invalid combinations.
models::ModelSpec model_spec_from_config(const Config& cfg);

}  // namespace dfer::train
