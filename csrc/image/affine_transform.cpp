// Affine resampling of NHWC images, forward and adjoint; semantics in affine_transform.h.
#include "image/affine_transform.h"

#include <cmath>

#include "common/parallel.h"

namespace pynn {
namespace {

constexpr double kCoordinateLimit = 1e15;  // far outside any image, and exact in int64

struct Tap {
  int64_t index;  // y * width + x after the fill mode, or -1 for a constant-fill tap
  double weight;
};

int64_t fix_index(int64_t i, int64_t size, FillMode mode) {
  if (i >= 0 && i < size) return i;
  switch (mode) {
    case FillMode::constant: return -1;
    case FillMode::nearest: return i < 0 ? 0 : size - 1;
    case FillMode::wrap: return ((i % size) + size) % size;
    case FillMode::reflect: {
      const int64_t period = 2 * size;
      const int64_t j = ((i % period) + period) % period;
      return j < size ? j : period - 1 - j;
    }
  }
  return -1;
}

double clamp_coordinate(double v) { return std::fmin(std::fmax(v, -kCoordinateLimit), kCoordinateLimit); }

// The taps of output pixel (oy, ox) under transform t; returns how many (1 or 4).
int taps_of(const AffineTransformParams& p, const double* t, int64_t oy, int64_t ox, Tap taps[4]) {
  const double k = t[6] * double(ox) + t[7] * double(oy) + 1.0;
  const double xs = clamp_coordinate((t[0] * double(ox) + t[1] * double(oy) + t[2]) / k);
  const double ys = clamp_coordinate((t[3] * double(ox) + t[4] * double(oy) + t[5]) / k);
  auto tap = [&](int64_t iy, int64_t ix, double w) {
    const int64_t fy = fix_index(iy, p.height, p.fill_mode), fx = fix_index(ix, p.width, p.fill_mode);
    return Tap{fy < 0 || fx < 0 ? -1 : fy * p.width + fx, w};
  };
  if (p.interpolation == Interpolation::nearest) {
    taps[0] = tap(static_cast<int64_t>(std::nearbyint(ys)), static_cast<int64_t>(std::nearbyint(xs)), 1.0);
    return 1;
  }
  const double fy = std::floor(ys), fx = std::floor(xs);
  const double wy1 = ys - fy, wx1 = xs - fx, wy0 = 1.0 - wy1, wx0 = 1.0 - wx1;
  const int64_t iy = static_cast<int64_t>(fy), ix = static_cast<int64_t>(fx);
  taps[0] = tap(iy, ix, wy0 * wx0);
  taps[1] = tap(iy, ix + 1, wy0 * wx1);
  taps[2] = tap(iy + 1, ix, wy1 * wx0);
  taps[3] = tap(iy + 1, ix + 1, wy1 * wx1);
  return 4;
}

bool valid(const AffineTransformParams& p) {
  return p.batch >= 0 && p.height > 0 && p.width > 0 && p.channels > 0;
}

template <class T>
void forward(const AffineTransformParams& p, const T* x, const double* transforms, T* y) {
  if (!valid(p)) return;
  const int64_t C = p.channels, pixels = p.height * p.width;
  const T fill = static_cast<T>(p.fill_value);
  const int64_t row_work = p.width * C * 4;
  parallel_for(p.batch * p.height, row_work >= 16384 ? 1 : 16384 / row_work, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / p.height, oy = r % p.height;
      const T* image = x + n * pixels * C;
      const double* t = transforms + n * 8;
      for (int64_t ox = 0; ox < p.width; ++ox) {
        T* out = y + (r * p.width + ox) * C;
        for (int64_t c = 0; c < C; ++c) out[c] = T(0);
        Tap taps[4];
        const int count = taps_of(p, t, oy, ox, taps);
        for (int i = 0; i < count; ++i) {
          const T w = static_cast<T>(taps[i].weight);
          if (taps[i].index < 0) {
            for (int64_t c = 0; c < C; ++c) out[c] += w * fill;
          } else {
            const T* v = image + taps[i].index * C;
            for (int64_t c = 0; c < C; ++c) out[c] += w * v[c];
          }
        }
      }
    }
  });
}

template <class T>
void backward(const AffineTransformParams& p, const T* dy, const double* transforms, T* dx) {
  if (!valid(p)) return;
  const int64_t C = p.channels, pixels = p.height * p.width;
  parallel_for(p.batch, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      T* image = dx + n * pixels * C;
      for (int64_t i = 0; i < pixels * C; ++i) image[i] = T(0);
      const double* t = transforms + n * 8;
      for (int64_t oy = 0; oy < p.height; ++oy) {
        for (int64_t ox = 0; ox < p.width; ++ox) {
          const T* g = dy + ((n * p.height + oy) * p.width + ox) * C;
          Tap taps[4];
          const int count = taps_of(p, t, oy, ox, taps);
          for (int i = 0; i < count; ++i) {
            if (taps[i].index < 0) continue;
            const T w = static_cast<T>(taps[i].weight);
            T* out = image + taps[i].index * C;
            for (int64_t c = 0; c < C; ++c) out[c] += w * g[c];
          }
        }
      }
    }
  });
}

}  // namespace

void affine_transform_forward(const AffineTransformParams& p, const float* x, const double* transforms, float* y) {
  forward(p, x, transforms, y);
}
void affine_transform_forward(const AffineTransformParams& p, const double* x, const double* transforms, double* y) {
  forward(p, x, transforms, y);
}
void affine_transform_backward(const AffineTransformParams& p, const float* dy, const double* transforms, float* dx) {
  backward(p, dy, transforms, dx);
}
void affine_transform_backward(const AffineTransformParams& p, const double* dy, const double* transforms,
                               double* dx) {
  backward(p, dy, transforms, dx);
}

}  // namespace pynn
