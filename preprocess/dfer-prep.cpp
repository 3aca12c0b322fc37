// dfer-prep: dataset preparation, one subcommand per job (synth, pack; the per-dataset list
// builders come later). A thin CLI over the data library; exit 0 ok, 1 runtime failure, 2 usage.
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <vector>

#include "dfer/data/shard.h"
#include "dfer/data/synth.h"
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

}  // namespace

int main(int argc, char** argv) {
  dfer::init_process();
  CLI::App app{"dfer-prep: dataset preparation (synthetic data, packing)"};
  app.require_subcommand(1);
  int threads = 0;
  bool verbose = false;
  app.add_option("--threads", threads, "worker threads (0: OMP_NUM_THREADS or all cores)");
  app.add_flag("-v,--verbose", verbose, "debug logging");
  std::vector<Command> commands;  // a new job: one add_<job>() and one entry here
  for (auto add : {add_synth, add_pack}) commands.push_back(add(app, threads));
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
