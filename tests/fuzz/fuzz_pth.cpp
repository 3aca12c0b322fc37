// libFuzzer target for the whole .pth read (src/io/pth.cpp): the input is the checkpoint file (zip
// container, data.pkl, storage records). read_pth, state_dict_from and pth_metadata_json must
// either succeed or throw dfer::Error (the documented contract: any other exception aborts the
// run), and every tensor they return must be a view inside its storage.
#include "dfer/io/pth.h"
#include "dfer/util/error.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

// The input becomes an in-memory file opened by its /proc path, so the reader takes the same
// path-based route as a checkpoint on disk without touching the disk a million times.
struct MemFile {
  int fd = -1;
  std::string path;
};

const MemFile& mem_file() {
  static const MemFile f = [] {
    MemFile m;
    m.fd = memfd_create("fuzz.pth", 0);
    if (m.fd < 0) std::abort();
    m.path = "/proc/self/fd/" + std::to_string(m.fd);
    return m;
  }();
  return f;
}

void write_input(const uint8_t* data, size_t size) {
  const int fd = mem_file().fd;
  if (ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
}

// LibTorch is not instrumented, so its kernels reading a bad view would go unnoticed: read the
// first and the last element of every view here, in instrumented code (ASan knows the bounds of
// the record buffers, which come from the intercepted allocator), and check the view's extent
// against its storage.
void touch(const torch::Tensor& t) {
  if (t.numel() == 0) return;
  const auto item = static_cast<int64_t>(t.element_size());
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  const int64_t end = (t.storage_offset() + last + 1) * item;
  if (end > static_cast<int64_t>(t.storage().nbytes())) __builtin_trap();
  const auto* p = static_cast<const uint8_t*>(t.data_ptr());
  volatile uint8_t sink = 0;
  for (int64_t b = 0; b < item; ++b) sink = sink + p[b] + p[last * item + b];
  (void)sink;
}

}  // namespace

// LibTorch's PyTorchStreamReader leaks miniz's central directory (about 1.5 KB) when its
// constructor throws after the zip itself was read (no version record, a top entry outside a
// folder, ...): the destructor that would free it never runs, and dfer cannot reach it. Only
// allocations made inside miniz are exempt from leak detection.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:mz_zip_reader_init\nleak:mz_zip_reader_read_central_dir\n";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  write_input(data, size);
  try {
    const dfer::io::PthFile f = dfer::io::read_pth(mem_file().path);
    for (const auto& t : f.tensors) touch(t);
    std::string key;
    try {
      for (const auto& [name, t] : dfer::io::state_dict_from(f, &key)) touch(t);
    } catch (const dfer::Error&) {
      // No state dict: the metadata is still rendered below.
    }
    volatile size_t sink = dfer::io::pth_metadata_json(f, key).size();
    (void)sink;
  } catch (const dfer::Error&) {
    // Rejection with a message is the expected outcome for malformed input.
  }
  return 0;
}
