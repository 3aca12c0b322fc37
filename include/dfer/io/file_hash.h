// Content hash of a file (XXH3-128 from Debian's libxxhash): what a checkpoint's state file records
// of its weights file, so that a pair from two different saves is caught even at equal size.
#pragma once

#include <string>

namespace dfer::io {

// The XXH3-128 of the file's bytes as 32 lowercase hex digits. Reads the file in 1 MiB blocks
// (several GB/s: negligible next to writing the file). Throws dfer::Error naming the path when it
// cannot be read.
std::string file_xxh3_128(const std::string& path);

}  // namespace dfer::io
