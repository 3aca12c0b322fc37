// CPU autocast in one dtype while an object lives, for tests of the models concern (the train
// layer's AutocastScope, without linking that layer); leaves autocast off and its cache empty.
#pragma once

#include <ATen/autocast_mode.h>

namespace dfer::test {

class CpuAutocast {
 public:
  explicit CpuAutocast(at::ScalarType dtype = at::kBFloat16) {
    at::autocast::set_autocast_dtype(at::kCPU, dtype);
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::increment_nesting();
  }
  ~CpuAutocast() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCPU, false);
  }
  CpuAutocast(const CpuAutocast&) = delete;
  CpuAutocast& operator=(const CpuAutocast&) = delete;
};

}  // namespace dfer::test
