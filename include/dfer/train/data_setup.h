// The bridge from the configuration to the data pipeline: which annotation file each split reads,
// the clip datasets (train / validation / test / pre-training with token masks) and loader options.
#pragma once

#include <memory>
#include <string>

#include "dfer/config/config.h"
#include "dfer/data/dataset.h"
#include "dfer/data/loader.h"
#include "dfer/data/sequence_dataset.h"
#include "dfer/models/spec.h"

namespace dfer::train {

// data.data_path/<split>.csv for train / val / test ("val" falls back to test.csv when there is no
// val.csv, as FERV39k and MAFW validate on the test list). Pre-training: data_path itself when it
// is a file, else <dir>/pretrain.csv or <dir>/train.csv. Throws UsageError naming the key and the
// path when nothing exists.
std::string annotation_file(const Config& cfg, data::ClipMode mode);

// The clip dataset of a split with the options the config and model imply (sizes from the model
// spec; pre-training masks from model.mask_type / mask_ratio / part_win_size). data.data_path may
// also be a pack folder (dfer-prep pack, with index.json): rows then come from the packed list of
// the split's name (train; val, else test; test; pretrain, else train) and frames from the shards.
std::shared_ptr<data::ClipDataset> make_clip_dataset(const Config& cfg, data::ClipMode mode,
                                                     const models::ModelSpec& spec);

// The training augmentation chain the config describes (augmentation.*, data.short_side_size,
// the model's input size); no flip unless data.task is classification.
data::TrainAugmentOptions train_augment_options(const Config& cfg, const models::ModelSpec& spec);

// The per-sequence frame-CSV dataset of the regression / combine tasks (SPEC-later b):
// data.data_path/train/*.csv, or val/*.csv (else test/*.csv) for validation; per-frame labels
// with model.keep_temporal_dim; crop scale [0.8, 1]; a horizontal flip only with
// augmentation.gaze_flip (then yaw is negated); validation resizes instead of cropping.
std::shared_ptr<data::SequenceClipDataset> make_sequence_dataset(const Config& cfg, bool train,
                                                                 const models::ModelSpec& spec);

// Loader options of a split: training shuffles and drops the last partial batch; evaluation uses
// 1.5x the batch as the reference; pinned memory only for CUDA.
data::LoaderOptions make_loader_options(const Config& cfg, data::ClipMode mode, bool cuda);

}  // namespace dfer::train
