// safetensors header model and its validating parser. Torch-free so that it can be fuzzed alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dfer::io {

// Element types defined by the safetensors format that dfer reads and writes.
enum class StDtype { F64, F32, F16, BF16, I64, I32, U8, BOOL };

struct StTensorInfo {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data section
  uint64_t end = 0;
};

struct StHeader {
  std::vector<StTensorInfo> tensors;            // sorted by data offset (file order)
  std::map<std::string, std::string> metadata;  // the optional "__metadata__" string map
  std::vector<std::string> metadata_keys;  // the metadata keys in file order (for exact re-saves)
  uint64_t data_start = 0;  // absolute file offset of the data section (8 + header length)
};

// Parses and validates the header of a safetensors blob of `file_size` bytes whose first bytes are
// `prefix` (at least the 8-byte length plus the JSON header, if the file is that long).
// Checks: length bound, JSON well-formed, known dtypes, non-negative shapes without overflow,
// dtype size x numel == byte length, offsets inside the file, no overlaps and no gaps, unique
// names. Throws dfer::Error naming `what` (usually the file path) on any violation. Torch-free.
StHeader parse_safetensors_header(const uint8_t* prefix, size_t prefix_size, uint64_t file_size,
                                  const std::string& what);

const char* dtype_name(StDtype d);  // "F32", ...
size_t dtype_size(StDtype d);       // bytes per element

}  // namespace dfer::io
