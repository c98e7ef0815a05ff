// Uniform, normal and truncated-normal fills, Bernoulli and integers. The layout is documented in random.h.
#include "random/random.h"

#include <cmath>

#include "random/stream.h"

namespace pynn {
namespace {

using random_detail::join64;

// Elements per Philox block: one 32-bit word per float32 value, two per float64 value.
template <class T> struct Lanes;
template <> struct Lanes<float> { static constexpr int value = 4; };
template <> struct Lanes<double> { static constexpr int value = 2; };

constexpr uint32_t kMaxTruncatedAttempts = 64;

inline void unit_block(const Philox4x32& r, float u[4]) {
  for (int k = 0; k < 4; ++k) u[k] = random_detail::unit_float(r.v[k]);
}
inline void unit_block(const Philox4x32& r, double u[2]) {
  u[0] = random_detail::unit_double(join64(r.v[1], r.v[0]));
  u[1] = random_detail::unit_double(join64(r.v[3], r.v[2]));
}

// Box-Muller: standard normals of one block (two pairs of float32, one pair of float64).
inline void normal_block(uint64_t seed, uint64_t block, uint32_t attempt, float z[4]) {
  const Philox4x32 r = philox_block(seed, block, attempt);
  for (int k = 0; k < 2; ++k) {
    const float radius = std::sqrt(-2.0f * std::log(random_detail::unit_open_float(r.v[2 * k])));
    const float theta = 6.28318530717958647692f * random_detail::unit_float(r.v[2 * k + 1]);
    z[2 * k] = radius * std::cos(theta);
    z[2 * k + 1] = radius * std::sin(theta);
  }
}
inline void normal_block(uint64_t seed, uint64_t block, uint32_t attempt, double z[2]) {
  const Philox4x32 r = philox_block(seed, block, attempt);
  const double radius = std::sqrt(-2.0 * std::log(random_detail::unit_open_double(join64(r.v[1], r.v[0]))));
  const double theta = 6.28318530717958647692 * random_detail::unit_double(join64(r.v[3], r.v[2]));
  z[0] = radius * std::cos(theta);
  z[1] = radius * std::sin(theta);
}

// Normals of one block with every |z| >= 2 redrawn from attempts 1, 2, ... of the same block, own lane.
template <class T>
inline void truncated_normal_block(uint64_t seed, uint64_t block, T z[]) {
  constexpr int P = Lanes<T>::value;
  normal_block(seed, block, 0, z);
  for (int lane = 0; lane < P; ++lane) {
    uint32_t attempt = 1;
    while (!(std::fabs(z[lane]) < T(2))) {
      if (attempt > kMaxTruncatedAttempts) {
        z[lane] = T(0);
        break;
      }
      T redraw[P];
      normal_block(seed, block, attempt++, redraw);
      z[lane] = redraw[lane];
    }
  }
}

template <int P, class V, class BlockValues, class Sink>
void run(uint64_t first, int64_t n, bool reference, BlockValues& values, Sink& sink) {
  if (reference)
    random_detail::reference_elements<P, V>(first, n, values, sink);
  else
    random_detail::parallel_elements<P, V>(first, n, values, sink);
}

template <class T>
void fill(const RandomParams& p, T* out, int64_t n, bool reference) {
  constexpr int P = Lanes<T>::value;
  auto store = [out](int64_t i, T v) { out[i] = v; };
  switch (p.distribution) {
    case RandomDistribution::uniform: {
      const T low = static_cast<T>(p.a), high = static_cast<T>(p.b);
      const T below_high = std::nextafter(high, low);
      auto values = [&](uint64_t block, T v[]) {
        T u[P];
        unit_block(philox_block(p.seed, block), u);
        for (int k = 0; k < P; ++k) {
          const T x = static_cast<T>(double(low) + (double(high) - double(low)) * double(u[k]));
          v[k] = x < high ? x : below_high;
        }
      };
      run<P, T>(p.offset, n, reference, values, store);
      break;
    }
    case RandomDistribution::normal:
    case RandomDistribution::truncated_normal: {
      const T mean = static_cast<T>(p.a), stddev = static_cast<T>(p.b);
      const bool truncated = p.distribution == RandomDistribution::truncated_normal;
      auto values = [&](uint64_t block, T v[]) {
        if (truncated)
          truncated_normal_block<T>(p.seed, block, v);
        else
          normal_block(p.seed, block, 0, v);
        for (int k = 0; k < P; ++k) v[k] = mean + stddev * v[k];
      };
      run<P, T>(p.offset, n, reference, values, store);
      break;
    }
  }
}

}  // namespace

void random_fill(const RandomParams& p, float* out, int64_t n) { fill(p, out, n, false); }
void random_fill(const RandomParams& p, double* out, int64_t n) { fill(p, out, n, false); }
void random_fill_reference(const RandomParams& p, float* out, int64_t n) { fill(p, out, n, true); }
void random_fill_reference(const RandomParams& p, double* out, int64_t n) { fill(p, out, n, true); }

void random_bernoulli(uint64_t seed, uint64_t offset, double probability, uint8_t* out, int64_t n) {
  const uint64_t threshold = random_detail::bernoulli_threshold(probability);
  auto values = [&](uint64_t block, uint8_t v[]) {
    const Philox4x32 r = philox_block(seed, block);
    for (int k = 0; k < 4; ++k) v[k] = uint64_t{r.v[k]} < threshold;
  };
  auto store = [out](int64_t i, uint8_t v) { out[i] = v; };
  random_detail::parallel_elements<4, uint8_t>(offset, n, values, store);
}

void random_integers(uint64_t seed, uint64_t offset, int64_t low, int64_t high, int64_t* out, int64_t n) {
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  auto values = [&](uint64_t block, int64_t v[]) {
    const Philox4x32 r = philox_block(seed, block);
    for (int k = 0; k < 2; ++k) {
      const uint64_t w = join64(r.v[2 * k + 1], r.v[2 * k]);
      const uint64_t scaled = static_cast<uint64_t>((static_cast<unsigned __int128>(w) * range) >> 64);
      v[k] = static_cast<int64_t>(static_cast<uint64_t>(low) + scaled);
    }
  };
  auto store = [out](int64_t i, int64_t v) { out[i] = v; };
  random_detail::parallel_elements<2, int64_t>(offset, n, values, store);
}

void philox4x32_10_block(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  const Philox4x32 r = philox4x32_10(counter[0], counter[1], counter[2], counter[3], key[0], key[1]);
  for (int k = 0; k < 4; ++k) out[k] = r.v[k];
}

}  // namespace pynn
