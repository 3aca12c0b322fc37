// libFuzzer target: the safetensors header parser must reject any input with dfer::Error, never
// crash, hang or read out of bounds. The whole input plays the role of the file.
#include "dfer/io/safetensors_header.h"
#include "dfer/util/error.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dfer::io::StHeader h = dfer::io::parse_safetensors_header(data, size, size, "fuzz-input");
    // Invariants of an accepted header: offsets tile the data section inside the input.
    uint64_t covered = 0;
    for (const auto& t : h.tensors) {
      if (t.begin != covered || t.end < t.begin) __builtin_trap();
      covered = t.end;
    }
    if (h.data_start + covered != size) __builtin_trap();
  } catch (const dfer::Error&) {
    // Rejection with a message is the expected outcome for malformed input.
  }
  return 0;
}
