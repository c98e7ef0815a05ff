// Random fills from the counter-based generator (philox.h): uniform, normal, truncated normal, Bernoulli,
// integers, and dropout forward / backward.
//
// Every fill is keyed by (seed, offset): out[i] is element g = offset + i of the stream of `seed`, and its
// value depends on (seed, g) alone, never on the thread count or on how the array is cut. So a fill of n
// elements and a fill of [i0, i1) with offset + i0 give the same numbers there, and a caller that wants
// fresh numbers each step advances offset by the elements it used (or changes the seed).
//
// Element g comes from Philox block g / P (the block index in counter words 0-1) and takes lane g % P of it:
//   uniform float32        P = 4  one 32-bit word, top 24 bits           u = (w >> 8) 2^-24 in [0, 1)
//   uniform float64        P = 2  two words as one 64-bit w, top 53 bits u = (w >> 11) 2^-53 in [0, 1)
//     then low + (high - low) u, in double, rounded to T, and kept below high if rounding reached it.
//   normal float32         P = 4  Box-Muller on word pairs (0,1), (2,3): u1 = (w + 1) 2^-32 in (0, 1],
//                                 theta = 2 pi (w >> 8) 2^-24; lanes r cos, r sin, r cos, r sin; float math.
//                                 |z| <= 6.66 (the smallest u1 is 2^-32).
//   normal float64         P = 2  Box-Muller on the 64-bit words (0:1), (2:3), u1 = ((w >> 11) + 1) 2^-53,
//                                 |z| <= 8.58.
//   truncated normal       as normal; an element with |z| >= 2 is redrawn from the same block index with
//                                 counter word 2 = attempt 1, 2, ... (its own lane each time) until |z| < 2
//                                 (Keras / TensorFlow semantics: the normal conditioned on |z| < 2, so its
//                                 standard deviation is 0.87962566 stddev). After 64 failed attempts
//                                 (probability 1e-86) the element is the mean. Attempt 0 is the normal
//                                 fill, so truncated_normal equals normal wherever |z| < 2 there.
//   Bernoulli / dropout    P = 4  one 32-bit word: 1 when w < floor(p 2^32). The dropout keep mask for
//                                 rate r is the complement of Bernoulli(r): dropout(seed, offset) drops
//                                 exactly where bernoulli(r, seed, offset) is 1, in either dtype.
//   integers (int64)       P = 2  64-bit w, low + floor(w (high - low) / 2^64); high - low <= 2^32, so the
//                                 relative bias of any value is below 2^-32.
//
// random_fill_reference computes each element on its own, serially: the spec the fast fill is tested against.
#pragma once

#include <cstdint>

namespace pynn {

enum class RandomDistribution : int { uniform = 0, normal = 1, truncated_normal = 2 };

struct RandomParams {
  RandomDistribution distribution = RandomDistribution::uniform;
  uint64_t seed = 0;
  uint64_t offset = 0;  // stream element of out[0]
  double a = 0.0;       // uniform: low;  normal, truncated_normal: mean
  double b = 1.0;       // uniform: high; normal, truncated_normal: stddev
};

void random_fill(const RandomParams& p, float* out, int64_t n);
void random_fill(const RandomParams& p, double* out, int64_t n);
void random_fill_reference(const RandomParams& p, float* out, int64_t n);
void random_fill_reference(const RandomParams& p, double* out, int64_t n);

// out[i] = 1 with probability `probability` (in [0, 1]), else 0.
void random_bernoulli(uint64_t seed, uint64_t offset, double probability, uint8_t* out, int64_t n);
// out[i] uniform in [low, high), high - low in [1, 2^32].
void random_integers(uint64_t seed, uint64_t offset, int64_t low, int64_t high, int64_t* out, int64_t n);

// Inverted dropout: mask[i] = 1 (keep, probability 1 - rate) or 0; y = mask ? x / (1 - rate) : 0.
// A dropped element is 0 even where x is Inf or NaN. rate in [0, 1). x and y may be the same array.
struct DropoutParams {
  double rate = 0.0;
  uint64_t seed = 0;
  uint64_t offset = 0;
};
void dropout_forward(const DropoutParams& p, const float* x, float* y, uint8_t* mask, int64_t n);
void dropout_forward(const DropoutParams& p, const double* x, double* y, uint8_t* mask, int64_t n);
// dx = mask ? dy / (1 - rate) : 0. dy and dx may be the same array.
void dropout_backward(double rate, const float* dy, const uint8_t* mask, float* dx, int64_t n);
void dropout_backward(double rate, const double* dy, const uint8_t* mask, double* dx, int64_t n);

// Philox4x32-10 itself, for the known-answer tests: out = philox(counter[4], key[2]).
void philox4x32_10_block(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

}  // namespace pynn
