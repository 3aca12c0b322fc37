// dfer-predict: emotions (and gaze) of the faces in videos, frame folders or CSV lists with a
// trained model; a thin CLI over dfer::train::predict (predict.h). Exit 0 ok, 1 when an input
// failed or on a runtime error, 2 usage.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "dfer/train/predict.h"
#include "dfer/util/error.h"
#include "dfer/util/log.h"
#include "dfer/util/system.h"

int main(int argc, char** argv) {
  dfer::init_process();
  CLI::App app{
      "dfer-predict: per-window emotion probabilities (and gaze) of the face in each input; "
      "writes timeline.csv, timeline.json and summary.json"};
  dfer::train::PredictOptions o;
  int threads = 0;
  bool no_faces = false, quiet = false;
  app.add_option("--config", o.config, "the run's config.yaml")->required();
  app.add_option("--weights", o.weights,
                 "weights: checkpoint-best.safetensors, a checkpoint, a run folder or a .pth")
      ->required();
  app.add_option("inputs", o.inputs, "video files, frame folders or CSV lists of them")->required();
  app.add_option("--out", o.out_dir, "output folder")->capture_default_str();
  app.add_option("--annotate", o.annotate, "also write this annotated video (.mp4; one input)");
  app.add_option("--stride", o.stride, "frames between window starts (0: half a window's span)")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "windows per forward pass")->capture_default_str();
  app.add_option("--device", o.device, "cpu, cuda, cuda:N (default: the config's system.device)");
  app.add_option("--cascade", o.cascade, "face cascade file (default: opencv-data's frontal alt2)");
  app.add_option("--margin", o.margin, "crop side / face side")->capture_default_str();
  app.add_flag("--no-face-detect", no_faces, "the frames are face crops already: use them whole");
  app.add_option("--fps", o.folder_fps, "frame rate of frame folders")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (0: OMP_NUM_THREADS or all cores)");
  app.add_flag("-q,--quiet", quiet, "no progress bars");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    dfer::configure_threads(threads);
    o.detect_faces = !no_faces;
    o.progress = !quiet;
    const auto result = dfer::train::predict(o);
    dfer::train::write_predictions(result, o.out_dir);
    std::cout << dfer::train::describe(result) << "outputs in " << o.out_dir << "\n";
    for (const auto& v : result.videos)
      if (!v.error.empty()) return 1;
    return 0;
  } catch (const dfer::UsageError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
