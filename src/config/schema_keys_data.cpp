// Key table: sections `data` and `augmentation`. Defaults follow the ORIG MAE-DFER fine-tune recipe
// (DFEW) where ORIG and REF differ; the help line names the REF value.
#include "schema_builder.h"

namespace dfer::config::detail {

void add_data_keys(std::vector<KeyDef>& out) {
  SectionAdder d(out, "data");
  d.s("dataset_name", "DFEW",
      "dataset kind: DFEW, FERV39k, MAFW, RAVDESS, CREMA-D, ENTERFACE, Gaze360, GazeCapture, "
      "DFEW_combine, MAFW_combine, Gaze360T_combine7/11, voxceleb2 (REF default Kinetics-400)");
  d.s("data_path", "", "split folder with train/val/test CSVs, or the pre-training list file");
  d.none("eval_data_path", ValueType::kString, "upstream key, unused").no_effect();
  d.i("num_classes", 7, "classes of the dataset (REF default 400; DFEW/FERV39k 7, MAFW 11)").min(1);
  d.i("num_classes_cls", 7, "combine task: classes of the cls head (upstream default 5)").min(1);
  d.i("num_dim_reg", 2, "combine/regression task: outputs of the reg head (pitch, yaw)").min(1);
  d.i("num_segments", 1, "segments per clip; model frames = num_frames * num_segments").min(1);
  d.i("num_frames", 16, "frames per clip").min(1);
  d.i("sampling_rate", 4, "temporal stride between sampled frames").min(1);
  d.b("imagenet_default_mean_and_std", true, "upstream key; ImageNet statistics are always used")
      .no_effect();
  d.i("batch_size", 32, "per-process batch (ORIG DFEW 32 per GPU; REF default 64)").min(1);
  d.i("num_workers", 4, "data loader worker threads").min(0);
  d.b("pin_memory", true, "pin host batches for faster device copies");
  d.i("test_num_segment", 2, "test temporal views (ORIG protocol 2; REF default 5)").min(1);
  d.i("test_num_crop", 2, "test spatial views (ORIG protocol 2; REF default 3)").min(1);
  d.i("short_side_size", 160,
      "frame resize before crops (ORIG protocol 160; REF default 320, SPEC 8.21)")
      .min(1);
  d.s("task", "classification",
      "classification | regression (gaze) | combine; upstream default 'class' = classification")
      .choices({"classification", "regression", "combine"})
      .alias("class", "classification");
  d.i("clip_stride", 1, "per-sequence CSV datasets: stride between clip starts (999 = one random)")
      .min(1);
  d.b("skip_bad_samples", false,
      "dfer: skip undecodable samples with a warning instead of failing");

  SectionAdder a(out, "augmentation");
  a.f("color_jitter", 0.4, "upstream key, parsed but never applied").no_effect();
  a.s("train_interpolation", "bicubic", "RandAugment resampling")
      .choices({"bicubic", "bilinear", "nearest"});
  a.i("num_sample", 1, "repeated augmentation count (ORIG 1; old REF default 2)").min(1);
  a.s("auto_augment", "rand-m7-n4-mstd0.5-inc1", "RandAugment spec; null = no RandAugment")
      .nullable();
  a.f("mixup", 0.8, "mixup alpha; > 0 enables mixup").min(0.0);
  a.f("cutmix", 1.0, "cutmix alpha; > 0 enables cutmix").min(0.0);
  a.none("cutmix_minmax", ValueType::kFloatList, "cutmix box ratio bounds [min, max]; null = off")
      .len(2)
      .range(0.0, 1.0);
  a.f("mixup_prob", 1.0, "probability of applying mixup or cutmix to a batch").range(0.0, 1.0);
  a.f("mixup_switch_prob", 0.5, "probability of cutmix instead of mixup").range(0.0, 1.0);
  a.s("mixup_mode", "batch", "one lambda per batch, pair or element")
      .choices({"batch", "pair", "elem"});
  a.f("random_erase_prob", 0.25, "random erasing probability").range(0.0, 1.0);
  a.s("random_erase_mode", "pixel", "random erasing fill").choices({"const", "rand", "pixel"});
  a.i("random_erase_count", 1, "random erasing rectangles").min(1);
  a.b("random_erase_split", false, "upstream key, unused").no_effect();
  a.f("label_smoothing", 0.1, "label smoothing (inside mixup targets or the CE loss)")
      .range(0.0, 1.0);
  a.b("no_augmentation", false, "pre-training: skip the multi-scale crop");
  a.fl("crop_scale", {0.08, 1.0},
       "dfer: random resized crop area bounds (the reference hard-codes 0.08 to 1, SPEC 8.13)")
      .len(2)
      .range(0.0, 1.0);
  a.fl("crop_ratio", {0.75, 1.3333}, "dfer: random resized crop aspect-ratio bounds")
      .len(2)
      .min(0.0);
  a.b("gaze_flip", false,
      "dfer: regression / combine training mirrors half of the clips and negates their yaw (the "
      "reference never flips these datasets; its older Gaze360 path flipped without negating)");
}

}  // namespace dfer::config::detail
