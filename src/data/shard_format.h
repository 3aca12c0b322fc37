// On-disk layout shared by the shard writer and reader (internal).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace dfer::data::detail {

// A shard starts with this 64-byte header; clips follow, each starting at a 64-byte boundary.
inline constexpr char kShardMagic[8] = {'D', 'F', 'E', 'R', 'P', 'A', 'K', '1'};
inline constexpr uint32_t kShardVersion = 1;
inline constexpr uint64_t kShardHeaderBytes = 64;
inline constexpr uint64_t kShardAlign = 64;
inline constexpr const char* kIndexFormat = "dfer-packed-clips";
inline constexpr int kIndexVersion = 1;

struct ShardHeader {
  char magic[8];
  uint32_t version;
  uint32_t height;
  uint32_t width;
  uint32_t channels;
  uint32_t shard_id;
  uint8_t reserved[36];
};
static_assert(sizeof(ShardHeader) == kShardHeaderBytes, "shard header must be 64 bytes");

inline std::string shard_file_name(int id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shard-%05d.bin", id);
  return buf;
}

inline uint64_t align_up(uint64_t v) {
  return (v + kShardAlign - 1) / kShardAlign * kShardAlign;
}

}  // namespace dfer::data::detail
