// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel random numbers:
// as easy as 1, 2, 3" (SC 2011), as in Random123 and numpy.random.Philox.
//
// A pure function of a 128-bit counter and a 64-bit key: ten rounds of two 32x32->64 multiplies, the key
// bumped by the Weyl constants between rounds. Checked against Random123's known-answer vectors
// (tests/test_random.py).
//
// How pynn lays out its counters (random.h): key = the 64-bit seed (low word first); counter words 0-1 =
// the 64-bit block index, word 2 = the redraw attempt (truncated normal), word 3 = 0 (reserved).
#pragma once

#include <cstdint>

namespace pynn {

struct Philox4x32 {
  uint32_t v[4];
};

namespace philox_detail {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // key schedule (golden ratio, sqrt(3) - 1)

inline void round(uint32_t c[4], uint32_t k0, uint32_t k1) {
  const uint64_t p0 = uint64_t{kM0} * c[0];
  const uint64_t p1 = uint64_t{kM1} * c[2];
  const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  const uint32_t c1 = c[1], c3 = c[3];
  c[0] = hi1 ^ c1 ^ k0;
  c[1] = lo1;
  c[2] = hi0 ^ c3 ^ k1;
  c[3] = lo0;
}

}  // namespace philox_detail

// The four 32-bit outputs for counter (c0, c1, c2, c3) and key (k0, k1).
inline Philox4x32 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  uint32_t c[4] = {c0, c1, c2, c3};
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += philox_detail::kW0;
      k1 += philox_detail::kW1;
    }
    philox_detail::round(c, k0, k1);
  }
  return Philox4x32{{c[0], c[1], c[2], c[3]}};
}

// pynn's layout: block index `block` and redraw `attempt` under `seed`.
inline Philox4x32 philox_block(uint64_t seed, uint64_t block, uint32_t attempt = 0) {
  return philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), attempt, 0u,
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

}  // namespace pynn
