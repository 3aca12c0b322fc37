// Validating parser of the safetensors header (length prefix + JSON). Torch-free: it is also built
// alone with clang for fuzzing, so it uses only the standard library, nlohmann/json and
// dfer::Error.
#include "dfer/io/safetensors_header.h"

#include "dfer/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <utility>

namespace dfer::io {

namespace {

// The official implementation refuses headers above 100 MB; a larger one is corrupt or hostile.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// No real tensor has this many dimensions; bounding it keeps a hostile header cheap to reject.
constexpr size_t kMaxRank = 64;

struct DtypeEntry {
  StDtype dtype;
  const char* name;
  size_t size;
};
constexpr DtypeEntry kDtypes[] = {
    {StDtype::F64, "F64", 8},   {StDtype::F32, "F32", 4},   {StDtype::F16, "F16", 2},
    {StDtype::BF16, "BF16", 2}, {StDtype::I64, "I64", 8},   {StDtype::I32, "I32", 4},
    {StDtype::U8, "U8", 1},     {StDtype::BOOL, "BOOL", 1},
};

// One top-level entry as read from the JSON, before semantic checks.
struct RawEntry {
  std::string name;
  bool has_dtype = false, has_shape = false, has_offsets = false;
  std::string dtype;
  std::vector<uint64_t> shape;
  std::vector<uint64_t> offsets;
};

enum class Field { kNone, kDtype, kShape, kOffsets, kMetaValue };

// SAX handler that accepts exactly the safetensors schema. Working on SAX events (rather than a
// DOM) lets it see duplicate keys, which nlohmann's DOM would silently merge, keep the metadata key
// order, and stop at the first violation without ever building a deep or large tree.
class HeaderSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<RawEntry> entries;
  std::vector<std::pair<std::string, std::string>> metadata;  // in file order
  std::string error;

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool number_integer(number_integer_t v) override {
    if (depth_ == 3) return fail(where() + " has a negative entry (" + std::to_string(v) + ")");
    return scalar("a number");
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (depth_ != 3) return scalar("a number");
    auto& list = field_ == Field::kShape ? entries.back().shape : entries.back().offsets;
    if (field_ == Field::kShape && list.size() >= kMaxRank)
      return fail(where() + " has more than " + std::to_string(kMaxRank) + " dimensions");
    if (field_ == Field::kOffsets && list.size() >= 2)
      return fail(where() + " must have exactly 2 entries [begin, end]");
    list.push_back(v);
    return true;
  }
  bool number_float(number_float_t, const string_t& s) override {
    if (depth_ == 3)
      return fail(where() + " has an entry that is not an integer or is too large (" + s + ")");
    return scalar("a number");
  }
  bool string(string_t& s) override {
    if (depth_ == 2 && field_ == Field::kDtype) {
      entries.back().dtype = s;
      return true;
    }
    if (depth_ == 2 && field_ == Field::kMetaValue) {
      metadata.back().second = s;
      return true;
    }
    return scalar("a string");
  }
  bool binary(binary_t&) override { return scalar("binary data"); }

  bool start_object(std::size_t) override {
    if (depth_ == 0 || (depth_ == 1 && !in_meta_)) return open();
    if (depth_ == 1 && in_meta_) {
      if (seen_meta_) return fail("duplicate \"__metadata__\" entry");
      seen_meta_ = true;
      return open();
    }
    return scalar("an object");
  }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      if (k.empty()) return fail("a tensor has an empty name");
      in_meta_ = k == "__metadata__";
      if (in_meta_) return true;
      if (!names_.insert(k).second) return fail("duplicate tensor name '" + k + "'");
      entries.push_back(RawEntry{});
      entries.back().name = k;
      return true;
    }
    if (in_meta_) {
      if (!meta_keys_.insert(k).second) return fail("duplicate \"__metadata__\" key '" + k + "'");
      metadata.emplace_back(k, std::string());
      field_ = Field::kMetaValue;
      return true;
    }
    RawEntry& e = entries.back();
    bool* seen = nullptr;
    if (k == "dtype") field_ = Field::kDtype, seen = &e.has_dtype;
    if (k == "shape") field_ = Field::kShape, seen = &e.has_shape;
    if (k == "data_offsets") field_ = Field::kOffsets, seen = &e.has_offsets;
    if (!seen) return fail("tensor '" + e.name + "' has an unknown field '" + k + "'");
    if (*seen) return fail("tensor '" + e.name + "' has a duplicate field '" + k + "'");
    *seen = true;
    return true;
  }
  bool end_object() override {
    --depth_;
    if (depth_ == 1 && !in_meta_) {
      const RawEntry& e = entries.back();
      const char* missing = !e.has_dtype     ? "dtype"
                            : !e.has_shape   ? "shape"
                            : !e.has_offsets ? "data_offsets"
                                             : nullptr;
      if (missing) return fail("tensor '" + e.name + "' lacks the field '" + missing + "'");
    }
    if (depth_ == 1) in_meta_ = false;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 2 && (field_ == Field::kShape || field_ == Field::kOffsets)) return open();
    return scalar("an array");
  }
  bool end_array() override {
    --depth_;
    if (field_ == Field::kOffsets && entries.back().offsets.size() != 2)
      return fail(where() + " must have exactly 2 entries [begin, end]");
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    // nlohmann's message carries line/column and the offending token; keep it.
    return fail("malformed JSON at byte " + std::to_string(pos) + ": " + ex.what());
  }

 private:
  int depth_ = 0;  // containers currently open
  bool in_meta_ = false, seen_meta_ = false;
  Field field_ = Field::kNone;
  std::set<std::string> names_, meta_keys_;

  bool open() {
    ++depth_;
    return true;
  }
  bool fail(std::string msg) {
    if (error.empty()) error = std::move(msg);
    return false;
  }
  std::string where() const {
    const RawEntry& e = entries.back();
    return "tensor '" + e.name + "': " + (field_ == Field::kShape ? "shape" : "data_offsets");
  }
  // A value of kind `got` where the schema does not allow it: say what was expected there.
  bool scalar(const std::string& got) {
    if (depth_ == 0) return fail("the header must be a JSON object, got " + got);
    if (depth_ == 1 && in_meta_) return fail("\"__metadata__\" must be an object, got " + got);
    if (depth_ == 1)
      return fail("tensor '" + entries.back().name + "' must be an object, got " + got);
    if (depth_ == 2 && in_meta_)
      return fail("\"__metadata__\" value '" + metadata.back().first + "' must be a string, got " +
                  got);
    const std::string& name = entries.back().name;
    if (depth_ == 2 && field_ == Field::kDtype)
      return fail("tensor '" + name + "': dtype must be a string, got " + got);
    if (depth_ == 2) return fail(where() + " must be an array of integers, got " + got);
    return fail(where() + " must contain only non-negative integers, got " + got);
  }
};

bool parse_dtype(const std::string& s, StDtype* out) {
  for (const auto& d : kDtypes) {
    if (s == d.name) {
      *out = d.dtype;
      return true;
    }
  }
  return false;
}

std::string supported_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += std::string(s.empty() ? "" : ", ") + d.name;
  return s;
}

// Semantic checks of one entry against the data section size.
StTensorInfo check_entry(const RawEntry& e, uint64_t data_size,
                         const std::function<void(const std::string&)>& fail) {
  StTensorInfo t;
  t.name = e.name;
  if (!parse_dtype(e.dtype, &t.dtype))
    fail("tensor '" + e.name + "': unknown dtype '" + e.dtype +
         "' (supported: " + supported_dtypes() + ")");
  uint64_t numel = 1;
  for (size_t i = 0; i < e.shape.size(); ++i) {
    uint64_t d = e.shape[i];
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("tensor '" + e.name + "': shape[" + std::to_string(i) + "] = " + std::to_string(d) +
           " is too large");
    if (__builtin_mul_overflow(numel, d, &numel))
      fail("tensor '" + e.name + "': the element count of the shape overflows 64 bits");
    t.shape.push_back(static_cast<int64_t>(d));
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, dtype_size(t.dtype), &nbytes) ||
      numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail("tensor '" + e.name + "': the byte size of the shape overflows 64 bits");
  t.begin = e.offsets[0];
  t.end = e.offsets[1];
  const std::string range = "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
  if (t.begin > t.end) fail("tensor '" + e.name + "': data_offsets " + range + " are reversed");
  if (t.end > data_size)
    fail("tensor '" + e.name + "': data_offsets " + range +
         " go past the end of the data section (" + std::to_string(data_size) +
         " bytes; file truncated?)");
  if (t.end - t.begin != nbytes)
    fail("tensor '" + e.name + "': data_offsets " + range + " span " +
         std::to_string(t.end - t.begin) + " bytes but dtype " + e.dtype + " x shape needs " +
         std::to_string(nbytes));
  return t;
}

}  // namespace

const char* dtype_name(StDtype d) {
  for (const auto& e : kDtypes)
    if (e.dtype == d) return e.name;
  throw Error("invalid safetensors dtype enum value " + std::to_string(static_cast<int>(d)));
}

size_t dtype_size(StDtype d) {
  for (const auto& e : kDtypes)
    if (e.dtype == d) return e.size;
  throw Error("invalid safetensors dtype enum value " + std::to_string(static_cast<int>(d)));
}

StHeader parse_safetensors_header(const uint8_t* prefix, size_t prefix_size, uint64_t file_size,
                                  const std::string& what) {
  auto fail = [&what](const std::string& msg) {
    throw Error(what + ": invalid safetensors file: " + msg);
  };
  if (file_size < 8 || prefix_size < 8)
    fail("the file has " + std::to_string(file_size) +
         " bytes, fewer than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | prefix[i];  // little-endian, whatever the host
  if (n > kMaxHeaderBytes)
    fail("header length " + std::to_string(n) + " exceeds the limit of " +
         std::to_string(kMaxHeaderBytes) + " bytes");
  if (n > file_size - 8)
    fail("header length " + std::to_string(n) + " exceeds the " + std::to_string(file_size - 8) +
         " bytes that follow it (file truncated?)");
  if (prefix_size - 8 < n)
    fail("only " + std::to_string(prefix_size) + " bytes of the header were read, need " +
         std::to_string(8 + n));

  HeaderSax sax;
  const char* json = reinterpret_cast<const char*>(prefix + 8);
  if (n == 0) fail("the JSON header is empty");
  // nlohmann treats a NUL byte as the end of input and would ignore whatever follows it.
  if (const void* nul = std::memchr(json, 0, n))
    fail("the JSON header contains a NUL byte at header offset " +
         std::to_string(static_cast<const char*>(nul) - json));
  if (!nlohmann::json::sax_parse(json, json + n, &sax) || !sax.error.empty())
    fail(sax.error.empty() ? "malformed JSON header" : sax.error);

  StHeader h;
  h.data_start = 8 + n;
  const uint64_t data_size = file_size - h.data_start;
  for (auto& kv : sax.metadata) h.metadata.insert(kv);
  for (auto& kv : sax.metadata) h.metadata_keys.push_back(kv.first);
  for (const RawEntry& e : sax.entries) h.tensors.push_back(check_entry(e, data_size, fail));

  // The tensors must tile the data section exactly, as the official reader demands: a gap or an
  // overlap means a corrupt writer, trailing bytes a truncated or concatenated file.
  std::stable_sort(h.tensors.begin(), h.tensors.end(),
                   [](const StTensorInfo& a, const StTensorInfo& b) {
                     return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
                   });
  uint64_t covered = 0;
  const StTensorInfo* prev = nullptr;
  for (const StTensorInfo& t : h.tensors) {
    if (t.begin < covered)
      fail("tensor '" + t.name + "' (bytes " + std::to_string(t.begin) + ".." +
           std::to_string(t.end) + ") overlaps tensor '" + prev->name + "' (ending at " +
           std::to_string(covered) + ")");
    if (t.begin > covered)
      fail("gap of " + std::to_string(t.begin - covered) + " bytes in the data section before " +
           "tensor '" + t.name + "' (bytes " + std::to_string(covered) + ".." +
           std::to_string(t.begin) + " belong to no tensor)");
    covered = t.end;
    prev = &t;
  }
  if (covered != data_size)
    fail("the data section has " + std::to_string(data_size) + " bytes but the tensors cover " +
         std::to_string(covered) + " (" + std::to_string(data_size - covered) + " trailing bytes)");
  return h;
}

}  // namespace dfer::io
