// Checkpoint files, resume scan and pruning (see checkpoint.h).
#include "dfer/train/checkpoint.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include "dfer/io/atomic_file.h"
#include "dfer/io/file_hash.h"
#include "dfer/io/safetensors_header.h"
#include "dfer/io/weight_files.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::train {

namespace {
const std::string kPrefix = "checkpoint-";
const std::string kStateSuffix = ".state.safetensors";

bool is_number(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// The metadata map of a safetensors file, reading only its header.
std::map<std::string, std::string> read_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path);
  const auto size = static_cast<uint64_t>(fs::file_size(path));
  uint8_t len_bytes[8] = {};
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  if (!in) throw Error(path + ": truncated safetensors header");
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | len_bytes[i];
  if (len > size - 8 || len > (uint64_t{100} << 20)) throw Error(path + ": bad header length");
  std::vector<uint8_t> buf(8 + len);
  std::copy(len_bytes, len_bytes + 8, buf.begin());
  in.read(reinterpret_cast<char*>(buf.data() + 8), static_cast<std::streamsize>(len));
  if (!in) throw Error(path + ": truncated safetensors header");
  return io::parse_safetensors_header(buf.data(), buf.size(), size, path).metadata;
}

nlohmann::json state_json_of(const std::map<std::string, std::string>& meta,
                             const std::string& path) {
  auto it = meta.find(kStateMetadataKey);
  if (it == meta.end()) throw Error(path + ": no '" + kStateMetadataKey + "' metadata");
  try {
    return nlohmann::json::parse(it->second);
  } catch (const std::exception& e) {
    throw Error(path + ": unreadable training state JSON: " + e.what());
  }
}
}  // namespace

std::string checkpoint_weights_path(const std::string& dir, const std::string& tag) {
  return (fs::path(dir) / (kPrefix + tag + ".safetensors")).string();
}

std::string checkpoint_state_path(const std::string& dir, const std::string& tag) {
  return (fs::path(dir) / (kPrefix + tag + kStateSuffix)).string();
}

void save_checkpoint(const std::string& dir, const std::string& tag,
                     const io::NamedTensors& weights, const io::NamedTensors& state_tensors,
                     nlohmann::json state) {
  fs::create_directories(dir);
  const std::string wpath = checkpoint_weights_path(dir, tag);
  io::save_safetensors(
      wpath, weights,
      {{"dfer.checkpoint", tag}, {"dfer.epoch", std::to_string(state.value("epoch", int64_t{0}))}});
  state["tag"] = tag;
  state["weights_file"] = fs::path(wpath).filename().string();
  state["weights_bytes"] = static_cast<int64_t>(fs::file_size(wpath));
  state["weights_xxh3"] = io::file_xxh3_128(wpath);
  // Tests widen the window between the two files, where a kill leaves a new weights file beside
  // an old state file (tests/e2e/test_e2e_kill.cpp).
  if (const char* delay = std::getenv("DFER_TEST_SAVE_DELAY_MS"))
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoll(delay)));
  io::save_safetensors(checkpoint_state_path(dir, tag), state_tensors,
                       {{kStateMetadataKey, state.dump()}});
  io::write_file_atomic((fs::path(dir) / kLastPointerName).string(), tag + "\n");
}

LoadedCheckpoint load_checkpoint(const std::string& dir, const std::string& tag) {
  LoadedCheckpoint c;
  c.tag = tag;
  const std::string spath = checkpoint_state_path(dir, tag);
  const std::string wpath = checkpoint_weights_path(dir, tag);
  if (!fs::exists(spath)) throw Error(spath + ": missing");
  if (!fs::exists(wpath)) throw Error(wpath + ": missing");
  std::map<std::string, std::string> meta;
  auto tensors = io::load_safetensors(spath, &meta);
  c.state = state_json_of(meta, spath);
  const auto bytes = static_cast<int64_t>(fs::file_size(wpath));
  if (c.state.value("weights_bytes", int64_t{-1}) != bytes)
    throw Error(wpath + ": " + std::to_string(bytes) + " bytes, the state file recorded " +
                std::to_string(c.state.value("weights_bytes", int64_t{-1})) +
                " (weights and state come from different saves)");
  // Equal sizes are the rule (one model, one layout): only the content tells two saves apart.
  if (c.state.contains("weights_xxh3")) {
    const std::string recorded = c.state.at("weights_xxh3").get<std::string>();
    if (const std::string h = io::file_xxh3_128(wpath); h != recorded)
      throw Error(wpath + ": content hash " + h + ", the state file recorded " + recorded +
                  " (weights and state come from different saves, or the file was damaged)");
  }
  c.weights = io::load_safetensors(wpath);
  for (auto& [name, t] : tensors) c.state_tensors[name] = t;
  if (!c.state.contains("global_step")) throw Error(spath + ": state has no global_step");
  return c;
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  struct Entry {
    std::string tag;
    int64_t step;
    fs::file_time_type time;
  };
  std::vector<Entry> entries;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    const std::string name = de.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || name.size() <= kPrefix.size() + kStateSuffix.size() ||
        name.compare(name.size() - kStateSuffix.size(), kStateSuffix.size(), kStateSuffix) != 0)
      continue;
    Entry e;
    e.tag = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kStateSuffix.size());
    e.time = fs::last_write_time(de.path(), ec);
    try {
      e.step = state_json_of(read_metadata(de.path().string()), de.path().string())
                   .at("global_step")
                   .get<int64_t>();
    } catch (const std::exception&) {
      e.step = -1;
    }
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.step != b.step) return a.step > b.step;
    return a.time > b.time;
  });
  std::vector<std::string> out;
  for (auto& e : entries) out.push_back(e.tag);
  return out;
}

ResumeScan scan_resume_checkpoints(const std::string& dir) {
  // Newest first by the recorded step; the `checkpoint-last` pointer is only for people and
  // scripts (a crash between the state file and the pointer leaves it one save behind).
  ResumeScan scan;
  for (const auto& tag : list_checkpoints(dir)) {
    try {
      scan.checkpoint = load_checkpoint(dir, tag);
      return scan;
    } catch (const std::exception& e) {
      spdlog::warn("skipping checkpoint '{}' in {}: {}", tag, dir, e.what());
      scan.rejected.emplace_back(tag, e.what());
    }
  }
  return scan;
}

std::optional<LoadedCheckpoint> find_resume_checkpoint(const std::string& dir) {
  return scan_resume_checkpoints(dir).checkpoint;
}

int64_t remove_stale_temp_files(const std::string& dir) {
  // io::write_file_atomic's temp names: ".<final name>.tmp-<pid>-<counter>-<stamp>".
  int64_t removed = 0;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    const std::string name = de.path().filename().string();
    const auto at = name.rfind(".tmp-");
    if (name.empty() || name[0] != '.' || at == std::string::npos) continue;
    const std::string rest = name.substr(at + 5);
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || !is_number(rest.substr(0, dash))) continue;
    const auto pid = static_cast<pid_t>(std::stoll(rest.substr(0, dash)));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // a live writer
    std::error_code rm;
    if (fs::remove(de.path(), rm)) ++removed;
  }
  return removed;
}

LoadedCheckpoint load_checkpoint_path(const std::string& path) {
  if (fs::is_directory(path)) {
    auto c = find_resume_checkpoint(path);
    if (!c) throw UsageError("training.resume: no usable checkpoint in " + path);
    return std::move(*c);
  }
  const fs::path p(path);
  std::string name = p.filename().string();
  for (const std::string& suffix : {kStateSuffix, std::string(".safetensors")})
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      name = name.substr(0, name.size() - suffix.size());
      break;
    }
  if (name.rfind(kPrefix, 0) != 0)
    throw UsageError("training.resume: '" + path + "' is not a checkpoint-<tag> file or folder");
  return load_checkpoint(p.parent_path().string(), name.substr(kPrefix.size()));
}

io::NamedTensors load_evaluation_weights(const std::string& path) {
  const fs::path p(path);
  const bool pair_member = p.filename().string().find(".state.") != std::string::npos ||
                           fs::exists(fs::path(path).replace_extension(".state.safetensors"));
  if (fs::is_directory(p) || pair_member) return load_checkpoint_path(path).weights;
  if (!fs::is_regular_file(p)) throw UsageError("training.resume: '" + path + "' does not exist");
  return io::load_weights_any(path);
}

std::string best_weights_path(const std::string& dir) {
  return (fs::path(dir) / "checkpoint-best.safetensors").string();
}

io::NamedTensors load_best_weights(const std::string& dir) {
  const std::string path = best_weights_path(dir);
  if (dir.empty() || !fs::exists(path))
    throw UsageError(
        "training.eval_best: no " + path +
        " (the engines keep it when validation runs during training, with an output folder, "
        "and for dfer-finetune with training.save_ckpt)");
  return load_evaluation_weights(path);
}

void prune_checkpoints(const std::string& dir, int64_t keep) {
  const auto tags = list_checkpoints(dir);  // newest first
  int64_t numbered = 0;
  bool seen_epoch = false;
  auto remove = [&](const std::string& tag) {
    std::error_code ec;
    fs::remove(checkpoint_state_path(dir, tag), ec);
    fs::remove(checkpoint_weights_path(dir, tag), ec);
  };
  for (const auto& tag : tags) {
    if (is_number(tag)) {
      ++numbered;
      seen_epoch = true;
      if (keep > 0 && numbered > keep) remove(tag);
    } else if (seen_epoch) {
      remove(tag);  // an interrupted save superseded by a later epoch checkpoint
    }
  }
}

torch::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace dfer::train
