// Atomic file replacement: readers see either the old file or the complete new one, never a
// partial write, even across a crash (temp file in the same directory + fsync + rename).
// Torch-free.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace dfer::io {

// Calls `writer` on a stream over a fresh temp file next to `path`, then flushes and fsyncs it,
// renames it over `path` and fsyncs the directory. If the writer throws or any step fails, the
// temp file is removed, `path` is left untouched and a dfer::Error naming `path` is thrown (the
// writer's own dfer::Error is rethrown with that context).
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& writer);

// Same, for content already in memory.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace dfer::io
