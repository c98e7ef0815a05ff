// int8 matrix multiply for quantized inference (Dense layers quantized by model.quantize("int8")).
//
// Keras 3's int8 scheme (its Dense.quantize("int8") and AbsMaxQuantizer): the weights B (k x n) are quantized
// once per output column, b = clip(round(w s_b[j]), -127, 127) with s_b[j] = 127 / (max |w[:, j]| + 1e-7); the
// activations A (m x k) per row at each call (dynamic), a = clip(round(x s_a[i]), -127, 127) with
// s_a[i] = 127 / (max |x[i, :]| + 1e-7) (rounding half to even). Then
//
//     C[i, j] = act(float(sum_k a[i, k] b[k, j]) / (s_a[i] * s_b[j]) + bias[j])
//
// with the integer sum exact in int32 (|a b| <= 127^2, so k up to 133,000 terms cannot overflow). Both operands
// are held as int16 (the value range of int8): AVX2 multiplies pairs of int16 and adds each pair into an
// int32 lane in one instruction (vpmaddwd), with no 16-bit saturation, unlike the u8 x s8 vpmaddubsw.
// B is packed once (qgemm_pack_b) into panels of 16 columns, k in pairs: for pair p, column j of the panel,
// packed[(p * 16 + j) * 2 + e] = b[2p + e, j] (zero past k and n). A rows hold k rounded up to even, padded 0.
//
// The integer sums are exact, so the result does not depend on the thread count or on how rows and columns
// are split; the float epilogue is the same per element on every path of one ISA.
#pragma once

#include <cstdint>

#include "activations/activations.h"

namespace pynn {

constexpr int kQgemmPanel = 16;   // columns per packed panel of B

inline int64_t qgemm_k_pairs(int64_t k) { return (k + 1) / 2; }
// int16 elements of B packed for qgemm.
inline int64_t qgemm_packed_size(int64_t k, int64_t n) {
  return (n + kQgemmPanel - 1) / kQgemmPanel * kQgemmPanel * qgemm_k_pairs(k) * 2;
}

// q (m x ld, ld >= k rounded up to even) = x (m x k) quantized per row; scale[i] = 127 / (max |x[i]| + 1e-7).
// Columns k .. ld-1 of q are set to 0. Non-finite values are the caller's to refuse.
void quantize_rows(const float* x, int64_t m, int64_t k, int16_t* q, int64_t ld, float* scale);
// packed (qgemm_packed_size(k, n)) = B (k x n int8, row-major) in qgemm's panels.
void qgemm_pack_b(const int8_t* b, int64_t k, int64_t n, int16_t* packed);
// C (m x n, row stride ldc) = act(A_q B_q / (a_scale[i] b_scale[j]) + bias[j]). a: m x lda int16 from
// quantize_rows; bias may be null; activation elementwise or null.
void qgemm(int64_t m, int64_t n, int64_t k, const int16_t* a, int64_t lda, const float* a_scale,
           const int16_t* packed_b, const float* b_scale, const float* bias, const ActivationParams* activation,
           float* c, int64_t ldc);
// q (m x ld) = clip(round(x (m x k) * scale), -127, 127) with one fixed scale (static activations, calibrated
// ahead); columns k .. ld-1 set to 0.
void quantize_rows_static(const float* x, int64_t m, int64_t k, int64_t ldx, float scale, int16_t* q, int64_t ld);
// Y (m x n, row stride ldy) = act(X B + bias) for float X (m x k, row stride ldx) and B packed by qgemm_pack_b:
// X quantized per row (input_scale <= 0) or with the fixed input_scale, into the calling thread's scratch,
// then qgemm. One call instead of three for an inference layer.
void qlinear(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, float input_scale,
             const int16_t* packed_b, const float* b_scale, const float* bias, const ActivationParams* activation,
             float* y, int64_t ldy);
// The plain loops qgemm is tested against.
void qgemm_reference(int64_t m, int64_t n, int64_t k, const int16_t* a, int64_t lda, const float* a_scale,
                     const int16_t* packed_b, const float* b_scale, const float* bias,
                     const ActivationParams* activation, float* c, int64_t ldc);

}  // namespace pynn
