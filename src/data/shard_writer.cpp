// Packing clips into shards: parallel decode + validation, ordered atomic shard writes, the index.
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <thread>

#include "dfer/data/shard.h"
#include "dfer/io/atomic_file.h"
#include "dfer/util/error.h"
#include "dfer/util/log.h"
#include "shard_format.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dfer::data {

namespace {

struct ClipEntry {
  std::string key;       // as written in the list
  std::string resolved;  // the folder/video it was read from
  std::string list;      // first list naming it, for skip reports
  size_t line = 0;
};

struct ListRows {
  std::string name, file;
  std::vector<io::AnnotationRow> rows;
};

struct Decoded {
  int64_t clip = -1;
  torch::Tensor frames;  // undefined when skipped
  std::string error;
};

// Decodes clips [begin, end) on `threads` threads; results in clip order. Each clip is read
// completely, which validates every frame.
std::vector<Decoded> decode_batch(const std::vector<ClipEntry>& clips, int64_t begin, int64_t end,
                                  const PackOptions& opt, int threads) {
  std::vector<Decoded> out(static_cast<size_t>(end - begin));
  std::atomic<int64_t> next{begin};
  auto work = [&] {
    for (int64_t i = next++; i < end; i = next++) {
      Decoded& d = out[static_cast<size_t>(i - begin)];
      d.clip = i;
      try {
        auto src = open_frame_source(clips[static_cast<size_t>(i)].resolved);
        std::vector<int64_t> all(static_cast<size_t>(src->num_frames()));
        for (size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int64_t>(k);
        d.frames = src->read(all, opt.height, opt.width);
      } catch (const std::exception& e) {
        d.error = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return out;
}

}  // namespace

PackStats pack_clips(const std::vector<std::string>& annotation_files, const std::string& out_dir,
                     const PackOptions& opt) {
  if (annotation_files.empty()) throw UsageError("pack: no annotation lists given");
  if (opt.height <= 0 || opt.width <= 0) throw UsageError("pack: frame size must be positive");
  if (opt.shard_bytes <= 0) throw UsageError("pack: shard size must be positive");
  const auto t0 = std::chrono::steady_clock::now();

  // 1. Lists -> unique clips (a clip named by several lists, e.g. DFEW val = test, is stored once).
  std::vector<ClipEntry> clips;
  std::map<std::string, int64_t> by_key;
  std::vector<ListRows> lists;
  for (const auto& file : annotation_files) {
    ListRows l;
    l.file = fs::path(file).filename().string();
    l.name = fs::path(file).stem().string();
    for (const auto& other : lists) {
      if (other.name == l.name) {
        throw UsageError("pack: two lists named '" + l.name + "' (" + other.file + ", " + file +
                         "); list names are file stems and must be unique");
      }
    }
    l.rows = io::read_annotations(file, 0, io::AnnotationColumns::kAny);
    for (const auto& row : l.rows) {
      std::string resolved = resolve_clip_path(file, row.path);
      auto it = by_key.find(row.path);
      if (it == by_key.end()) {
        by_key.emplace(row.path, static_cast<int64_t>(clips.size()));
        clips.push_back({row.path, resolved, l.name, row.line});
      } else if (clips[static_cast<size_t>(it->second)].resolved != resolved) {
        throw UsageError(file + ":" + std::to_string(row.line) + ": key '" + row.path + "' names " +
                         resolved + " but an earlier list used it for " +
                         clips[static_cast<size_t>(it->second)].resolved);
      }
    }
    lists.push_back(std::move(l));
  }
  fs::create_directories(out_dir);
  const int threads =
      opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  const uint64_t frame_bytes = static_cast<uint64_t>(opt.height) * opt.width * 3;
  spdlog::info("pack: {} clips from {} list(s) -> {} at {}x{}, {} thread(s)", clips.size(),
               lists.size(), out_dir, opt.height, opt.width, threads);

  // 2. Shards. Decoded clips wait in `pending` so a batch may straddle a shard boundary.
  PackStats stats;
  std::vector<int64_t> clip_slot(clips.size(), -1);  // clip -> entry in `packed`
  std::vector<PackedClip> packed;
  json shard_table = json::array();
  std::deque<Decoded> pending;
  int64_t next_clip = 0;
  const int64_t batch = std::max(2, 2 * threads);
  auto fill_pending = [&] {
    while (pending.empty() && next_clip < static_cast<int64_t>(clips.size())) {
      int64_t end = std::min<int64_t>(next_clip + batch, static_cast<int64_t>(clips.size()));
      for (auto& d : decode_batch(clips, next_clip, end, opt, threads)) {
        if (d.frames.defined()) {
          pending.push_back(std::move(d));
          continue;
        }
        const ClipEntry& c = clips[static_cast<size_t>(d.clip)];
        spdlog::warn("pack: skipping {} ({}:{}): {}", c.key, c.list, c.line, d.error);
        stats.skipped.push_back({c.list, c.line, c.key, d.error});
      }
      next_clip = end;
    }
  };
  for (fill_pending(); !pending.empty(); fill_pending()) {
    const int id = static_cast<int>(stats.shards);
    const std::string name = detail::shard_file_name(id);
    uint64_t offset = 0;
    io::write_file_atomic((fs::path(out_dir) / name).string(), [&](std::ostream& os) {
      detail::ShardHeader hd{};
      std::memcpy(hd.magic, detail::kShardMagic, sizeof hd.magic);
      hd.version = detail::kShardVersion;
      hd.height = static_cast<uint32_t>(opt.height);
      hd.width = static_cast<uint32_t>(opt.width);
      hd.channels = 3;
      hd.shard_id = static_cast<uint32_t>(id);
      os.write(reinterpret_cast<const char*>(&hd), sizeof hd);
      offset = sizeof hd;
      static const char kZeros[detail::kShardAlign] = {};
      while (!pending.empty()) {
        Decoded& d = pending.front();
        const uint64_t bytes = frame_bytes * static_cast<uint64_t>(d.frames.size(0));
        // Close the shard when full; a single clip larger than a shard gets a shard of its own.
        if (offset > sizeof hd && offset + bytes > static_cast<uint64_t>(opt.shard_bytes)) break;
        const auto* data = d.frames.data_ptr<uint8_t>();
        os.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(bytes));
        PackedClip pc;
        pc.key = clips[static_cast<size_t>(d.clip)].key;
        pc.shard = id;
        pc.offset = offset;
        pc.frames = d.frames.size(0);
        pc.checksum = pack_checksum(data, bytes);
        clip_slot[static_cast<size_t>(d.clip)] = static_cast<int64_t>(packed.size());
        packed.push_back(std::move(pc));
        stats.frames += d.frames.size(0);
        uint64_t padded = detail::align_up(offset + bytes);
        os.write(kZeros, static_cast<std::streamsize>(padded - offset - bytes));
        offset = padded;
        pending.pop_front();
        if (pending.empty()) fill_pending();
      }
      if (!os) throw Error("write failed");
    });
    shard_table.push_back({{"file", name}, {"bytes", offset}});
    stats.bytes += static_cast<int64_t>(offset);
    ++stats.shards;
    spdlog::info("pack: wrote {} ({:.1f} MiB, {} clips so far)", name, offset / 1048576.0,
                 packed.size());
  }
  stats.clips = static_cast<int64_t>(packed.size());
  if (stats.clips == 0) {
    throw Error("pack: none of the " + std::to_string(clips.size()) + " clips could be read (" +
                std::to_string(stats.skipped.size()) + " skipped); nothing written to " + out_dir);
  }

  // 3. Index, written last: a reader never sees an index whose shards are not all in place.
  json j;
  j["format"] = detail::kIndexFormat;
  j["version"] = detail::kIndexVersion;
  j["height"] = opt.height;
  j["width"] = opt.width;
  j["channels"] = 3;
  j["layout"] = "uint8 [T, H, W, 3] RGB, frames resized with bilinear (cv::INTER_LINEAR)";
  j["shards"] = shard_table;
  j["clips"] = json::array();
  for (const auto& c : packed) {
    char sum[17];
    std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(c.checksum));
    j["clips"].push_back({{"key", c.key},
                          {"shard", c.shard},
                          {"offset", c.offset},
                          {"frames", c.frames},
                          {"checksum", sum}});
  }
  j["lists"] = json::array();
  for (const auto& l : lists) {
    json rows = json::array();
    for (const auto& r : l.rows) {
      int64_t slot = clip_slot[static_cast<size_t>(by_key.at(r.path))];
      if (slot < 0) continue;  // its clip was skipped
      json row = {slot, r.line, r.label};
      if (r.pitch) {
        row.push_back(*r.pitch);
        row.push_back(*r.yaw);
      }
      rows.push_back(std::move(row));
    }
    j["lists"].push_back({{"name", l.name}, {"file", l.file}, {"rows", std::move(rows)}});
  }
  j["skipped"] = json::array();
  for (const auto& s : stats.skipped) {
    j["skipped"].push_back(
        {{"list", s.list}, {"line", s.line}, {"key", s.key}, {"reason", s.reason}});
  }
  io::write_file_atomic((fs::path(out_dir) / kPackIndexName).string(), j.dump(1) + "\n");

  // Shards of an earlier, larger pack in the same folder are no longer referenced.
  for (int id = static_cast<int>(stats.shards);; ++id) {
    fs::path stale = fs::path(out_dir) / detail::shard_file_name(id);
    std::error_code ec;
    if (!fs::remove(stale, ec)) break;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("pack: {} clips, {} frames, {} shard(s), {:.1f} MiB in {:.1f} s; {} skipped",
               stats.clips, stats.frames, stats.shards, stats.bytes / 1048576.0, secs,
               stats.skipped.size());
  return stats;
}

}  // namespace dfer::data
