// Random numbers for the synthetic dataset (internal): a small convenience face over the data
// pipeline's explicitly seeded engine and distributions (random.h), so the rendered dataset is the
// same for a seed on every platform.
#pragma once

#include <cstdint>

#include "dfer/data/random.h"

namespace dfer::data::detail {

// The seed of an independent stream keyed by (dataset seed, a, b): one per video and purpose.
inline uint64_t synth_seed(uint64_t seed, uint64_t a, uint64_t b) {
  return mix_seed(mix_seed(seed, a), b);
}

class SynthRng {
 public:
  explicit SynthRng(uint64_t seed) : eng_(seed) {}
  uint64_t bits() { return eng_(); }
  double uniform() { return uniform01(eng_); }
  double uniform(double lo, double hi) { return dfer::data::uniform(eng_, lo, hi); }
  int64_t integer(int64_t lo, int64_t hi) { return randint(eng_, lo, hi); }  // inclusive
  bool chance(double p) { return bernoulli(eng_, p); }
  double normal() { return dfer::data::normal(eng_); }
  double sign() { return chance(0.5) ? 1.0 : -1.0; }

 private:
  Rng eng_;
};

}  // namespace dfer::data::detail
