// Explicit, seeded randomness for the data pipeline: one engine per sample, and the handful of
// distributions the reference draws from, implemented here so results never depend on a standard
// library's distribution algorithms (same seed -> same numbers on every platform).
#pragma once

#include <cstdint>
#include <random>

namespace dfer::data {

// The engine every data function takes by reference.
using Rng = std::mt19937_64;

// Uniform in [0, 1) from the top 53 bits of one draw.
double uniform01(Rng& rng);

// lo + (hi - lo) * u, as Python's random.uniform.
double uniform(Rng& rng, double lo, double hi);

// Uniform integer in [lo, hi], both inclusive (Python random.randint), unbiased.
// Requires lo <= hi.
int64_t randint(Rng& rng, int64_t lo, int64_t hi);

// Normal(mean, std) by Box-Muller (one pair of uniforms per call).
double normal(Rng& rng, double mean = 0.0, double std = 1.0);

// Gamma(shape, 1) by Marsaglia-Tsang; shape > 0.
double gamma(Rng& rng, double shape);

// Beta(a, b) as a gamma ratio; a, b > 0.
double beta(Rng& rng, double a, double b);

// True with probability p (u < p).
bool bernoulli(Rng& rng, double p);

// splitmix64-style combination of two 64-bit values (order matters).
uint64_t mix_seed(uint64_t a, uint64_t b);

// The seed of one sample: a function of (global seed, epoch, dataset index) only, so a run is
// reproducible whatever the worker count, the batch composition or the resume point.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

}  // namespace dfer::data
