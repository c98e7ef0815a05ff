// Inverted dropout, forward and backward (random.h). The keep mask of element g is 1 when Philox word
// g % 4 of block g / 4 is >= floor(rate 2^32): the complement of random_bernoulli(rate) at the same
// (seed, offset), the same for float32 and float64.
#include <cstdint>

#include "common/parallel.h"
#include "random/random.h"
#include "random/stream.h"

namespace pynn {
namespace {

template <class T>
void forward(const DropoutParams& p, const T* x, T* y, uint8_t* mask, int64_t n) {
  const uint64_t threshold = random_detail::bernoulli_threshold(p.rate);
  const T scale = static_cast<T>(1.0 / (1.0 - p.rate));
  auto keep = [&](uint64_t block, uint8_t v[]) {
    const Philox4x32 r = philox_block(p.seed, block);
    for (int k = 0; k < 4; ++k) v[k] = uint64_t{r.v[k]} >= threshold;
  };
  auto store = [&](int64_t i, uint8_t kept) {
    mask[i] = kept;
    y[i] = kept ? x[i] * scale : T(0);
  };
  random_detail::parallel_elements<4, uint8_t>(p.offset, n, keep, store);
}

template <class T>
void backward(double rate, const T* dy, const uint8_t* mask, T* dx, int64_t n) {
  const T scale = static_cast<T>(1.0 / (1.0 - rate));
  parallel_for(n, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dx[i] = mask[i] ? dy[i] * scale : T(0);
  });
}

}  // namespace

void dropout_forward(const DropoutParams& p, const float* x, float* y, uint8_t* mask, int64_t n) {
  forward(p, x, y, mask, n);
}
void dropout_forward(const DropoutParams& p, const double* x, double* y, uint8_t* mask, int64_t n) {
  forward(p, x, y, mask, n);
}
void dropout_backward(double rate, const float* dy, const uint8_t* mask, float* dx, int64_t n) {
  backward(rate, dy, mask, dx, n);
}
void dropout_backward(double rate, const double* dy, const uint8_t* mask, double* dx, int64_t n) {
  backward(rate, dy, mask, dx, n);
}

}  // namespace pynn
