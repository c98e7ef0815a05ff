// 2-D convolution in NHWC (see conv2d.h): an indirect GEMM or im2col + the core GEMM, chosen by one rule
// (algorithm_for, from measurements); depthwise shapes on their own channel-vectorised loops.
//
//   forward           3x3 stride 1 with 32+ input channels (float32): Winograd F(2x2, 3x3), 16 GEMMs per block
//                     of 2x2 output tiles between the input and output transforms (forward_winograd).
//                     Other many-channel shapes: the indirect tile (conv_kernels.h), a pointer per tap and output
//                     pixel into x, the weights packed once per call, bias in the accumulators, the
//                     activation over each panel's rows while they are in cache. Few channels: the direct
//                     tile, a whole output row per call from a zero-padded copy of the input rows it reads,
//                     each (tap, channel) a fixed offset, relu in registers.
//   backward-weights  the pixels are cut into chunks fixed by the shape; each chunk sums
//                     col^T . dy over its tiles into its own partial dw (and bias sums), then the partials
//                     are added in chunk order: thread-count independent. Few channels: the direct dw tile
//                     over each output row's window instead of im2col + a thin GEMM. Winograd's shapes:
//                     F(3x3, 2x2) over the forward's tiles (backward_weights_winograd).
//   backward-data     per tile of patch rows, dcol = dy . w^T then col2im, which adds each patch back into
//                     the image in row order; whole images go to threads, and a thread's tiles run across
//                     its images. Stride 1 with a batch of 1-3, or where that conv runs on Winograd: a
//                     forward conv of dy with the kernel flipped and its in/out channels swapped (tiles over
//                     dx, no scatter).
//                     (The flipped conv on the indirect tile was slower on W2's second layer: 13x13x64 ->
//                     32 pads dy by 2 on each side, 40% more products than col2im's GEMM.)
//   A fused relu's mask (the backward kernels' `mask`) is applied to each tile of dy as it is read.
//   The data loops (im2col, col2im, the mask, the bias sums, Winograd's transforms) are compiled per ISA with the tiles
//   (conv_loops.inc); this file is built for the baseline ISA.
#include "conv/conv2d.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/cpu.h"
#include "common/parallel.h"
#include "common/scratch.h"
#include "conv/conv_kernels.h"
#include "conv/depthwise_kernels.h"
#include "gemm/gemm.h"

namespace pynn {
namespace {

template <class T>
const ConvKernel<T>& conv_kernel_for(Isa isa);

template <>
const ConvKernel<float>& conv_kernel_for<float>(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx512) return conv_kernel_avx512_f32;
  if (isa == Isa::avx2) return conv_kernel_avx2_f32;
#endif
  (void)isa;
  return conv_kernel_generic_f32;
}

template <>
const ConvKernel<double>& conv_kernel_for<double>(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx512) return conv_kernel_avx512_f64;
  if (isa == Isa::avx2) return conv_kernel_avx2_f64;
#endif
  (void)isa;
  return conv_kernel_generic_f64;
}

template <class T>
const DepthwiseKernels<T>& depthwise_kernels_for(Isa isa);

template <>
const DepthwiseKernels<float>& depthwise_kernels_for<float>(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx512) return depthwise_kernels_avx512_f32;
  if (isa == Isa::avx2) return depthwise_kernels_avx2_f32;
#endif
  (void)isa;
  return depthwise_kernels_generic_f32;
}

template <>
const DepthwiseKernels<double>& depthwise_kernels_for<double>(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx512) return depthwise_kernels_avx512_f64;
  if (isa == Isa::avx2) return depthwise_kernels_avx2_f64;
#endif
  (void)isa;
  return depthwise_kernels_generic_f64;
}

constexpr int kColSlot = 4;    // per-thread patch tile
constexpr int kDySlot = 5;     // per-thread tile of dy * (mask > 0)
constexpr int kPartialSlot = 6;  // the calling thread's per-call buffer shared by the team: packed weights, dW partials
constexpr int kFlippedSlot = 12;  // backward-data as a flipped conv: the calling thread's flipped weights and masked dy

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// dy[r0:r0+rows] masked by the relu output (mask > 0) into this thread's tile buffer, or dy itself without a mask.
template <class T>
const T* masked_rows(const ConvKernel<T>& kr, const T* dy, const T* mask, int64_t r0, int64_t rows, int64_t width) {
  if (!mask) return dy + r0 * width;
  const int64_t len = rows * width;
  T* out = static_cast<T*>(thread_scratch(kDySlot, sizeof(T) * std::max<int64_t>(1, len)));
  kr.relu_masked(dy + r0 * width, mask + r0 * width, len, out);
  return out;
}

struct Shape {
  int64_t cin_g, cout_g, kg, pixels, rows;
  explicit Shape(const Conv2dParams& p)
      : cin_g(p.in_c / p.groups),
        cout_g(p.out_c / p.groups),
        kg(p.kernel_h * p.kernel_w * (p.in_c / p.groups)),
        pixels(p.out_h * p.out_w),
        rows(p.batch * p.out_h * p.out_w) {}
};

// A 1x1, stride-1, unpadded conv whose output has the input's size: x itself is the patch matrix.
bool is_pointwise(const Conv2dParams& p) {
  return p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
         p.pad_left == 0 && p.out_h == p.in_h && p.out_w == p.in_w && p.groups == 1;
}

// Rows per tile: the patch tile (rows x kg) within `bytes`, a multiple of 12 (the GEMM's register tile
// height), at least 48, and small enough that a large problem has 8 tiles or more. Fixed by the shape.
int64_t tile_rows(int64_t rows, int64_t kg, int64_t elem, int64_t bytes) {
  int64_t t = bytes / std::max<int64_t>(1, kg * elem);
  t = std::min<int64_t>(t, std::max<int64_t>(48, ceil_div(rows, 8)));
  t = std::max<int64_t>(48, ceil_div(t, 12) * 12);
  return t;
}

// The weights packed per group and block of nr columns for the conv tiles: [group][block][tap * cin_g + c][nr],
// zero-padded, in the calling thread's scratch (shared by the team, read only).
template <class T>
const T* pack_weights(const Conv2dParams& p, const Shape& s, const T* w, int64_t nr) {
  const int64_t blocks = ceil_div(s.cout_g, nr);
  T* packed = static_cast<T*>(thread_scratch(kPartialSlot, sizeof(T) * std::max<int64_t>(1, p.groups * blocks * s.kg * nr)));
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t b = 0; b < blocks; ++b) {
      T* dst = packed + (g * blocks + b) * s.kg * nr;
      const int64_t o0 = g * s.cout_g + b * nr, cols = std::min(nr, s.cout_g - b * nr);
      for (int64_t r = 0; r < s.kg; ++r) {
        for (int64_t j = 0; j < cols; ++j) dst[r * nr + j] = w[r * p.out_c + o0 + j];
        for (int64_t j = cols; j < nr; ++j) dst[r * nr + j] = T(0);
      }
    }
  return packed;
}

// The zero-padded window of input rows that one output row (n, oh) reads, for the direct kernels: kernel_h
// rows of `span` pixels (input columns -pad_left .. span - pad_left - 1) x in_c, then `slack` zeros that a
// panel's pixels past the row's end may read (never stored). offsets[q]: where (tap, channel) q of a
// group's kernel starts in the window, in the packed weights' row order.
template <class T>
struct RowWindow {
  const Conv2dParams& p;
  int64_t span, row_len, size, iw_lo, iw_hi;
  std::vector<int64_t> offsets;

  RowWindow(const Conv2dParams& params, const Shape& s, int64_t slack_pixels) : p(params) {
    span = (p.out_w - 1) * p.stride_w + (p.kernel_w - 1) * p.dilation_w + 1;
    row_len = span * p.in_c;
    size = p.kernel_h * row_len + slack_pixels * p.stride_w * p.in_c;
    iw_lo = std::max<int64_t>(0, p.pad_left);
    iw_hi = std::min<int64_t>(span, p.in_w + p.pad_left);
    offsets.resize(static_cast<size_t>(s.kg));
    for (int64_t kh = 0; kh < p.kernel_h; ++kh)
      for (int64_t kw = 0; kw < p.kernel_w; ++kw)
        for (int64_t c = 0; c < s.cin_g; ++c)
          offsets[(kh * p.kernel_w + kw) * s.cin_g + c] = kh * row_len + kw * p.dilation_w * p.in_c + c;
  }

  // This thread's window buffer, zeroed (the slack stays zero).
  T* buffer() const {
    T* win = static_cast<T*>(thread_scratch(kColSlot, sizeof(T) * size));
    std::fill(win, win + size, T(0));
    return win;
  }

  // The window of output row r = n * out_h + oh.
  void fill(const T* x, int64_t r, T* win) const {
    const int64_t n = r / p.out_h, oh = r % p.out_h;
    for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
      T* dst = win + kh * row_len;
      const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
      if (ih < 0 || ih >= p.in_h || iw_hi <= iw_lo) {
        std::fill(dst, dst + row_len, T(0));
        continue;
      }
      std::fill(dst, dst + iw_lo * p.in_c, T(0));
      std::memcpy(dst + iw_lo * p.in_c, x + ((n * p.in_h + ih) * p.in_w + (iw_lo - p.pad_left)) * p.in_c,
                  sizeof(T) * (iw_hi - iw_lo) * p.in_c);
      std::fill(dst + iw_hi * p.in_c, dst + row_len, T(0));
    }
  }
};

// The direct convolution for few input channels: per output row (n, oh), the kernel_h input rows it reads
// are copied into a zero-padded window (kernel_h x span x in_c, a few hundred values), and the direct tile
// runs over panels of mr consecutive output pixels of that row, each tap a fixed offset into the window:
// no patch matrix, no pointer table, no bounds check in the tile. Rows go to threads; each output value is
// one tile call's, on any thread count.
template <class T>
void forward_direct(const Conv2dParams& p, const Shape& s, const T* x, const T* w, const T* bias, T* y,
                    const ActivationParams* act) {
  const ConvKernel<T>& kr = conv_kernel_for<T>(active_isa());
  const int64_t mr = kr.mr, nr = kr.nr;
  const int64_t blocks = ceil_div(s.cout_g, nr);
  const T* packed = pack_weights(p, s, w, nr);
  const RowWindow<T> rw(p, s, mr);
  // A plain relu is applied by the tile in registers; any other activation over each row after it.
  const bool relu = act && act->kind == Activation::relu && act->negative_slope == 0.0 && act->threshold == 0.0 &&
                    act->max_value < 0;
  const bool has_act = act && act->kind != Activation::linear && !relu;
  parallel_for(p.batch * p.out_h, 4, [&](int64_t r0, int64_t r1) {
    T* win = rw.buffer();
    for (int64_t r = r0; r < r1; ++r) {
      rw.fill(x, r, win);
      T* yrow = y + r * p.out_w * p.out_c;
      for (int64_t g = 0; g < p.groups; ++g)
        for (int64_t b = 0; b < blocks; ++b) {
          const int64_t j0 = b * nr;
          ConvTile<T> t;
          t.a = nullptr;
          t.taps = s.kg;
          t.kc = 1;
          t.base = win + g * s.cin_g;
          t.tap_off = rw.offsets.data();
          t.pix = p.stride_w * p.in_c;
          t.relu = relu;
          t.w = packed + (g * blocks + b) * s.kg * nr;
          t.ldw = nr;
          t.bias = bias ? bias + g * s.cout_g + j0 : nullptr;
          t.c = yrow + g * s.cout_g + j0;
          t.ldc = p.out_c;
          t.rows = static_cast<int>(p.out_w);
          t.cols = static_cast<int>(std::min<int64_t>(nr, s.cout_g - j0));
          kr.direct_tile(t);
        }
      if (has_act) activation_forward_serial(*act, yrow, yrow, p.out_w * p.out_c);
    }
  });
}

// The indirect convolution (conv_kernels.h): per panel of mr output pixels, a pointer per tap and pixel to
// its input channels (or to zeros outside the image), and the register tile reads them in place: no patch
// matrix is written. Panels go to threads; each output value is computed by one tile call, whatever the
// thread count.
template <class T>
void forward_indirect(const Conv2dParams& p, const Shape& s, const T* x, const T* w, const T* bias, T* y,
                      const ActivationParams* act) {
  const ConvKernel<T>& kr = conv_kernel_for<T>(active_isa());
  const int64_t mr = kr.mr, nr = kr.nr, taps = p.kernel_h * p.kernel_w;
  const int64_t panels = ceil_div(s.rows, mr), blocks = ceil_div(s.cout_g, nr);
  const T* packed = pack_weights(p, s, w, nr);
  const std::vector<T> zeros(static_cast<size_t>(std::max<int64_t>(1, s.cin_g)), T(0));
  const bool has_act = act && act->kind != Activation::linear;
  parallel_for(panels, 4, [&](int64_t p0, int64_t p1) {
    const T** ptrs = static_cast<const T**>(thread_scratch(kColSlot, sizeof(T*) * taps * mr));
    for (int64_t pn = p0; pn < p1; ++pn) {
      const int64_t r0 = pn * mr, rows = std::min(mr, s.rows - r0);
      for (int64_t g = 0; g < p.groups; ++g) {
        for (int64_t i = 0; i < mr; ++i) {
          const int64_t r = r0 + i;
          if (r >= s.rows) {
            for (int64_t t = 0; t < taps; ++t) ptrs[t * mr + i] = zeros.data();
            continue;
          }
          const int64_t n = r / s.pixels, oh = (r % s.pixels) / p.out_w, ow = r % p.out_w;
          const T* img = x + n * p.in_h * p.in_w * p.in_c + g * s.cin_g;
          for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
            const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
            for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
              const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
              const bool in = ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w;
              ptrs[(kh * p.kernel_w + kw) * mr + i] = in ? img + (ih * p.in_w + iw) * p.in_c : zeros.data();
            }
          }
        }
        for (int64_t b = 0; b < blocks; ++b) {
          const int64_t j0 = b * nr;
          ConvTile<T> t;
          t.a = ptrs;
          t.taps = taps;
          t.kc = s.cin_g;
          t.w = packed + (g * blocks + b) * s.kg * nr;
          t.ldw = nr;
          t.bias = bias ? bias + g * s.cout_g + j0 : nullptr;
          t.c = y + r0 * p.out_c + g * s.cout_g + j0;
          t.ldc = p.out_c;
          t.rows = static_cast<int>(rows);
          t.cols = static_cast<int>(std::min<int64_t>(nr, s.cout_g - j0));
          kr.tile(t);
        }
      }
      if (has_act) activation_forward_serial(*act, y + r0 * p.out_c, y + r0 * p.out_c, rows * p.out_c);
    }
  });
}

// Winograd F(2x2, 3x3) for a 3x3, stride-1, undilated, ungrouped conv (Lavin & Gray): per block of 2x2
// output tiles, the input patches transformed (V = B^T d B, 16 matrices of tiles x in_c), 16 GEMMs with the
// transformed weights (U = G g G^T, once per call, 16 matrices of in_c x out_c) and the output transform
// (A^T M A + bias, relu) stored into y: 2.25x fewer multiply-adds than the direct sums (16 per 4 outputs and
// channel pair against 36), each output a fixed sequence of operations whatever the thread count.
template <class T>
void forward_winograd(const Conv2dParams& p, const Shape& s, const T* x, const T* w, const T* bias, T* y,
                      const ActivationParams* act) {
  const ConvKernel<T>& kr = conv_kernel_for<T>(active_isa());
  const int64_t C = p.in_c, K = p.out_c;
  const int64_t tiles = p.batch * ((p.out_h + 1) / 2) * ((p.out_w + 1) / 2);
  T* u = static_cast<T*>(thread_scratch(kPartialSlot, sizeof(T) * 16 * C * K));
  kr.winograd_weights(w, C, K, u);
  const bool relu = act && act->kind == Activation::relu && act->negative_slope == 0.0 && act->threshold == 0.0 &&
                    act->max_value < 0;
  const bool has_act = act && act->kind != Activation::linear && !relu;
  // Tiles per block: the block's V and M (16 x tiles x (in_c + out_c) values) within about 256 KB, a multiple
  // of 12 rows (the GEMM tile's height), at least 36 (fewer make the 16 GEMM calls a block the cost: one
  // 13x13 image, 36 tiles: 160 -> 151 us in one block) and small enough for 8 blocks or more. Fixed by the shape.
  int64_t tb = (256 << 10) / static_cast<int64_t>(sizeof(T) * 16 * (C + K));
  tb = std::min<int64_t>(tb, std::max<int64_t>(36, ceil_div(tiles, 8)));
  tb = std::max<int64_t>(12, tb / 12 * 12);
  const int64_t blocks = ceil_div(tiles, tb);
  const std::vector<T> zeros(static_cast<size_t>(std::max<int64_t>(C, 64)), T(0));
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    T* v = static_cast<T*>(thread_scratch(kColSlot, sizeof(T) * 16 * tb * C));
    T* m = static_cast<T*>(thread_scratch(kDySlot, sizeof(T) * 16 * tb * K));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t t0 = b * tb, nt = std::min(tb, tiles - t0);
      kr.winograd_input(p, x, t0, nt, v, tb * C, zeros.data());
      for (int xi = 0; xi < 16; ++xi) {
        GemmParams q;
        q.m = nt;
        q.n = K;
        q.k = C;
        q.lda = C;
        q.ldb = K;
        q.ldc = K;
        gemm(q, v + xi * tb * C, u + xi * C * K, m + xi * tb * K);
      }
      kr.winograd_output(p, m, tb * K, t0, nt, bias, relu, y, zeros.data());
    }
  });
  if (has_act) activation_forward(*act, y, y, s.rows * K);
}

// The weight gradient by Winograd F(3x3, 2x2) for the shapes that run forward_winograd: the tiles (those of the
// forward) cut into chunks fixed by the shape; per block of a chunk's tiles the input transform V (as the
// forward's), dy's transform E = A dz A^T and 16 GEMMs M[xi] += V[xi]^T E[xi] into the chunk's partial; the
// partials added in chunk order, then dw = G^T M G per input / output channel pair (2.25x fewer multiply-adds
// than the direct sums). The bias sums come with dy's transform. W2's second layer, batch 64, one Zen 1
// thread: 9.6 -> 7.6 ms.
template <class T>
void backward_weights_winograd(const Conv2dParams& p, const T* x, const T* dy, const T* mask, T* dw, T* dbias,
                               bool accumulate) {
  const ConvKernel<T>& kr = conv_kernel_for<T>(active_isa());
  const int64_t C = p.in_c, K = p.out_c, msize = 16 * C * K;
  const int64_t tiles = p.batch * ((p.out_h + 1) / 2) * ((p.out_w + 1) / 2);
  // Chunks of at least 128 tiles, up to 16 (an even count when there are several, so two threads split them
  // evenly: W2's 2,304 tiles in 9 chunks left one thread 5 of them); blocks of equal size within a chunk.
  int64_t chunks = std::clamp<int64_t>(ceil_div(tiles, 128), 1, 16);
  if (chunks > 1) chunks += chunks % 2;
  const int64_t chunk_tiles = ceil_div(tiles, chunks);
  const int64_t tb_max = std::max<int64_t>(12, (384 << 10) / static_cast<int64_t>(sizeof(T) * 16 * (C + K)));
  const int64_t tb = ceil_div(chunk_tiles, ceil_div(chunk_tiles, tb_max));
  // Per chunk: the 16 partial products, then the bias sums (in T over the chunk).
  T* partial = static_cast<T*>(thread_scratch(kPartialSlot, sizeof(T) * chunks * (msize + K)));
  const std::vector<T> zeros(static_cast<size_t>(std::max(C, K)), T(0));
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    T* v = static_cast<T*>(thread_scratch(kColSlot, sizeof(T) * 16 * tb * C));
    T* e = static_cast<T*>(thread_scratch(kDySlot, sizeof(T) * 16 * tb * K));
    for (int64_t c = c0; c < c1; ++c) {
      T* m = partial + c * (msize + K);
      T* bsum = m + msize;
      std::fill(m, m + msize + K, T(0));
      const int64_t end = std::min(tiles, (c + 1) * chunk_tiles);
      for (int64_t t0 = c * chunk_tiles; t0 < end; t0 += tb) {
        const int64_t nt = std::min(tb, end - t0);
        kr.winograd_input(p, x, t0, nt, v, tb * C, zeros.data());
        kr.winograd_dy(p, dy, mask, t0, nt, e, tb * K, zeros.data(), bsum);
        for (int xi = 0; xi < 16; ++xi) {
          GemmParams q;
          q.m = C;
          q.n = K;
          q.k = nt;
          q.trans_a = true;
          q.lda = C;
          q.ldb = K;
          q.ldc = K;
          q.beta = 1.0;
          gemm(q, v + xi * tb * C, e + xi * tb * K, m + xi * C * K);
        }
      }
    }
  });
  parallel_for(msize + K, 4096, [&](int64_t i0, int64_t i1) {  // in chunk order, into chunk 0's
    for (int64_t c = 1; c < chunks; ++c) {
      const T* src = partial + c * (msize + K);
      for (int64_t i = i0; i < i1; ++i) partial[i] += src[i];
    }
  });
  const T* m = partial;
  for (int64_t ci = 0; ci < C; ++ci)
    for (int64_t k = 0; k < K; ++k) {
      T g[12];  // G^T M along the rows: 3 x 4
      for (int b = 0; b < 4; ++b) {
        const T m0 = m[(0 + b) * C * K + ci * K + k], m1 = m[(4 + b) * C * K + ci * K + k];
        const T m2 = m[(8 + b) * C * K + ci * K + k], m3 = m[(12 + b) * C * K + ci * K + k];
        g[b] = m0 + T(0.5) * (m1 + m2);
        g[4 + b] = T(0.5) * (m1 - m2);
        g[8 + b] = T(0.5) * (m1 + m2) + m3;
      }
      for (int a = 0; a < 3; ++a) {  // (G^T M) G along the columns
        const T* q = g + a * 4;
        const T w3[3] = {q[0] + T(0.5) * (q[1] + q[2]), T(0.5) * (q[1] - q[2]), T(0.5) * (q[1] + q[2]) + q[3]};
        for (int b = 0; b < 3; ++b) {
          T& out = dw[((a * 3 + b) * C + ci) * K + k];
          out = accumulate ? out + w3[b] : w3[b];
        }
      }
    }
  if (dbias)
    for (int64_t k = 0; k < K; ++k) dbias[k] = accumulate ? dbias[k] + m[msize + k] : m[msize + k];
}

// Winograd where it measured faster than the indirect tile (one Zen 1 thread, AVX2, relu, float32): 3x3,
// stride 1, undilated, ungrouped, 32 input channels or more (batch 64: 13x13x32 -> 64 valid, W2's second
// layer, 8.5 -> 6.9 ms; 28x28x32 -> 64 same 54.8 -> 35.3; 32x32x64 -> 64 68.8 -> 39.8; 16x16x128 -> 128
// 65.0 -> 35.9; 16 channels: 13x13x16 -> 64 4.65 -> 4.98, slower). Its error is below the direct sums'
// (2e-7 against 7e-7 of the largest output for W2's layer). float64 keeps the direct sums.
template <class T>
bool use_winograd(const Conv2dParams& p) {
  return sizeof(T) == sizeof(float) && p.kernel_h == 3 && p.kernel_w == 3 && p.stride_h == 1 && p.stride_w == 1 &&
         p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1 && p.in_c >= 32;
}

// The one rule choosing the algorithm for a shape, from one-thread timings (bench/README.md):
//   pointwise  1x1, stride 1, unpadded: the plain GEMM on x (it is its own patch matrix).
//   depthwise  one input channel per group (DepthwiseConv2D, SeparableConv2D's first half): the channel-
//              vectorised loops of depthwise_kernels.h (a GEMM per group had k = taps and n = the multiplier).
//   indirect   kIndirectMinChannels input channels per group or more: the indirect tile for the forward
//              (3x3 on 13x13, batch 64: 32 -> 64 channels 1.94 ms against im2col's 2.39; 16 -> 64 1.10
//              against 1.24; level at 8); the backward passes stay on im2col / col2im + the GEMM.
//   direct     fewer channels: the forward on the direct tile over padded row windows (AVX2 Zen, one
//              thread, batch 64, relu: 1 -> 32 3x3 on 28x28 1.4 ms against 2.5 for im2col + GEMM; 3 -> 32
//              on 32x32 3.4 against 5.2; 3 -> 64 7x7 stride 2 on 224x224, batch 16, 106 against 123); the
//              backward passes on im2col / col2im + the GEMM (the `im2col` value below).
enum class Algorithm { pointwise, depthwise, indirect, im2col };

constexpr int64_t kIndirectMinChannels = 8;

Algorithm algorithm_for(const Conv2dParams& p, const Shape& s) {
  if (is_pointwise(p)) return Algorithm::pointwise;
  if (p.groups > 1 && s.cin_g == 1) return Algorithm::depthwise;
  return s.cin_g >= kIndirectMinChannels ? Algorithm::indirect : Algorithm::im2col;
}

// Depthwise: output rows (n, oh) go to threads; the activation runs over each row range while in cache.
template <class T>
void forward_depthwise(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y,
                       const ActivationParams* act) {
  const DepthwiseKernels<T>& k = depthwise_kernels_for<T>(active_isa());
  const int64_t row = p.out_w * p.out_c;
  parallel_for(p.batch * p.out_h, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r += 8) {
      const int64_t e = std::min(r1, r + 8);
      k.forward_rows(p, x, w, bias, y, r, e);
      if (act && act->kind != Activation::linear)
        activation_forward_serial(*act, y + r * row, y + r * row, (e - r) * row);
    }
  });
}

// The depthwise weight gradient: output rows cut into chunks fixed by the shape, each summed by one thread
// into its own partial (taps * out_c weights, then out_c bias sums), the partials added in chunk order.
template <class T>
void backward_weights_depthwise(const Conv2dParams& p, const T* x, const T* dy, const T* mask, T* dw, T* dbias,
                                bool accumulate) {
  const DepthwiseKernels<T>& k = depthwise_kernels_for<T>(active_isa());
  const int64_t rows = p.batch * p.out_h, wsize = p.kernel_h * p.kernel_w * p.out_c, size = wsize + p.out_c;
  const int64_t chunks = std::clamp<int64_t>(ceil_div(rows * p.out_w, 512), 1, 16);
  const int64_t chunk_rows = ceil_div(rows, chunks);
  T* partial = static_cast<T*>(thread_scratch(kPartialSlot, sizeof(T) * chunks * size));
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T* pc = partial + c * size;
      std::fill(pc, pc + size, T(0));
      k.backward_weights_rows(p, x, dy, mask, pc, dbias ? pc + wsize : nullptr, c * chunk_rows,
                              std::min(rows, (c + 1) * chunk_rows));
    }
  });
  for (int64_t i = 0; i < size; ++i) {
    if (i >= wsize && !dbias) break;
    T v = T(0);
    for (int64_t c = 0; c < chunks; ++c) v += partial[c * size + i];
    T* out = i < wsize ? dw + i : dbias + (i - wsize);
    *out = accumulate ? *out + v : v;
  }
}

template <class T>
void forward_impl(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, const ActivationParams* act) {
  const Shape s(p);
  if (s.rows <= 0 || p.out_c <= 0) return;
  const Algorithm algo = algorithm_for(p, s);
  if (algo == Algorithm::pointwise) {
    GemmParams q;
    q.m = s.rows;
    q.n = p.out_c;
    q.k = p.in_c;
    q.lda = p.in_c;
    q.ldb = p.out_c;
    q.ldc = p.out_c;
    gemm(q, x, w, y, GemmEpilogue<T>{bias, nullptr});
    if (act && act->kind != Activation::linear) activation_forward(*act, y, y, s.rows * p.out_c);
    return;
  }
  if (algo == Algorithm::depthwise) {
    forward_depthwise(p, x, w, bias, y, act);
    return;
  }
  if (algo == Algorithm::indirect) {
    if (use_winograd<T>(p))
      forward_winograd(p, s, x, w, bias, y, act);
    else
      forward_indirect(p, s, x, w, bias, y, act);
    return;
  }
  forward_direct(p, s, x, w, bias, y, act);
}

// The weight gradient for few input channels: output rows (n, oh) cut into chunks fixed by the shape, each
// summed by one thread into its own partial dw (and bias sums) row by row, from the row's window and its dz
// (dy masked by the fused relu), by the direct dw tile; the partials added in chunk order.
template <class T>
void backward_weights_direct(const Conv2dParams& p, const Shape& s, const T* x, const T* dy, const T* mask, T* dw,
                             T* dbias, bool accumulate) {
  const ConvKernel<T>& kr = conv_kernel_for<T>(active_isa());
  const int64_t wsize = s.kg * p.out_c, bsize = dbias ? p.out_c : 0;
  const int64_t rows = p.batch * p.out_h;
  const int64_t chunks = std::clamp<int64_t>(ceil_div(s.rows, 1024), 1, 16);
  const int64_t chunk_rows = ceil_div(rows, chunks);
  const RowWindow<T> rw(p, s, 0);
  double* partial_b = static_cast<double*>(
      thread_scratch(kPartialSlot, sizeof(double) * chunks * bsize + sizeof(T) * chunks * wsize + 64));
  T* partial_w = reinterpret_cast<T*>(partial_b + chunks * bsize);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    T* win = rw.buffer();
    for (int64_t c = c0; c < c1; ++c) {
      T* pw = partial_w + c * wsize;
      double* pb = partial_b + c * bsize;
      std::fill(pw, pw + wsize, T(0));
      std::fill(pb, pb + bsize, 0.0);
      const int64_t end = std::min(rows, (c + 1) * chunk_rows);
      for (int64_t r = c * chunk_rows; r < end; ++r) {
        rw.fill(x, r, win);
        const T* d = masked_rows(kr, dy, mask, r * p.out_w, p.out_w, p.out_c);
        for (int64_t g = 0; g < p.groups; ++g) {
          ConvDwTile<T> t;
          t.base = win + g * s.cin_g;
          t.tap_off = rw.offsets.data();
          t.taps = s.kg;
          t.pix = p.stride_w * p.in_c;
          t.dz = d + g * s.cout_g;
          t.ldd = p.out_c;
          t.rows = p.out_w;
          t.dw = pw + g * s.cout_g;
          t.ldw = p.out_c;
          t.cols = static_cast<int>(s.cout_g);
          kr.direct_dw(t);
        }
        kr.add_column_sums(d, p.out_w, p.out_c, bsize, pb);
      }
    }
  });
  for (int64_t i = 0; i < wsize; ++i) {
    T v = accumulate ? dw[i] : T(0);
    for (int64_t c = 0; c < chunks; ++c) v += partial_w[c * wsize + i];
    dw[i] = v;
  }
  for (int64_t o = 0; o < bsize; ++o) {
    double v = 0;
    for (int64_t c = 0; c < chunks; ++c) v += partial_b[c * bsize + o];
    dbias[o] = static_cast<T>(accumulate ? dbias[o] + v : v);
  }
}

template <class T>
void backward_weights_impl(const Conv2dParams& p, const T* x, const T* dy, const T* mask, T* dw, T* dbias,
                           bool accumulate) {
  const Shape s(p);
  const int64_t wsize = s.kg * p.out_c;
  if (wsize <= 0 && !dbias) return;
  const Algorithm algo = algorithm_for(p, s);
  if (algo == Algorithm::depthwise) {
    backward_weights_depthwise(p, x, dy, mask, dw, dbias, accumulate);
    return;
  }
  if (algo == Algorithm::im2col) {
    backward_weights_direct(p, s, x, dy, mask, dw, dbias, accumulate);
    return;
  }
  if (use_winograd<T>(p)) {
    backward_weights_winograd(p, x, dy, mask, dw, dbias, accumulate);
    return;
  }
  // Chunks of pixels fixed by the shape alone: each is summed by one thread into its own partials.
  const ConvKernel<T>& kr = conv_kernel_for<T>(active_isa());
  const int64_t chunks = std::clamp<int64_t>(ceil_div(s.rows, 1024), 1, 16);
  const int64_t chunk_rows = std::max<int64_t>(1, ceil_div(s.rows, chunks));
  const int64_t bsize = dbias ? p.out_c : 0;
  // The partials live in the calling thread's scratch (no allocation per call): doubles first, then T.
  double* partial_b = static_cast<double*>(
      thread_scratch(kPartialSlot, sizeof(double) * chunks * bsize + sizeof(T) * chunks * wsize + 64));
  T* partial_w = reinterpret_cast<T*>(partial_b + chunks * bsize);
  const bool pointwise = algo == Algorithm::pointwise;
  const int64_t tr = std::max<int64_t>(12, std::min<int64_t>(chunk_rows, (192 << 10) / std::max<int64_t>(1, s.kg * sizeof(T))) / 12 * 12);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    T* col = pointwise ? nullptr : static_cast<T*>(thread_scratch(kColSlot, sizeof(T) * std::max<int64_t>(1, tr * s.kg)));
    for (int64_t c = c0; c < c1; ++c) {
      T* pw = partial_w + c * wsize;
      double* pb = partial_b + c * bsize;
      std::fill(pw, pw + wsize, T(0));
      std::fill(pb, pb + bsize, 0.0);
      const int64_t end = std::min(s.rows, (c + 1) * chunk_rows);
      for (int64_t r0 = c * chunk_rows; r0 < end; r0 += tr) {
        const int64_t rows = std::min(tr, end - r0);
        const T* d = masked_rows(kr, dy, mask, r0, rows, p.out_c);
        for (int64_t g = 0; g < p.groups && wsize > 0; ++g) {
          const T* a = pointwise ? x + r0 * p.in_c : col;
          if (!pointwise) kr.im2col(p, x, g, r0, rows, col);
          GemmParams q;
          q.m = s.kg;
          q.n = s.cout_g;
          q.k = rows;
          q.trans_a = true;
          q.lda = pointwise ? p.in_c : s.kg;
          q.ldb = p.out_c;
          q.ldc = p.out_c;
          q.beta = 1.0;
          gemm(q, a, d + g * s.cout_g, pw + g * s.cout_g);
        }
        kr.add_column_sums(d, rows, p.out_c, bsize, pb);
      }
    }
  });
  parallel_for(wsize, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T v = accumulate ? dw[i] : T(0);
      for (int64_t c = 0; c < chunks; ++c) v += partial_w[c * wsize + i];
      dw[i] = v;
    }
  });
  for (int64_t o = 0; o < bsize; ++o) {
    double v = 0;
    for (int64_t c = 0; c < chunks; ++c) v += partial_b[c * bsize + o];
    dbias[o] = static_cast<T>(accumulate ? dbias[o] + v : v);
  }
}

template <class T>
void backward_data_impl(const Conv2dParams& p, const T* dy, const T* mask, const T* w, T* dx) {
  const Shape s(p);
  const int64_t xsize = p.batch * p.in_h * p.in_w * p.in_c;
  if (xsize <= 0) return;
  if (algorithm_for(p, s) == Algorithm::depthwise) {
    const DepthwiseKernels<T>& k = depthwise_kernels_for<T>(active_isa());
    parallel_for(p.batch * p.in_h, 1, [&](int64_t r0, int64_t r1) { k.backward_data_rows(p, dy, mask, w, dx, r0, r1); });
    return;
  }
  // Images go to threads on the GEMM + col2im path; a batch too small to share runs as the flipped-kernel
  // conv instead, whose tiles split any image (measured on W2's 13x13x32 layer, batch 64: col2im 2.6 ms,
  // flipped 3.4 ms: its patch matrix is kh*kw*out_c wide), and so does a flipped conv that Winograd runs
  // (W2's second layer, batch 64, one Zen 1 thread: col2im 10.2 ms, flipped on Winograd 8.1). The choice
  // depends on the shape alone.
  Conv2dParams q = p;  // dx = conv(dy, flip(w) with in/out channels swapped)
  q.in_h = p.out_h;
  q.in_w = p.out_w;
  q.in_c = p.out_c;
  q.out_h = p.in_h;
  q.out_w = p.in_w;
  q.out_c = p.in_c;
  q.pad_top = (p.kernel_h - 1) * p.dilation_h - p.pad_top;
  q.pad_left = (p.kernel_w - 1) * p.dilation_w - p.pad_left;
  if ((p.stride_h == 1 && p.stride_w == 1 && p.batch < 4) || use_winograd<T>(q)) {
    // w'[a, b, o, g * cin_g + c] = w[kh-1-a, kw-1-b, c, g * cout_g + o], then dy masked by the fused relu, in
    // the calling thread's slot of its own (the forward's slots are in use by its workers, this thread too).
    const int64_t taps = p.kernel_h * p.kernel_w, wsize = taps * s.cout_g * p.in_c, dsize = mask ? s.rows * p.out_c : 0;
    T* wf = static_cast<T*>(thread_scratch(kFlippedSlot, sizeof(T) * (wsize + dsize + 1)));
    for (int64_t t = 0; t < taps; ++t) {
      const T* src = w + (taps - 1 - t) * s.cin_g * p.out_c;
      T* dst = wf + t * s.cout_g * p.in_c;
      for (int64_t g = 0; g < p.groups; ++g)
        for (int64_t c = 0; c < s.cin_g; ++c)
          for (int64_t o = 0; o < s.cout_g; ++o)
            dst[o * p.in_c + g * s.cin_g + c] = src[c * p.out_c + g * s.cout_g + o];
    }
    T* masked = wf + wsize;
    if (mask) {
      const ConvKernel<T>& kr = conv_kernel_for<T>(active_isa());
      parallel_for(s.rows, 4096, [&](int64_t r0, int64_t r1) {
        kr.relu_masked(dy + r0 * p.out_c, mask + r0 * p.out_c, (r1 - r0) * p.out_c, masked + r0 * p.out_c);
      });
    }
    forward_impl<T>(q, mask ? masked : dy, wf, nullptr, dx, nullptr);
    return;
  }
  // w^T per group, [cout_g, kg] row-major, transposed once here so that every tile's GEMM reads it in place.
  std::vector<T> wt(static_cast<size_t>(p.groups * s.cout_g * s.kg));
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t i = 0; i < s.kg; ++i)
      for (int64_t o = 0; o < s.cout_g; ++o) wt[(g * s.cout_g + o) * s.kg + i] = w[i * p.out_c + g * s.cout_g + o];
  // Each thread owns whole images and runs over their patch rows in tiles that may span images, so that
  // few tiles are ragged; every dx value still gets its patches' terms in row order, on any thread count.
  const ConvKernel<T>& kr = conv_kernel_for<T>(active_isa());
  const int64_t image = p.in_h * p.in_w * p.in_c;
  const int64_t tr = tile_rows(s.rows, s.kg, sizeof(T), 96 << 10);
  parallel_for(p.batch, 1, [&](int64_t n0, int64_t n1) {
    std::fill(dx + n0 * image, dx + n1 * image, T(0));
    if (s.kg <= 0 || s.cout_g <= 0) return;
    T* col = static_cast<T*>(thread_scratch(kColSlot, sizeof(T) * std::max<int64_t>(1, tr * s.kg)));
    const int64_t end = n1 * s.pixels;
    for (int64_t r0 = n0 * s.pixels; r0 < end; r0 += tr) {
      const int64_t rows = std::min(tr, end - r0);
      const T* d = masked_rows(kr, dy, mask, r0, rows, p.out_c);
      for (int64_t g = 0; g < p.groups; ++g) {
        GemmParams q;
        q.m = rows;
        q.n = s.kg;
        q.k = s.cout_g;
        q.lda = p.out_c;
        q.ldb = s.kg;
        q.ldc = s.kg;
        gemm(q, d + g * s.cout_g, wt.data() + g * s.cout_g * s.kg, col);
        kr.col2im_add(p, col, g, r0, rows, dx);
      }
    }
  });
}

// ------------------------------------------------------------------ reference loops

template <class Body>
void for_each_tap(const Conv2dParams& p, int64_t oh, int64_t ow, Body&& body) {
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
    if (ih < 0 || ih >= p.in_h) continue;
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
      if (iw < 0 || iw >= p.in_w) continue;
      body(kh, kw, ih, iw);
    }
  }
}

template <class T>
void forward_reference_impl(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y,
                            const ActivationParams* act) {
  const Shape s(p);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        T* out = y + ((n * p.out_h + oh) * p.out_w + ow) * p.out_c;
        for (int64_t o = 0; o < p.out_c; ++o) {
          const int64_t g = o / s.cout_g;
          double sum = bias ? bias[o] : 0.0;
          for_each_tap(p, oh, ow, [&](int64_t kh, int64_t kw, int64_t ih, int64_t iw) {
            const T* xi = x + ((n * p.in_h + ih) * p.in_w + iw) * p.in_c + g * s.cin_g;
            const T* wk = w + (kh * p.kernel_w + kw) * s.cin_g * p.out_c + o;
            for (int64_t c = 0; c < s.cin_g; ++c) sum += double(xi[c]) * double(wk[c * p.out_c]);
          });
          out[o] = static_cast<T>(sum);
        }
        if (act) activation_forward_serial(*act, out, out, p.out_c);
      }
}

template <class T>
void backward_data_reference_impl(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const Shape s(p);
  std::vector<double> acc(static_cast<size_t>(p.batch * p.in_h * p.in_w * p.in_c), 0.0);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const T* d = dy + ((n * p.out_h + oh) * p.out_w + ow) * p.out_c;
        for_each_tap(p, oh, ow, [&](int64_t kh, int64_t kw, int64_t ih, int64_t iw) {
          double* xi = acc.data() + ((n * p.in_h + ih) * p.in_w + iw) * p.in_c;
          const T* wk = w + (kh * p.kernel_w + kw) * s.cin_g * p.out_c;
          for (int64_t o = 0; o < p.out_c; ++o) {
            const int64_t g = o / s.cout_g;
            for (int64_t c = 0; c < s.cin_g; ++c) xi[g * s.cin_g + c] += double(d[o]) * double(wk[c * p.out_c + o]);
          }
        });
      }
  for (size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<T>(acc[i]);
}

template <class T>
void backward_weights_reference_impl(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* dbias,
                                     bool accumulate) {
  const Shape s(p);
  std::vector<double> acc(static_cast<size_t>(s.kg * p.out_c), 0.0), accb(static_cast<size_t>(p.out_c), 0.0);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const T* d = dy + ((n * p.out_h + oh) * p.out_w + ow) * p.out_c;
        for (int64_t o = 0; o < p.out_c; ++o) accb[o] += d[o];
        for_each_tap(p, oh, ow, [&](int64_t kh, int64_t kw, int64_t ih, int64_t iw) {
          const T* xi = x + ((n * p.in_h + ih) * p.in_w + iw) * p.in_c;
          double* wk = acc.data() + (kh * p.kernel_w + kw) * s.cin_g * p.out_c;
          for (int64_t o = 0; o < p.out_c; ++o) {
            const int64_t g = o / s.cout_g;
            for (int64_t c = 0; c < s.cin_g; ++c) wk[c * p.out_c + o] += double(xi[g * s.cin_g + c]) * double(d[o]);
          }
        });
      }
  for (size_t i = 0; i < acc.size(); ++i) dw[i] = static_cast<T>(accumulate ? dw[i] + acc[i] : acc[i]);
  if (dbias)
    for (int64_t o = 0; o < p.out_c; ++o) dbias[o] = static_cast<T>(accumulate ? dbias[o] + accb[o] : accb[o]);
}

}  // namespace

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
                    const ActivationParams* activation) {
  forward_impl(p, x, w, bias, y, activation);
}
void conv2d_forward(const Conv2dParams& p, const double* x, const double* w, const double* bias, double* y,
                    const ActivationParams* activation) {
  forward_impl(p, x, w, bias, y, activation);
}
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx, const float* mask) {
  backward_data_impl(p, dy, mask, w, dx);
}
void conv2d_backward_data(const Conv2dParams& p, const double* dy, const double* w, double* dx, const double* mask) {
  backward_data_impl(p, dy, mask, w, dx);
}
void conv2d_backward_weights(const Conv2dParams& p, const float* x, const float* dy, float* dw, float* dbias,
                             bool accumulate, const float* mask) {
  backward_weights_impl(p, x, dy, mask, dw, dbias, accumulate);
}
void conv2d_backward_weights(const Conv2dParams& p, const double* x, const double* dy, double* dw, double* dbias,
                             bool accumulate, const double* mask) {
  backward_weights_impl(p, x, dy, mask, dw, dbias, accumulate);
}

void conv2d_forward_reference(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
                              const ActivationParams* activation) {
  forward_reference_impl(p, x, w, bias, y, activation);
}
void conv2d_forward_reference(const Conv2dParams& p, const double* x, const double* w, const double* bias,
                              double* y, const ActivationParams* activation) {
  forward_reference_impl(p, x, w, bias, y, activation);
}
void conv2d_backward_data_reference(const Conv2dParams& p, const float* dy, const float* w, float* dx) {
  backward_data_reference_impl(p, dy, w, dx);
}
void conv2d_backward_data_reference(const Conv2dParams& p, const double* dy, const double* w, double* dx) {
  backward_data_reference_impl(p, dy, w, dx);
}
void conv2d_backward_weights_reference(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                                       float* dbias, bool accumulate) {
  backward_weights_reference_impl(p, x, dy, dw, dbias, accumulate);
}
void conv2d_backward_weights_reference(const Conv2dParams& p, const double* x, const double* dy, double* dw,
                                       double* dbias, bool accumulate) {
  backward_weights_reference_impl(p, x, dy, dw, dbias, accumulate);
}

}  // namespace pynn
