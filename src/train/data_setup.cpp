// Config -> datasets and loaders (see data_setup.h).
#include "dfer/train/data_setup.h"

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "dfer/data/image_ops.h"
#include "dfer/data/masking.h"
#include "dfer/data/rand_augment.h"
#include "dfer/data/sequence_dataset.h"
#include "dfer/data/shard.h"
#include "dfer/data/transforms.h"
#include "dfer/dist/world.h"
#include "dfer/io/csv.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::train {

namespace {
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

std::string annotation_file(const Config& cfg, data::ClipMode mode) {
  const std::string& root = cfg.get_string("data.data_path");
  if (root.empty()) throw UsageError("data.data_path: not set (the split folder or list file)");
  const fs::path p(root);
  if (mode == data::ClipMode::kPretrain) {
    if (fs::is_regular_file(p)) return root;
    for (const char* name : {"pretrain.csv", "train.csv"})
      if (fs::is_regular_file(p / name)) return (p / name).string();
    throw UsageError("data.data_path: '" + root +
                     "' is neither a list file nor a folder with "
                     "pretrain.csv / train.csv");
  }
  if (!fs::is_directory(p))
    throw UsageError("data.data_path: '" + root + "' is not a folder with train/val/test.csv");
  std::vector<std::string> names;
  switch (mode) {
    case data::ClipMode::kTrain:
      names = {"train.csv"};
      break;
    case data::ClipMode::kValidation:
      names = {"val.csv", "test.csv"};
      break;
    default:
      names = {"test.csv"};
      break;
  }
  for (const auto& n : names)
    if (fs::is_regular_file(p / n)) return (p / n).string();
  throw UsageError("data.data_path: '" + root + "' has no " + names.front());
}

namespace {
// The rows of a split stored in a pack (dfer-prep pack), their paths turned into "<pack>#<key>" so
// the frame loader reads the memory-mapped clips. Labels are checked here as the CSV reader does.
std::vector<io::AnnotationRow> packed_rows(const fs::path& pack_dir, data::ClipMode mode,
                                           int num_classes, std::string* source) {
  auto pack = data::open_packed_dataset(pack_dir.string());
  std::vector<std::string> names;
  switch (mode) {
    case data::ClipMode::kTrain:
      names = {"train"};
      break;
    case data::ClipMode::kValidation:
      names = {"val", "test"};
      break;
    case data::ClipMode::kTest:
      names = {"test"};
      break;
    case data::ClipMode::kPretrain:
      names = {"pretrain", "train"};
      break;
  }
  const auto have = pack->list_names();
  for (const auto& n : names) {
    if (std::find(have.begin(), have.end(), n) == have.end()) continue;
    *source = pack->index_path() + " [" + n + "]";
    const std::string prefix = fs::absolute(pack_dir).lexically_normal().string() + "#";
    auto rows = pack->list(n);
    for (auto& r : rows) {
      if (num_classes > 0 && (r.label < 0 || r.label >= num_classes))
        throw UsageError(*source + ":" + std::to_string(r.line) + ": label " +
                         std::to_string(r.label) + " outside [0, " + std::to_string(num_classes) +
                         ") (data.num_classes)");
      r.path = prefix + r.path;
    }
    return rows;
  }
  throw UsageError("data.data_path: the pack '" + pack_dir.string() + "' has no list named " +
                   names.front() + " (packed lists come from the --csv file stems)");
}
}  // namespace

data::TrainAugmentOptions train_augment_options(const Config& cfg, const models::ModelSpec& spec) {
  data::TrainAugmentOptions o;
  o.input_size = spec.img_size;
  o.short_side_size = cfg.get_int("data.short_side_size");
  if (auto aa = cfg.get_opt_string("augmentation.auto_augment"); aa && !aa->empty()) {
    auto ra = data::parse_rand_augment(*aa);
    ra.interpolation =
        data::parse_interpolation(cfg.get_string("augmentation.train_interpolation"));
    o.rand_augment = ra;
  }
  {
    const auto& sc = cfg.get_float_list("augmentation.crop_scale");
    const auto& ra = cfg.get_float_list("augmentation.crop_ratio");
    if (sc[0] > sc[1] || ra[0] > ra[1] || sc[0] <= 0 || ra[0] <= 0)
      throw UsageError("augmentation.crop_scale / crop_ratio: expected 0 < min <= max");
    o.crop_scale = {sc[0], sc[1]};
    o.crop_ratio = {ra[0], ra[1]};
  }
  if (cfg.get_string("data.task") != "classification") o.flip_prob = 0.0;
  if (const double p = cfg.get_float("augmentation.random_erase_prob"); p > 0) {
    data::RandomErasingOptions e;
    e.probability = p;
    e.mode = data::parse_erase_mode(cfg.get_string("augmentation.random_erase_mode"));
    e.max_count = cfg.get_int("augmentation.random_erase_count");
    e.num_splits = e.max_count;  // the reference passes recount as num_splits too
    o.erasing = e;
  }
  return o;
}

std::shared_ptr<data::ClipDataset> make_clip_dataset(const Config& cfg, data::ClipMode mode,
                                                     const models::ModelSpec& spec) {
  const bool pretrain = mode == data::ClipMode::kPretrain;
  const int num_classes = pretrain ? 0 : static_cast<int>(cfg.get_int("data.num_classes"));
  const fs::path root(cfg.get_string("data.data_path"));
  std::string file;
  std::vector<io::AnnotationRow> rows;
  if (!root.empty() && fs::is_regular_file(root / data::kPackIndexName)) {
    rows = packed_rows(root, mode, num_classes, &file);
  } else {
    file = annotation_file(cfg, mode);
    rows = io::read_annotations(file, num_classes);
  }
  if (rows.empty()) throw UsageError(file + ": no clips listed");

  data::ClipDatasetOptions o;
  o.mode = mode;
  o.source = file;
  o.num_frames = cfg.get_int("data.num_frames");
  o.sampling_rate = cfg.get_int("data.sampling_rate");
  o.num_segments = cfg.get_int("data.num_segments");
  o.test_num_segment = cfg.get_int("data.test_num_segment");
  o.test_num_crop = cfg.get_int("data.test_num_crop");
  o.train = train_augment_options(cfg, spec);
  o.pretrain.multi_scale_crop = !cfg.get_bool("augmentation.no_augmentation");
  o.pretrain.crop.output_size = spec.img_size;
  if (lower(cfg.get_string("data.dataset_name")) == "voxceleb2")
    o.pretrain.precrop = data::voxceleb2_precrop(spec.img_size);

  if (pretrain) {
    const auto grid = spec.token_grid();
    const auto& pw = cfg.get_int_list("model.part_win_size");
    if (pw.size() != 3) throw UsageError("model.part_win_size: expected 3 values (t, h, w)");
    std::shared_ptr<data::MaskingGenerator> gen = data::make_masking_generator(
        cfg.get_string("model.mask_type"), grid, cfg.get_float("model.mask_ratio"),
        {pw[0], pw[1], pw[2]}, cfg.get_opt_string("model.part_apply_symmetry").value_or(""));
    o.mask_generator = [gen](data::Rng& rng) { return data::draw_mask(*gen, rng()); };
  }
  // Frames are resized while decoding (what the pipelines do first anyway); pre-training keeps the
  // stored size because its fixed window and multi-scale crop work on the original frames.
  const int side = pretrain ? 0 : static_cast<int>(o.train.short_side_size);
  auto loader = data::make_frame_loader(file, side, side);
  return std::make_shared<data::ClipDataset>(std::move(rows), std::move(loader), std::move(o));
}

std::shared_ptr<data::SequenceClipDataset> make_sequence_dataset(const Config& cfg, bool train,
                                                                 const models::ModelSpec& spec) {
  const fs::path root(cfg.get_string("data.data_path"));
  if (root.empty()) throw UsageError("data.data_path: not set (the folder with train/ val/ test/)");
  fs::path folder = root / (train ? "train" : "val");
  if (!train && !fs::is_directory(folder)) folder = root / "test";
  if (!fs::is_directory(folder))
    throw UsageError("data.data_path: '" + root.string() + "' has no " +
                     (train ? "train/" : "val/ or test/") +
                     " folder of per-sequence CSVs (dfer-prep split / gaze360 write them)");
  const bool combine = cfg.get_string("data.task") == "combine";
  const int num_classes = combine ? static_cast<int>(cfg.get_int("data.num_classes_cls")) : 0;
  data::SequenceDatasetOptions o;
  o.train = train;
  o.num_frames = cfg.get_int("data.num_frames");
  o.sampling_rate = cfg.get_int("data.sampling_rate");
  o.clip_stride = cfg.get_int("data.clip_stride");
  o.seed = static_cast<uint64_t>(cfg.get_int("system.seed"));
  o.per_frame = spec.keep_temporal_dim;
  o.train_augment = train_augment_options(cfg, spec);
  // VideoRegDatasetFrame's own crop scale (SPEC-later h.5); a flip only with yaw negated.
  o.train_augment.crop_scale = {0.8, 1.0};
  o.train_augment.flip_prob = cfg.get_bool("augmentation.gaze_flip") ? 0.5 : 0.0;
  auto ds = std::make_shared<data::SequenceClipDataset>(
      data::read_sequence_folder(folder.string(), num_classes), std::move(o));
  if (ds->skipped_sequences() > 0)
    spdlog::info("{}: {} of {} sequences are shorter than one clip and give none", folder.string(),
                 ds->skipped_sequences(), ds->sequences().size());
  return ds;
}

data::LoaderOptions make_loader_options(const Config& cfg, data::ClipMode mode, bool cuda) {
  data::LoaderOptions o;
  const int64_t batch = cfg.get_int("data.batch_size");
  const bool train = mode == data::ClipMode::kTrain || mode == data::ClipMode::kPretrain;
  o.batch_size = train ? batch : std::max<int64_t>(1, (3 * batch) / 2);
  o.num_workers = cfg.get_int("data.num_workers");
  o.shuffle = train;
  o.drop_last = train;
  o.pin_memory = cuda && cfg.get_bool("data.pin_memory");
  o.seed = static_cast<uint64_t>(cfg.get_int("system.seed"));
  o.sampler_seed = o.seed;
  const bool skip = cfg.get_bool("data.skip_bad_samples");
  // Data parallelism: training shards pad to equal lengths (DistributedSampler); evaluation
  // shards do not, and the results are gathered.
  o.rank = dist::world().rank();
  o.world_size = dist::world().size();
  o.uneven_shards = !train;
  o.bad_samples = !skip ? data::BadSamplePolicy::kFail
                        : (train ? data::BadSamplePolicy::kReplace : data::BadSamplePolicy::kDrop);
  return o;
}

}  // namespace dfer::train
