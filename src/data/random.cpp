// Distributions over std::mt19937_64 with fixed algorithms (see random.h).
#include "dfer/data/random.h"

#include <cmath>
#include <limits>

namespace dfer::data {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

double uniform01(Rng& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

double uniform(Rng& rng, double lo, double hi) {
  return lo + (hi - lo) * uniform01(rng);
}

int64_t randint(Rng& rng, int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (span == 0) return static_cast<int64_t>(rng());  // the full 64-bit range
  // Rejection keeps every value equally likely (plain modulo would favour small ones).
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % span;
  uint64_t x = rng();
  while (x >= limit) x = rng();
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % span);
}

double normal(Rng& rng, double mean, double std) {
  // 1 - u lies in (0, 1], so the logarithm is finite.
  const double u1 = 1.0 - uniform01(rng);
  const double u2 = uniform01(rng);
  return mean + std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

double gamma(Rng& rng, double shape) {
  if (shape < 1.0) {
    // Gamma(a) = Gamma(a + 1) * U^(1/a) keeps the squeeze method valid for small shapes.
    const double u = 1.0 - uniform01(rng);
    return gamma(rng, shape + 1.0) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = normal(rng);
    double v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = 1.0 - uniform01(rng);
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double beta(Rng& rng, double a, double b) {
  const double x = gamma(rng, a);
  const double y = gamma(rng, b);
  // Both can underflow to 0 for tiny shapes; the limit distribution is then a coin flip.
  if (x + y <= 0.0) return uniform01(rng) < a / (a + b) ? 1.0 : 0.0;
  return x / (x + y);
}

bool bernoulli(Rng& rng, double p) {
  return uniform01(rng) < p;
}

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9E3779B97F4A7C15ULL + (b * 0xBF58476D1CE4E5B9ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  // Mix b once more so that (a, b) and (b, a) differ.
  return z ^ ((b + 0x632BE59BD9B4E019ULL) * 0x9E3779B97F4A7C15ULL);
}

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return mix_seed(mix_seed(seed, static_cast<uint64_t>(epoch)), static_cast<uint64_t>(index));
}

}  // namespace dfer::data
