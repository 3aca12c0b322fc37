// dfer-prep: dataset preparation, one subcommand per job (synth, pack, frames, split, gaze360,
// relabel, extract, and the list builders of the real datasets: dfew, ferv39k, mafw, voxceleb2,
// ravdess, cremad, enterface). A thin CLI over the data and train libraries; exit 0 ok, 1 runtime
// failure, 2 usage.
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <vector>

#include "dfer/data/dataset_lists.h"
#include "dfer/data/frame_lists.h"
#include "dfer/data/gaze360_lists.h"
#include "dfer/data/shard.h"
#include "dfer/data/synth.h"
#include "dfer/data/video_frames.h"
#include "dfer/train/relabel.h"
#include "dfer/util/error.h"
#include "dfer/util/log.h"
#include "dfer/util/system.h"

namespace {

// Each subcommand registers its options and returns itself with the action to run after parsing.
using Action = std::function<void()>;
using Command = std::pair<CLI::App*, Action>;

Command add_synth(CLI::App& app, const int& threads) {
  auto* cmd = app.add_subcommand("synth", "render the embedded synthetic face-video dataset");
  auto opt = std::make_shared<dfer::data::SynthOptions>();
  auto out = std::make_shared<std::string>();
  auto sheet = std::make_shared<std::string>();
  auto columns = std::make_shared<int>(10);
  cmd->add_option("--out", *out, "output dataset folder");
  cmd->add_option("--videos", opt->videos, "number of clips")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "random seed (same seed -> identical files)")
      ->capture_default_str();
  cmd->add_option("--size", opt->size, "frame side in pixels")->capture_default_str();
  cmd->add_option("--min-frames", opt->min_frames, "fewest frames per clip")->capture_default_str();
  cmd->add_option("--max-frames", opt->max_frames, "most frames per clip")->capture_default_str();
  cmd->add_option("--jpeg-quality", opt->jpeg_quality, "JPEG quality")->capture_default_str();
  cmd->add_option("--train-fraction", opt->train_fraction, "per-class share of train clips")
      ->capture_default_str();
  cmd->add_option("--feature-scale", opt->feature_scale,
                  "size of eyes, brows, nose and mouth (1 = subtle)")
      ->capture_default_str();
  cmd->add_option("--min-intensity", opt->min_intensity, "weakest apex intensity in [0, 1]")
      ->capture_default_str();
  cmd->add_option("--face-zoom", opt->face_zoom,
                  "framing: 1 = head and shoulders, 1.6 = an aligned face crop")
      ->capture_default_str();
  cmd->add_option("--contact-sheet", *sheet, "also write a PNG: rows = classes, columns = time");
  cmd->add_option("--sheet-columns", *columns, "frames per class on the contact sheet")
      ->capture_default_str();
  return {cmd, [=, &threads] {
            if (out->empty() && sheet->empty()) {
              throw dfer::UsageError("synth: give --out DIR and/or --contact-sheet PNG");
            }
            opt->threads = threads;
            if (!out->empty()) dfer::data::write_synth_dataset(*out, *opt);
            if (!sheet->empty()) dfer::data::write_synth_contact_sheet(*sheet, *opt, *columns);
          }};
}

Command add_pack(CLI::App& app, const int& threads) {
  auto* cmd = app.add_subcommand(
      "pack", "decode the clips of annotation lists once into memory-mapped shards");
  auto lists = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto opt = std::make_shared<dfer::data::PackOptions>();
  auto size = std::make_shared<int>(0);
  auto shard_mb = std::make_shared<int64_t>(256);
  cmd->add_option("--csv", *lists, "annotation list(s) to pack (repeatable)")->required();
  cmd->add_option("--out", *out, "output pack folder")->required();
  cmd->add_option("--size", *size, "square frame size (sets --height and --width)");
  cmd->add_option("--height", opt->height, "frame height")->capture_default_str();
  cmd->add_option("--width", opt->width, "frame width")->capture_default_str();
  cmd->add_option("--shard-mb", *shard_mb, "target shard size in MiB")->capture_default_str();
  return {cmd, [=, &threads] {
            if (*size > 0) opt->height = opt->width = *size;
            if (*shard_mb <= 0) throw dfer::UsageError("pack: --shard-mb must be positive");
            opt->shard_bytes = *shard_mb << 20;
            opt->threads = threads;
            auto stats = dfer::data::pack_clips(*lists, *out, *opt);
            std::cout << "packed " << stats.clips << " clips (" << stats.frames << " frames) into "
                      << stats.shards << " shard(s); skipped " << stats.skipped.size() << "\n";
            for (const auto& s : stats.skipped) {
              std::cout << "  skipped " << s.list << ":" << s.line << " " << s.key << ": "
                        << s.reason << "\n";
            }
          }};
}

// Skipped items, one per line under the summary (nothing is dropped without a word).
void print_skipped(const std::vector<dfer::data::ListSkip>& skipped) {
  for (const auto& s : skipped) {
    std::cout << "  skipped " << s.file << ":" << s.line << " " << s.item << ": " << s.reason
              << "\n";
  }
}

Command add_frames(CLI::App& app, const int&) {
  auto* cmd = app.add_subcommand(
      "frames", "clip list (`clip_dir label [pitch yaw]`) -> one row per frame file");
  auto opt = std::make_shared<dfer::data::FrameListOptions>();
  cmd->add_option("--csv", opt->video_list, "clip list (DFEW layout)")->required();
  cmd->add_option("--out", opt->out_file, "frame list to write (paths relative to its folder)")
      ->required();
  return {cmd, [=] {
            auto s = dfer::data::expand_frame_list(*opt);
            std::cout << "frames: " << s.videos << " clips -> " << s.frames << " frame rows in "
                      << opt->out_file << "; skipped " << s.skipped.size() << "\n";
            print_skipped(s.skipped);
          }};
}

Command add_split(CLI::App& app, const int&) {
  auto* cmd = app.add_subcommand(
      "split", "frame list -> one CSV per continuous frame sequence of each video");
  auto opt = std::make_shared<dfer::data::SplitOptions>();
  cmd->add_option("--csv", opt->frame_list, "frame list (`frame_path label...`)")->required();
  cmd->add_option("--out", opt->out_dir,
                  "output folder (earlier <prefix>_*_<k>.csv files there are removed)")
      ->required();
  cmd->add_option("--prefix", opt->prefix, "CSV name prefix (default: the list's file stem)");
  cmd->add_option("--min-len", opt->min_len, "shortest sequence written (rows)")
      ->capture_default_str();
  cmd->add_option("--max-gap", opt->max_gap, "largest frame-number step inside a sequence")
      ->capture_default_str();
  cmd->add_flag("--discarded", opt->write_discarded,
                "also write the short sequences to <out>/<prefix>_discarded/");
  return {cmd, [=] {
            auto s = dfer::data::split_frame_list(*opt);
            std::cout << "split: " << s.videos << " videos, " << s.rows << " rows -> "
                      << s.sequences << " sequences (" << s.sequence_rows << " rows) in "
                      << opt->out_dir << "; removed " << s.stale_removed << " earlier; skipped "
                      << s.skipped.size() << " short\n";
            print_skipped(s.skipped);
          }};
}

Command add_gaze360(CLI::App& app, const int&) {
  auto* cmd = app.add_subcommand(
      "gaze360",
      "Gaze360 label lists -> <out>/<split>/<split>_<rec>_<person>_<k>.csv rows "
      "`image 0 pitch yaw`; frames missing inside an allowed gap repeat the previous row, so "
      "each row is one time step");
  auto opt = std::make_shared<dfer::data::Gaze360Options>();
  cmd->add_option("--labels", opt->label_files,
                  "label list `rec_x/head/<person>/<frame>.jpg gx gy gz` (repeatable; split = "
                  "file stem)")
      ->required();
  cmd->add_option("--images", opt->image_root, "folder the label paths are relative to")
      ->required();
  cmd->add_option("--out", opt->out_dir, "output folder")->required();
  cmd->add_option("--boxes", opt->boxes_file,
                  "face boxes `image x y w h` (pixels): crop squares to <out>/images/");
  cmd->add_option("--size", opt->size, "side of the square crops (with --boxes)")
      ->capture_default_str();
  cmd->add_option("--min-len", opt->min_len, "shortest sequence written (time steps)")
      ->capture_default_str();
  cmd->add_option("--max-gap", opt->max_gap, "largest frame-number step inside a sequence")
      ->capture_default_str();
  return {cmd, [=] {
            auto s = dfer::data::convert_gaze360(*opt);
            std::cout << "gaze360: " << s.labels << " labelled images -> " << s.sequences
                      << " sequences (" << s.rows << " rows, " << s.filled << " filled, " << s.crops
                      << " crops) in " << opt->out_dir << "; removed " << s.stale_removed
                      << " earlier; skipped " << s.skipped.size() << "\n";
            print_skipped(s.skipped);
          }};
}

Command add_relabel(CLI::App& app, const int&) {
  auto* cmd = app.add_subcommand(
      "relabel",
      "label every frame of per-video CSVs with a trained gaze model (for dfer-combine)");
  auto o = std::make_shared<dfer::train::RelabelOptions>();
  cmd->add_option("--config", o->config, "the gaze run's config.yaml (in its output folder)")
      ->required();
  cmd->add_option("--weights", o->weights, "its weights, e.g. checkpoint-best.safetensors")
      ->required();
  cmd->add_option("--in", o->in_dir, "folder of per-video CSVs `frame_path label ...`")->required();
  cmd->add_option("--out", o->out_dir, "output folder: `frame_path label pitch yaw` CSVs")
      ->required();
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--batch", o->batch_size, "windows per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return {cmd, [o] {
            auto s = dfer::train::relabel_with_gaze(*o);
            std::cout << "relabelled " << s.frames << " frames of " << s.files << " files ("
                      << s.windows << " windows; " << s.padded_files
                      << " files shorter than one window, padded with their last frame) into "
                      << o->out_dir << "\n";
          }};
}

Command add_extract(CLI::App& app, const int& threads) {
  auto* cmd = app.add_subcommand("extract",
                                 "video list -> <out>/<video stem>/00001.jpg... (resumable) and a "
                                 "list of the frame folders");
  auto o = std::make_shared<dfer::data::ExtractOptions>();
  cmd->add_option("--list", o->list, "`video label` rows (paths relative to the list)")->required();
  cmd->add_option("--out", o->frames_dir, "frames folder")->required();
  cmd->add_option("--list-out", o->list_out, "list to write: `frame_folder label`")->required();
  cmd->add_option("--size", o->size, "shorter side (face crops: square side); 0 keeps the size")
      ->capture_default_str();
  cmd->add_flag("--face-crop", o->face_crop, "crop the largest face, box smoothed over the clip");
  cmd->add_option("--cascade", o->cascade, "Haar cascade (default: opencv-data's frontal face)");
  cmd->add_option("--margin", o->margin, "face box enlargement")->capture_default_str();
  cmd->add_option("--threads", o->threads, "videos in parallel (default: the global --threads)");
  cmd->add_option("--jpeg-quality", o->jpeg_quality, "JPEG quality")->capture_default_str();
  return {cmd, [o, &threads] {
            if (o->threads <= 0) o->threads = threads;
            std::cout << dfer::data::describe(dfer::data::extract_video_frames(*o));
          }};
}

// The real datasets' list builders share one set of options: --root, --out and the checks.
using ListBuilder = dfer::data::DatasetListSummary (*)(const dfer::data::DatasetListOptions&);
struct ListJob {
  const char* name;
  const char* help;
  ListBuilder build;
  bool label_files;  // emotion label files (--skip-bad), or videos found by name
  bool exclude;      // videos: --exclude (VoxCeleb2)
};
constexpr ListJob kListJobs[] = {
    {"dfew", "DFEW label files -> <out>/split0{1..5}/{train,test,val}.csv (val = test)",
     dfer::data::build_dfew_lists, true, false},
    {"ferv39k", "FERV39k label files -> <out>/all_scenes/{train,test,val}.csv (val = test)",
     dfer::data::build_ferv39k_lists, true, false},
    {"mafw", "MAFW single-label files -> <out>/single/split0{1..5}/{train,test,val}.csv",
     dfer::data::build_mafw_lists, true, false},
    {"voxceleb2", "VoxCeleb2 <root>/*/*/*.mp4 -> <out>/info_clean.csv (pre-training list)",
     dfer::data::build_voxceleb2_list, false, true},
    {"ravdess", "RAVDESS Actor_XX/*.mp4 -> <out>/split0{1..6}/{train,test,val}.csv (4 test actors)",
     dfer::data::build_ravdess_lists, false, false},
    {"cremad", "CREMA-D VideoFlash/*.flv -> <out>/split0{1..5}/{train,test,val}.csv (actor folds)",
     dfer::data::build_cremad_lists, false, false},
    {"enterface",
     "eNTERFACE'05 subject N/<emotion>/*/*.avi -> <out>/split0{1..5}/{train,test,val}.csv "
     "(subject folds; the lists name links in <out>/videos)",
     dfer::data::build_enterface_lists, false, false},
};

Command add_list_job(CLI::App& app, const ListJob& job) {
  auto* cmd =
      app.add_subcommand(job.name, std::string(job.help) + "; rows `<absolute clip path> <label>`");
  auto o = std::make_shared<dfer::data::DatasetListOptions>();
  auto no_check = std::make_shared<bool>(false);
  cmd->add_option("--root", o->root, "the dataset folder in its official layout")->required();
  cmd->add_option("--out", o->out_dir, "output folder of the lists")->required();
  if (job.label_files) {
    cmd->add_flag("--skip-bad", o->skip_bad, "skip rows with an unknown label (reported)");
    cmd->add_flag("--no-check-frames", *no_check,
                  "list clip folders without checking that they hold frames");
  } else {
    if (job.exclude)
      cmd->add_option("--exclude", o->exclude_file, "videos to leave out, a line each");
    cmd->add_flag("--no-check-frames", *no_check, "list empty video files too");
  }
  return {cmd, [o, no_check, build = job.build] {
            o->check_frames = !*no_check;
            std::cout << dfer::data::describe(build(*o)) << "lists written to " << o->out_dir
                      << "\n";
          }};
}

}  // namespace

int main(int argc, char** argv) {
  dfer::init_process();
  CLI::App app{
      "dfer-prep: dataset preparation (dataset lists, frame extraction, synthetic data, packing, "
      "frame lists, relabelling)"};
  app.require_subcommand(1);
  int threads = 0;
  bool verbose = false;
  app.add_option("--threads", threads, "worker threads (0: OMP_NUM_THREADS or all cores)");
  app.add_flag("-v,--verbose", verbose, "debug logging");
  std::vector<Command> commands;  // a new job: one add_<job>() and one entry here
  for (auto add :
       {add_synth, add_pack, add_frames, add_split, add_gaze360, add_relabel, add_extract})
    commands.push_back(add(app, threads));
  for (const auto& job : kListJobs) commands.push_back(add_list_job(app, job));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (verbose) dfer::init_process(true);
    threads = dfer::configure_threads(threads);
    for (auto& [cmd, action] : commands) {
      if (cmd->parsed()) action();
    }
  } catch (const dfer::Error& e) {
    spdlog::error("{}", e.what());
    return dfer::exit_code_for(e);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
