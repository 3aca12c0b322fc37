// Central directory look-ahead for the .pth reader (see pth_zip.h). LibTorch's reader allocates
// the declared size of a record before reading it, also for the records it reads inside its own
// constructor (version, serialization id) where dfer cannot check first; miniz takes 0xFFFFFFFF
// or a zip64 size as is. This walk reads the file's tail and the directory the way miniz does.
#include "pth_zip.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace dfer::io::detail {

namespace {

constexpr uint64_t kEndSig = 0x06054b50;      // PK\5\6: end of central directory
constexpr uint64_t kEnd64Sig = 0x06064b50;    // PK\6\6: zip64 end of central directory
constexpr uint64_t kLocatorSig = 0x07064b50;  // PK\6\7: zip64 end locator
constexpr uint64_t kEntrySig = 0x02014b50;    // PK\1\2: central directory entry
constexpr uint64_t kEndSize = 22, kEnd64Size = 56, kLocatorSize = 20, kEntrySize = 46;
constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();

uint64_t le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k) v |= uint64_t{p[k]} << (8 * k);
  return v;
}

bool read_at(std::istream& in, uint64_t pos, uint64_t n, std::vector<uint8_t>* out) {
  out->resize(static_cast<size_t>(n));
  in.clear();
  in.seekg(static_cast<std::streamoff>(pos));
  in.read(reinterpret_cast<char*>(out->data()), static_cast<std::streamsize>(n));
  return in && static_cast<uint64_t>(in.gcount()) == n;
}

struct Directory {
  uint64_t offset, size, entries;
};

// Walks the entries in order, like miniz, and stops where miniz would refuse the archive.
void walk(std::istream& in, uint64_t file_size, const Directory& d, uint64_t* largest,
          std::string* name) {
  if (d.offset > file_size || d.size > file_size - d.offset || d.size > kU32Max) return;
  std::vector<uint8_t> dir;
  if (!read_at(in, d.offset, d.size, &dir)) return;
  size_t pos = 0;
  for (uint64_t i = 0; i < d.entries; ++i) {
    const uint8_t* p = dir.data() + pos;
    const size_t left = dir.size() - pos;
    if (left < kEntrySize || le(p, 4) != kEntrySig) return;
    const size_t name_len = le(p + 28, 2), extra_len = le(p + 30, 2);
    const size_t total = kEntrySize + name_len + extra_len + le(p + 32, 2);
    if (total > left) return;
    uint64_t size = le(p + 24, 4);
    if (size == kU32Max) {  // the real size is in a zip64 extended information field (id 1)
      const uint8_t* x = p + kEntrySize + name_len;
      for (size_t k = 0; k + 4 <= extra_len;) {
        const size_t id = le(x + k, 2), len = le(x + k + 2, 2);
        if (k + 4 + len > extra_len) break;
        for (size_t v = 0; id == 1 && v + 8 <= len; v += 8)
          size = std::max(size, le(x + k + 4 + v, 8));
        k += 4 + len;
      }
    }
    if (size > *largest) {
      *largest = size;
      name->assign(reinterpret_cast<const char*>(p + kEntrySize), std::min<size_t>(name_len, 256));
    }
    pos += total;
  }
}

}  // namespace

uint64_t record_size_limit(uint64_t file_size) {
  uint64_t most = 0;
  return __builtin_mul_overflow(file_size, uint64_t{1032}, &most)
             ? std::numeric_limits<uint64_t>::max()
             : most;
}

uint64_t largest_declared_size(std::istream& in, uint64_t file_size, std::string* name) {
  // The end record: the last signature with room for the record after it, searched over more
  // than miniz searches (a 64 KiB comment plus its 4 KiB reads), so miniz cannot find a later one.
  const uint64_t window = std::min<uint64_t>(file_size, 65535 + kEndSize + 4096);
  std::vector<uint8_t> tail;
  if (window < kEndSize || !read_at(in, file_size - window, window, &tail)) return 0;
  size_t at = tail.size();
  for (size_t i = tail.size() - kEndSize + 1; i-- > 0;) {
    if (le(tail.data() + i, 4) == kEndSig) {
      at = i;
      break;
    }
  }
  if (at == tail.size()) return 0;
  const uint64_t end = file_size - window + at;
  const uint8_t* e = tail.data() + at;
  std::vector<Directory> dirs{{le(e + 16, 4), le(e + 12, 4), le(e + 10, 2)}};
  // Zip64: miniz reads the record just before the locator, or else where the locator points;
  // versions differ, so both are walked.
  std::vector<uint8_t> loc, rec;
  if (end >= kLocatorSize + kEnd64Size && read_at(in, end - kLocatorSize, kLocatorSize, &loc) &&
      le(loc.data(), 4) == kLocatorSig) {
    for (uint64_t at64 : {end - kLocatorSize - kEnd64Size, le(loc.data() + 8, 8)}) {
      if (at64 <= file_size - kEnd64Size && read_at(in, at64, kEnd64Size, &rec) &&
          le(rec.data(), 4) == kEnd64Sig)
        dirs.push_back({le(rec.data() + 48, 8), le(rec.data() + 40, 8), le(rec.data() + 32, 8)});
    }
  }
  uint64_t largest = 0;
  for (const Directory& d : dirs) walk(in, file_size, d, &largest, name);
  return largest;
}

}  // namespace dfer::io::detail
