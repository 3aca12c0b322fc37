// Reading packed datasets: index parsing, validated read-only shard mappings, zero-copy clip views.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "dfer/data/shard.h"
#include "dfer/util/error.h"
#include "frame_internal.h"
#include "shard_format.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dfer::data {

struct PackedDataset::Mapping {
  std::string file;
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  ~Mapping() {
    if (data) ::munmap(const_cast<uint8_t*>(data), size);
  }
};

namespace {

std::shared_ptr<PackedDataset::Mapping> map_shard(const std::string& file,
                                                  uint64_t expected_bytes) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open shard " + file + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw Error("cannot stat shard " + file + ": " + std::strerror(err));
  }
  auto size = static_cast<uint64_t>(st.st_size);
  if (size != expected_bytes) {
    ::close(fd);
    throw Error("shard " + file + " is " + std::to_string(size) + " bytes but the index expects " +
                std::to_string(expected_bytes) +
                (size < expected_bytes
                     ? " (truncated: re-run dfer-prep pack)"
                     : " (does not belong to this index: re-run dfer-prep pack)"));
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (p == MAP_FAILED) throw Error("cannot map shard " + file + ": " + std::strerror(err));
  auto m = std::make_shared<PackedDataset::Mapping>();
  m->file = file;
  m->data = static_cast<const uint8_t*>(p);
  m->size = size;
  return m;
}

void check_header(const PackedDataset::Mapping& m, int id, int h, int w) {
  detail::ShardHeader hd{};
  if (m.size < sizeof hd) throw Error("shard " + m.file + " is too short for its header");
  std::memcpy(&hd, m.data, sizeof hd);
  if (std::memcmp(hd.magic, detail::kShardMagic, sizeof hd.magic) != 0) {
    throw Error("shard " + m.file + " is not a dfer shard (bad magic)");
  }
  if (hd.version != detail::kShardVersion) {
    throw Error("shard " + m.file + ": unsupported version " + std::to_string(hd.version));
  }
  if (static_cast<int>(hd.height) != h || static_cast<int>(hd.width) != w || hd.channels != 3 ||
      static_cast<int>(hd.shard_id) != id) {
    throw Error("shard " + m.file + " does not match the index (size or shard id differ)");
  }
}

// A clip of a pack as a FrameSource. Holds the dataset, so the mapping outlives the source.
class ShardSource final : public FrameSource {
 public:
  ShardSource(std::shared_ptr<const PackedDataset> ds, int64_t clip)
      : ds_(std::move(ds)), clip_(clip) {}

  int64_t num_frames() const override { return ds_->clip(clip_).frames; }
  SourceKind kind() const override { return SourceKind::kShard; }
  std::string describe() const override {
    return ds_->index_path() + " [" + ds_->clip(clip_).key + "]";
  }

  torch::Tensor read(const std::vector<int64_t>& indices, int out_h, int out_w) override {
    detail::check_indices(indices, num_frames(), describe());
    detail::resolve_out_size(ds_->height(), ds_->width(), out_h, out_w, describe());
    torch::Tensor all = ds_->frames(clip_);
    auto idx = torch::tensor(indices, torch::kInt64);
    if (out_h == ds_->height() && out_w == ds_->width()) {
      return all.index_select(0, idx).contiguous();  // the copy out of the read-only mapping
    }
    // A size other than the packed one resamples the packed frames (not the originals).
    auto out = torch::empty({static_cast<int64_t>(indices.size()), out_h, out_w, 3}, torch::kUInt8);
    for (size_t k = 0; k < indices.size(); ++k) {
      torch::Tensor f = all[indices[k]];
      cv::Mat src(ds_->height(), ds_->width(), CV_8UC3,
                  const_cast<uint8_t*>(f.data_ptr<uint8_t>()));
      detail::store_frame(src, false, out_h, out_w,
                          out[static_cast<int64_t>(k)].data_ptr<uint8_t>());
    }
    return out;
  }

 private:
  std::shared_ptr<const PackedDataset> ds_;
  int64_t clip_;
};

template <typename T>
T get_field(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(where + ": missing field '" + key + "'");
  try {
    return it->get<T>();
  } catch (const json::exception& e) {
    throw Error(where + ": field '" + key + "' has the wrong type (" + e.what() + ")");
  }
}

}  // namespace

uint64_t pack_checksum(const uint8_t* data, size_t size) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ size;
  size_t n = size / 8;
  for (size_t i = 0; i < n; ++i) {
    uint64_t w;
    std::memcpy(&w, data + 8 * i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  for (size_t i = n * 8; i < size; ++i) h = (h ^ data[i]) * 0x100000001B3ull;
  h ^= h >> 29;
  return h;
}

// Builds a dataset from a parsed index (a friend of PackedDataset).
struct PackedDatasetLoader {
  static std::shared_ptr<const PackedDataset> parse(const json& j, const fs::path& index,
                                                    const std::string& where);
};

std::shared_ptr<const PackedDataset> PackedDataset::open(const std::string& path) {
  std::error_code ec;
  fs::path index = fs::is_directory(path, ec) ? fs::path(path) / kPackIndexName : fs::path(path);
  const std::string where = "pack index " + index.string();
  std::ifstream in(index);
  if (!in) throw Error("cannot open " + where);
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw Error(where + ": not valid JSON (" + e.what() + ")");
  }
  try {
    return PackedDatasetLoader::parse(j, index, where);
  } catch (const json::exception& e) {
    throw Error(where + ": malformed (" + std::string(e.what()) + ")");
  }
}

std::shared_ptr<const PackedDataset> PackedDatasetLoader::parse(const json& j,
                                                                const fs::path& index,
                                                                const std::string& where) {
  if (!j.is_object() || j.value("format", "") != detail::kIndexFormat) {
    throw Error(where + ": not a dfer pack index (format != " + detail::kIndexFormat + ")");
  }
  if (get_field<int>(j, "version", where) != detail::kIndexVersion) {
    throw Error(where + ": unsupported index version");
  }
  std::shared_ptr<PackedDataset> ds(new PackedDataset());
  ds->index_path_ = index.string();
  ds->height_ = get_field<int>(j, "height", where);
  ds->width_ = get_field<int>(j, "width", where);
  if (ds->height_ <= 0 || ds->width_ <= 0 || get_field<int>(j, "channels", where) != 3) {
    throw Error(where + ": invalid frame size");
  }
  const fs::path dir = index.parent_path();
  const auto& shards = j.at("shards");
  for (size_t s = 0; s < shards.size(); ++s) {
    std::string file = (dir / get_field<std::string>(shards[s], "file", where)).string();
    auto m = map_shard(file, get_field<uint64_t>(shards[s], "bytes", where));
    check_header(*m, static_cast<int>(s), ds->height_, ds->width_);
    ds->shards_.push_back(std::move(m));
  }
  const uint64_t frame_bytes = static_cast<uint64_t>(ds->height_) * ds->width_ * 3;
  for (const auto& c : j.at("clips")) {
    PackedClip clip;
    clip.key = get_field<std::string>(c, "key", where);
    clip.shard = get_field<int>(c, "shard", where);
    clip.offset = get_field<uint64_t>(c, "offset", where);
    clip.frames = get_field<int64_t>(c, "frames", where);
    const std::string sum = get_field<std::string>(c, "checksum", where);
    char* end = nullptr;
    clip.checksum = std::strtoull(sum.c_str(), &end, 16);
    if (sum.empty() || *end != '\0')
      throw Error(where + ": bad checksum for clip '" + clip.key + "'");
    if (clip.shard < 0 || clip.shard >= static_cast<int>(ds->shards_.size()) || clip.frames < 1) {
      throw Error(where + ": clip '" + clip.key + "' has an invalid shard or frame count");
    }
    const auto& m = *ds->shards_[static_cast<size_t>(clip.shard)];
    if (clip.offset < detail::kShardHeaderBytes ||
        clip.offset + frame_bytes * static_cast<uint64_t>(clip.frames) > m.size) {
      throw Error("shard " + m.file + " is too short for clip '" + clip.key + "' (truncated?)");
    }
    if (!ds->by_key_.emplace(clip.key, static_cast<int64_t>(ds->clips_.size())).second) {
      throw Error(where + ": duplicate clip key '" + clip.key + "'");
    }
    ds->clips_.push_back(std::move(clip));
  }
  for (const auto& l : j.at("lists")) {
    std::vector<io::AnnotationRow> rows;
    for (const auto& r : l.at("rows")) {
      if (!r.is_array() || (r.size() != 3 && r.size() != 5)) throw Error(where + ": bad list row");
      int64_t clip = r[0].get<int64_t>();
      if (clip < 0 || clip >= ds->num_clips()) throw Error(where + ": list row names no clip");
      io::AnnotationRow row;
      row.path = ds->clips_[static_cast<size_t>(clip)].key;
      row.line = r[1].get<size_t>();
      row.label = r[2].get<int>();
      if (r.size() == 5) {
        row.pitch = r[3].get<float>();
        row.yaw = r[4].get<float>();
      }
      rows.push_back(std::move(row));
    }
    ds->lists_.emplace_back(get_field<std::string>(l, "name", where), std::move(rows));
  }
  for (const auto& s : j.value("skipped", json::array())) {
    ds->skipped_.push_back({s.value("list", ""), s.value("line", size_t{0}), s.value("key", ""),
                            s.value("reason", "")});
  }
  return ds;
}

const PackedClip& PackedDataset::clip(int64_t i) const {
  if (i < 0 || i >= num_clips()) {
    throw Error(index_path_ + ": clip number " + std::to_string(i) + " out of range");
  }
  return clips_[static_cast<size_t>(i)];
}

std::optional<int64_t> PackedDataset::find(const std::string& key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> PackedDataset::list_names() const {
  std::vector<std::string> names;
  for (const auto& l : lists_) names.push_back(l.first);
  return names;
}

const std::vector<io::AnnotationRow>& PackedDataset::list(const std::string& name) const {
  for (const auto& l : lists_) {
    if (l.first == name) return l.second;
  }
  throw Error(index_path_ + ": no list named '" + name + "'");
}

torch::Tensor PackedDataset::frames(int64_t i) const {
  const PackedClip& c = clip(i);
  std::shared_ptr<Mapping> m = shards_[static_cast<size_t>(c.shard)];
  void* p = const_cast<uint8_t*>(m->data + c.offset);
  // The deleter owns a reference to the mapping: the view keeps the shard mapped.
  return torch::from_blob(
      p, {c.frames, height_, width_, 3}, [m](void*) {},
      torch::TensorOptions().dtype(torch::kUInt8));
}

void PackedDataset::verify(int64_t i) const {
  const PackedClip& c = clip(i);
  const auto& m = *shards_[static_cast<size_t>(c.shard)];
  size_t n = static_cast<size_t>(c.frames) * height_ * width_ * 3;
  if (pack_checksum(m.data + c.offset, n) != c.checksum) {
    throw Error("shard " + m.file + " is corrupt: checksum mismatch for clip '" + c.key + "'");
  }
}

std::unique_ptr<FrameSource> PackedDataset::source(int64_t i) const {
  clip(i);  // range check
  return std::make_unique<ShardSource>(shared_from_this(), i);
}

std::unique_ptr<FrameSource> PackedDataset::source(const std::string& key) const {
  auto i = find(key);
  if (!i) throw Error(index_path_ + ": no clip with key '" + key + "'");
  return source(*i);
}

std::shared_ptr<const PackedDataset> open_packed_dataset(const std::string& pack_path) {
  // Packs stay open for the life of the process (a loader asks for one clip per sample); an index
  // rewritten since (a new pack in the same folder) is noticed by its modification time and size.
  struct Entry {
    std::shared_ptr<const PackedDataset> ds;
    fs::file_time_type mtime;
    uintmax_t size = 0;
  };
  static std::mutex mu;
  static std::unordered_map<std::string, Entry> cache;
  std::error_code ec;
  fs::path index =
      fs::is_directory(pack_path, ec) ? fs::path(pack_path) / kPackIndexName : fs::path(pack_path);
  std::string canon = fs::weakly_canonical(index, ec).string();
  if (ec) canon = index.string();
  auto mtime = fs::last_write_time(index, ec);
  auto size = fs::file_size(index, ec);
  std::lock_guard<std::mutex> lock(mu);
  Entry& e = cache[canon];
  if (!e.ds || e.mtime != mtime || e.size != size) {
    e.ds = PackedDataset::open(index.string());
    e.mtime = mtime;
    e.size = size;
  }
  return e.ds;
}

std::unique_ptr<FrameSource> open_packed_source(const std::string& pack_path,
                                                const std::string& key) {
  return open_packed_dataset(pack_path)->source(key);
}

}  // namespace dfer::data
