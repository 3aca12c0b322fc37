// Internal to the .pth reader (not part of the public API): a look at a zip's central directory
// before LibTorch's reader opens it.
#pragma once

#include <cstdint>
#include <istream>
#include <string>

namespace dfer::io::detail {

// The largest uncompressed size that any central directory entry of the zip in `in` (of
// `file_size` bytes) declares, as miniz (LibTorch's zip reader) would take it: the 32-bit field,
// or the zip64 extended field when the 32-bit one is 0xFFFFFFFF. Every directory miniz might use
// is looked at (the end record's, and both zip64 end records'), so the answer is never below
// miniz's. 0 when no central directory is found; `name` receives the entry's name.
uint64_t largest_declared_size(std::istream& in, uint64_t file_size, std::string* name);

// What a zip of `file_size` bytes can honestly hold in one record: stored records fit in the
// file, and deflate expands at most 1032:1.
uint64_t record_size_limit(uint64_t file_size);

}  // namespace dfer::io::detail
