// safetensors load (memory-mapped, validated) and save (atomic, header layout as the reference
// writers: compact JSON, "__metadata__" first, tensors in the given order, space padding to 8).
#include "dfer/io/safetensors.h"

#include "dfer/io/atomic_file.h"
#include "dfer/util/error.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// The format stores little-endian data and tensors are copied byte for byte.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes little-endian");

namespace dfer::io {

namespace {

torch::ScalarType to_torch(StDtype d) {
  switch (d) {
    case StDtype::F64:
      return torch::kFloat64;
    case StDtype::F32:
      return torch::kFloat32;
    case StDtype::F16:
      return torch::kFloat16;
    case StDtype::BF16:
      return torch::kBFloat16;
    case StDtype::I64:
      return torch::kInt64;
    case StDtype::I32:
      return torch::kInt32;
    case StDtype::U8:
      return torch::kUInt8;
    case StDtype::BOOL:
      return torch::kBool;
  }
  throw Error("invalid safetensors dtype enum value");
}

bool from_torch(torch::ScalarType t, StDtype* out) {
  for (StDtype d : {StDtype::F64, StDtype::F32, StDtype::F16, StDtype::BF16, StDtype::I64,
                    StDtype::I32, StDtype::U8, StDtype::BOOL}) {
    if (to_torch(d) == t) {
      *out = d;
      return true;
    }
  }
  return false;
}

// Read-only view of a whole file: a private mmap, or a heap copy where mmap is impossible (empty
// files cannot be mapped; some special file systems do not support it).
class FileView {
 public:
  explicit FileView(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw Error("cannot read " + path + ": not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) data_ = static_cast<const uint8_t*>(p), mapped_ = true;
    }
    if (!mapped_) read_all(fd, path);
    ::close(fd);
  }
  ~FileView() {
    if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  FileView(const FileView&) = delete;
  FileView& operator=(const FileView&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void read_all(int fd, const std::string& path) {
    copy_.resize(size_);
    size_t done = 0;
    while (done < size_) {
      ssize_t r = ::read(fd, copy_.data() + done, size_ - done);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        int err = r < 0 ? errno : 0;
        ::close(fd);
        throw Error("cannot read " + path + ": " + (err ? std::strerror(err) : "file shrank"));
      }
      done += static_cast<size_t>(r);
    }
    data_ = copy_.data();
  }

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> copy_;
};

NamedTensors load_impl(const std::string& path, StHeader* header_out) {
  FileView file(path);
  StHeader h = parse_safetensors_header(file.data(), file.size(), file.size(), path);
  NamedTensors out;
  out.reserve(h.tensors.size());
  for (const StTensorInfo& info : h.tensors) {
    torch::Tensor t = torch::empty(info.shape, torch::TensorOptions().dtype(to_torch(info.dtype)));
    const uint8_t* src = file.data() + h.data_start + info.begin;
    const size_t nbytes = static_cast<size_t>(info.end - info.begin);
    // A torch bool must be 0 or 1; any other byte would be undefined behaviour downstream.
    if (info.dtype == StDtype::BOOL) {
      for (size_t i = 0; i < nbytes; ++i)
        if (src[i] > 1)
          throw Error(path + ": invalid safetensors file: BOOL tensor '" + info.name +
                      "' holds the byte value " + std::to_string(src[i]) + " at element " +
                      std::to_string(i));
    }
    // Always copy: the result must own its memory, and the file offset may be misaligned.
    if (nbytes > 0) std::memcpy(t.data_ptr(), src, nbytes);
    out.emplace_back(info.name, std::move(t));
  }
  if (header_out) *header_out = std::move(h);
  return out;
}

std::string json_string(const std::string& s, const std::string& what) {
  try {
    return nlohmann::json(s).dump();
  } catch (const nlohmann::json::exception&) {
    throw Error("cannot write safetensors: " + what + " '" + s + "' is not valid UTF-8");
  }
}

}  // namespace

NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata) {
  StHeader h;
  NamedTensors out = load_impl(path, &h);
  if (metadata) *metadata = std::move(h.metadata);
  return out;
}

NamedTensors load_safetensors_ordered(const std::string& path, StMetadataList* metadata) {
  StHeader h;
  NamedTensors out = load_impl(path, &h);
  if (metadata) {
    metadata->clear();
    for (const std::string& k : h.metadata_keys) metadata->emplace_back(k, h.metadata.at(k));
  }
  return out;
}

std::string safetensors_header_json(const NamedTensors& tensors, const StMetadataList& metadata) {
  std::string json = "{";
  if (!metadata.empty()) {
    std::set<std::string> keys;
    json += "\"__metadata__\":{";
    for (const auto& [k, v] : metadata) {
      if (!keys.insert(k).second)
        throw Error("cannot write safetensors: duplicate metadata key '" + k + "'");
      if (keys.size() > 1) json += ",";
      json += json_string(k, "metadata key") + ":" + json_string(v, "metadata value");
    }
    json += "}";
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    StDtype d;
    if (!from_torch(t.scalar_type(), &d))
      throw Error("cannot write safetensors: tensor '" + name + "' has unsupported dtype " +
                  std::string(c10::toString(t.scalar_type())));
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * dtype_size(d);
    if (json.size() > 1) json += ",";
    json += json_string(name, "tensor name") + ":{\"dtype\":\"" + dtype_name(d) + "\",\"shape\":[";
    for (int64_t i = 0; i < t.dim(); ++i) json += (i ? "," : "") + std::to_string(t.size(i));
    json += "],\"data_offsets\":[" + std::to_string(offset) + "," +
            std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
  }
  json += "}";
  // Pad with spaces so the data section starts 8-byte aligned, as the official writer does.
  json.resize((json.size() + 7) / 8 * 8, ' ');
  return json;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  save_safetensors_ordered(path, tensors, StMetadataList(metadata.begin(), metadata.end()));
}

void save_safetensors_ordered(const std::string& path, const NamedTensors& tensors,
                              const StMetadataList& metadata) {
  NamedTensors ready;
  ready.reserve(tensors.size());
  std::set<std::string> names;
  uint64_t data_size = 0;
  for (const auto& [name, t] : tensors) {
    const std::string ctx = "cannot write " + path + ": tensor '" + name + "'";
    if (name.empty() || name == "__metadata__")
      throw Error("cannot write " + path + ": invalid tensor name '" + name + "'");
    if (!names.insert(name).second) throw Error(ctx + " appears twice");
    if (!t.defined()) throw Error(ctx + " is undefined");
    torch::Tensor c = t.detach();
    if (c.layout() != torch::kStrided) c = c.to_dense();
    c = c.to(torch::kCPU).resolve_conj().resolve_neg().contiguous();
    data_size += static_cast<uint64_t>(c.numel()) * c.element_size();
    ready.emplace_back(name, std::move(c));
  }
  std::string json;
  try {
    json = safetensors_header_json(ready, metadata);
  } catch (...) {
    rethrow_with_context("while writing " + path);
  }
  // Self-check: what we write must pass our own reader's validation (rank limit, etc.).
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  prefix += json;
  parse_safetensors_header(reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size(),
                           prefix.size() + data_size, "while writing " + path);

  write_file_atomic(path, [&](std::ostream& out) {
    out.write(prefix.data(), static_cast<std::streamsize>(prefix.size()));
    for (const auto& nt : ready) {
      const torch::Tensor& t = nt.second;
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    }
  });
}

std::map<std::string, torch::Tensor> to_map(const NamedTensors& tensors) {
  std::map<std::string, torch::Tensor> m;
  for (const auto& [name, t] : tensors)
    if (!m.emplace(name, t).second) throw Error("duplicate tensor name '" + name + "'");
  return m;
}

}  // namespace dfer::io
