// Packed datasets: clips pre-decoded and resized to uint8 [T, H, W, 3] RGB, stored back to back in
// large shard files plus one JSON index, read through a read-only memory map without decoding.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dfer/data/frame_source.h"
#include "dfer/io/csv.h"

namespace dfer::data {

// File names inside a pack directory: the index and shards "shard-00000.bin", ...
inline constexpr const char* kPackIndexName = "index.json";

struct PackOptions {
  int height = 160;  // every frame is resized to height x width (bilinear, SPEC §3.3.3)
  int width = 160;
  int64_t shard_bytes = int64_t{256} << 20;  // a shard is closed once it reaches this size
  int threads = 0;                           // decoding threads; <= 0: hardware concurrency
};

struct PackSkip {
  std::string list;  // annotation list name (file stem)
  std::size_t line;  // first line in that list naming the clip
  std::string key;   // the clip path as written in the list
  std::string reason;
};

struct PackStats {
  int64_t clips = 0;   // clips packed
  int64_t frames = 0;  // frames packed
  int64_t bytes = 0;   // shard bytes written
  int64_t shards = 0;
  std::vector<PackSkip> skipped;  // clips that failed to decode (their rows are dropped)
};

// Packs every clip listed in `annotation_files` ("path label" or "path label pitch yaw" rows; a
// relative path is resolved against its list's folder) into `out_dir`. Each unique clip is stored
// once with ALL its frames (temporal sampling still happens at load time); each list keeps its rows
// (labels, gaze) under its file stem ("train.csv" -> "train"). Every frame is decoded and
// validated; a clip that fails is skipped, logged and reported in the stats and the index. Shards
// and then the index are written atomically; stale shards of an earlier pack are removed. Throws
// dfer::UsageError for unreadable lists, duplicate list names or one key naming two clips, and
// dfer::Error when nothing could be packed.
PackStats pack_clips(const std::vector<std::string>& annotation_files, const std::string& out_dir,
                     const PackOptions& options);

struct PackedClip {
  std::string key;        // the clip path as written in the lists
  int shard = 0;          // index into the shard table
  uint64_t offset = 0;    // byte offset of frame 0 in that shard (64-byte aligned)
  int64_t frames = 0;     // T
  uint64_t checksum = 0;  // of the clip's T*H*W*3 bytes (see verify)
};

// A pack opened for reading. All shards are memory-mapped read-only at open; their sizes, headers
// and every clip's extent are checked against the index then, so a truncated or foreign shard is
// an error naming the shard file. Thread-safe for reading; shared by the sources it hands out.
class PackedDataset : public std::enable_shared_from_this<PackedDataset> {
 public:
  // `path` is the pack directory or its index file.
  static std::shared_ptr<const PackedDataset> open(const std::string& path);

  int height() const { return height_; }
  int width() const { return width_; }
  const std::string& index_path() const { return index_path_; }

  int64_t num_clips() const { return static_cast<int64_t>(clips_.size()); }
  const PackedClip& clip(int64_t i) const;
  std::optional<int64_t> find(const std::string& key) const;

  // Annotation lists stored with the pack, as rows whose `path` is the clip key and whose `line`
  // is the line in the original list file.
  std::vector<std::string> list_names() const;
  const std::vector<io::AnnotationRow>& list(const std::string& name) const;
  const std::vector<PackSkip>& skipped() const { return skipped_; }

  // Zero-copy view [T, H, W, 3] uint8 into the mapping; the mapping stays alive while the tensor
  // (or any view of it) does. Read-only memory: never write through it.
  torch::Tensor frames(int64_t i) const;

  // Recomputes the checksum of clip i; throws dfer::Error naming the shard and key on mismatch
  // (a shard corrupted in place, which the size checks at open cannot see).
  void verify(int64_t i) const;

  std::unique_ptr<FrameSource> source(int64_t i) const;
  std::unique_ptr<FrameSource> source(const std::string& key) const;  // throws on unknown key

  struct Mapping;  // one mmapped shard (public only for the implementation)

 private:
  friend struct PackedDatasetLoader;
  PackedDataset() = default;
  std::string index_path_;
  int height_ = 0, width_ = 0;
  std::vector<std::shared_ptr<Mapping>> shards_;
  std::vector<PackedClip> clips_;
  std::unordered_map<std::string, int64_t> by_key_;
  std::vector<std::pair<std::string, std::vector<io::AnnotationRow>>> lists_;
  std::vector<PackSkip> skipped_;
};

// The pack at `pack_path` (directory or index file), opened once per process and shared; reopened
// when its index file changes.
std::shared_ptr<const PackedDataset> open_packed_dataset(const std::string& pack_path);

// Source for clip `key` of the pack at `pack_path` (directory or index file); the pack is opened
// once per process and cached. This is what open_frame_source("<pack>#<key>") calls.
std::unique_ptr<FrameSource> open_packed_source(const std::string& pack_path,
                                                const std::string& key);

// Checksum used by the index: a 64-bit multiply-xorshift hash over 8-byte words (fast enough to
// verify a pack at memory bandwidth; for corruption detection, not security).
uint64_t pack_checksum(const uint8_t* data, size_t size);

}  // namespace dfer::data
