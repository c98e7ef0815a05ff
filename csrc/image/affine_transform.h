// Projective / affine resampling of NHWC images (Keras's ops.image.affine_transform), forward and its exact
// adjoint, for the augmentation layers (RandomRotation, RandomZoom, RandomTranslation).
//
// Output pixel (row oy, column ox) of image n samples the input at
//   k = c0 ox + c1 oy + 1,  x = (a0 ox + a1 oy + a2) / k,  y = (b0 ox + b1 oy + b2) / k
// with transform[n] = (a0, a1, a2, b0, b1, b2, c0, c1), in double. 'nearest' takes the tap (round(y), round(x))
// (halves to even); 'bilinear' the four taps floor / floor + 1 with weights (1 - f, f) on each axis, summed in
// (y0 x0, y0 x1, y1 x0, y1 x1) order. A tap outside the image is mapped by the fill mode, on integer indices as
// Keras's map_coordinates does:
//   reflect   (d c b a | a b c d | d c b a)      wrap      (a b c d | a b c d | a b c d)
//   nearest   (a a a a | a b c d | d d d d)      constant  the tap reads fill_value
// Forward: y[n, oy, ox, c] = sum over taps of weight * x[n, tap, c] (or weight * fill_value).
// Backward (the adjoint of the x -> y map): dx[n, tap, c] += weight * dy[n, oy, ox, c] over the output pixels in
// row-major order, one image per thread: bit-identical for any thread count.
#pragma once

#include <cstdint>

namespace pynn {

enum class FillMode : int { reflect = 0, wrap = 1, constant = 2, nearest = 3 };
enum class Interpolation : int { nearest = 0, bilinear = 1 };

struct AffineTransformParams {
  int64_t batch = 0, height = 0, width = 0, channels = 0;
  FillMode fill_mode = FillMode::reflect;
  Interpolation interpolation = Interpolation::bilinear;
  double fill_value = 0.0;
};

// transforms: batch rows of 8 doubles. x, y (dy, dx): (batch, height, width, channels).
void affine_transform_forward(const AffineTransformParams& p, const float* x, const double* transforms, float* y);
void affine_transform_forward(const AffineTransformParams& p, const double* x, const double* transforms, double* y);
void affine_transform_backward(const AffineTransformParams& p, const float* dy, const double* transforms, float* dx);
void affine_transform_backward(const AffineTransformParams& p, const double* dy, const double* transforms,
                               double* dx);

}  // namespace pynn
