// The portable GEMM driver: BLIS's five loops around a per-ISA register tile (gemm_kernels.h).
//
//   for jc in n, step NC            (columns of C and B)
//     for pc in k, step KC          (never split across threads: fixes the order of every sum)
//       pack B[pc:pc+KC, jc:jc+NC] into NR-wide panels (shared by the team), unless B is read in place
//       for ic in this thread's rows, step MC
//         pack A[ic:ic+MC, pc:pc+KC] into MR-tall panels (private to the thread, stays in its L2)
//         for jr in this thread's NR panels:  for ir in MR panels:  tile kernel
//
// Small problems whose B is not transposed skip packing B: the kernel streams B's rows in place, which is
// what a batch-32 training step needs (packing a 784x128 weight matrix would cost as much as the multiply).
// Threads split C into a grid of row blocks x column panels; how a C entry is summed depends only on the
// shape, so results are bit-identical for any thread count.
#include "gemm/gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "common/parallel.h"
#include "common/scratch.h"
#include "gemm/gemm_kernels.h"

namespace pynn {
namespace {

template <class T>
const GemmKernel<T>& kernel_for(Isa isa);

template <>
const GemmKernel<float>& kernel_for<float>(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx512) return gemm_kernel_avx512_f32;
  if (isa == Isa::avx2) return gemm_kernel_avx2_f32;
#endif
  (void)isa;
  return gemm_kernel_generic_f32;
}

template <>
const GemmKernel<double>& kernel_for<double>(Isa isa) {
#if defined(PYNN_X86)
  if (isa == Isa::avx512) return gemm_kernel_avx512_f64;
  if (isa == Isa::avx2) return gemm_kernel_avx2_f64;
#endif
  (void)isa;
  return gemm_kernel_generic_f64;
}

constexpr int kMaxMR = 16;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Pack rows [i0, i0+rows) x columns [k0, k0+kc) of op(A) into MR-tall panels: panel p holds, for each k,
// its MR row values side by side. Rows past the end are zero.
template <class T>
void pack_a(const T* a, int64_t lda, bool trans, int64_t i0, int64_t rows, int64_t k0, int64_t kc, int mr,
            T* dst) {
  for (int64_t p = 0; p < rows; p += mr) {
    const int r = static_cast<int>(std::min<int64_t>(mr, rows - p));
    T* d = dst + p * kc;
    if (!trans) {
      // Row pointers first, then k-major: the writes go out in order, the reads are r streams.
      const T* src[kMaxMR];
      for (int i = 0; i < r; ++i) src[i] = a + (i0 + p + i) * lda + k0;
      for (int64_t kk = 0; kk < kc; ++kk)
        for (int i = 0; i < r; ++i) d[kk * mr + i] = src[i][kk];
    } else {
      for (int64_t kk = 0; kk < kc; ++kk) {
        const T* src = a + (k0 + kk) * lda + i0 + p;
        for (int i = 0; i < r; ++i) d[kk * mr + i] = src[i];
      }
    }
    if (r < mr)
      for (int64_t kk = 0; kk < kc; ++kk)
        for (int i = r; i < mr; ++i) d[kk * mr + i] = T(0);
  }
}

// Pack columns [j0, j0+cols) x rows [k0, k0+kc) of op(B) into one NR-wide panel (zero past the end).
template <class T>
void pack_b_panel(const T* b, int64_t ldb, bool trans, int64_t j0, int cols, int64_t k0, int64_t kc, int nr,
                  T* dst) {
  if (!trans) {
    // A full 128-byte panel row (AVX-512's 32 floats / 16 doubles) is copied inline: a libc memcpy call
    // per row was 7% of training W4's LSTM, whose weight gradients pack 3200 x 1024 gate gradients.
    if (cols == nr && nr * sizeof(T) == 128) {
      constexpr int n = 128 / sizeof(T);
      for (int64_t kk = 0; kk < kc; ++kk) {
        const T* src = b + (k0 + kk) * ldb + j0;
        T* d = dst + kk * n;
        for (int j = 0; j < n; ++j) d[j] = src[j];
      }
      return;
    }
    for (int64_t kk = 0; kk < kc; ++kk) {
      const T* src = b + (k0 + kk) * ldb + j0;
      T* d = dst + kk * nr;
      std::memcpy(d, src, sizeof(T) * cols);
      for (int j = cols; j < nr; ++j) d[j] = T(0);
    }
  } else {
    // A transpose, in 8 x 8 blocks that stay in registers / L1: row-by-row reads of 8 columns of B, then
    // 8 contiguous writes per k (column-by-column or row-by-row alone is bound by strided accesses).
    constexpr int kBlock = 8;
    int64_t kk0 = 0;
    for (; kk0 + kBlock <= kc; kk0 += kBlock) {
      for (int jb = 0; jb < cols; jb += kBlock) {
        const int jn = cols - jb < kBlock ? cols - jb : kBlock;
        T tile[kBlock][kBlock];
        for (int j = 0; j < jn; ++j) {
          const T* src = b + (j0 + jb + j) * ldb + k0 + kk0;
          for (int kk = 0; kk < kBlock; ++kk) tile[kk][j] = src[kk];
        }
        for (int kk = 0; kk < kBlock; ++kk)
          for (int j = 0; j < jn; ++j) dst[(kk0 + kk) * nr + jb + j] = tile[kk][j];
      }
    }
    for (; kk0 < kc; ++kk0)
      for (int j = 0; j < cols; ++j) dst[kk0 * nr + j] = b[(j0 + j) * ldb + k0 + kk0];
    for (int64_t kk = 0; kk < kc; ++kk)
      for (int j = cols; j < nr; ++j) dst[kk * nr + j] = T(0);
  }
}

// C = beta * C (+ bias, activation): the whole product when k == 0 or alpha == 0.
template <class T>
void scale_only(const GemmParams& p, T* c, const GemmEpilogue<T>& e) {
  const T beta = static_cast<T>(p.beta);
  parallel_for(p.m, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, p.n)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      T* row = c + i * p.ldc;
      for (int64_t j = 0; j < p.n; ++j) {
        T v = beta == T(0) ? T(0) : beta * row[j];
        if (e.bias) v += e.bias[j];
        row[j] = v;
      }
      if (e.activation) activation_forward_serial(*e.activation, row, row, p.n);
    }
  });
}

// Below this many multiply-adds a second thread costs more to wake than it saves.
constexpr int64_t kMinWorkPerThread = 1 << 15;
constexpr int64_t kMinPackedWorkPerThread = 1 << 19;

// m <= kGemmSmallRows (one sample's inference): no packing and no k blocking, A and B read in place. The
// threads split the columns at cache-line boundaries of C; each entry is summed over k in one order, so
// the split does not change any result.
template <class T>
void small_rows(const GemmKernel<T>& kr, const GemmParams& p, const T* a, const T* b, T* c,
                const GemmEpilogue<T>& e) {
  const int64_t m = p.m, n = p.n;
  const int64_t line = 64 / static_cast<int64_t>(sizeof(T));
  const int64_t lines = ceil_div(n, line);
  // Each thread streams whole 512-byte stretches of B's rows at least: with less (two threads on 128 float
  // columns) the strided halves read slower than one thread reading the rows whole (1x784x128: 7.1 us on
  // two threads, 4.8 us on one).
  constexpr int64_t kMinLinesPerThread = 8;
  const int threads = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>({get_num_threads(), m * n * p.k / kMinWorkPerThread, lines / kMinLinesPerThread})));
  const bool has_act = e.activation && e.activation->kind != Activation::linear;
  parallel_region(threads, [&](int tid, int nt) {
    const int64_t col0 = std::min(n, lines * tid / nt * line), col1 = std::min(n, lines * (tid + 1) / nt * line);
    if (col1 <= col0) return;
    GemmTile<T> t;
    t.k = p.k;
    t.a = a;
    t.a_row = p.trans_a ? 1 : p.lda;
    t.a_k = p.trans_a ? p.lda : 1;
    t.a_panel = 0;
    t.b_stride = p.ldb;
    t.ldc = p.ldc;
    t.rows = m;
    t.alpha = static_cast<T>(p.alpha);
    t.beta = static_cast<T>(p.beta);
    constexpr int64_t kChunk = int64_t{1} << 24;  // GemmTile counts columns in an int
    for (int64_t j = col0; j < col1; j += kChunk) {
      t.b = b + j;
      t.b_cols = t.cols = static_cast<int>(std::min(kChunk, col1 - j));
      t.c = c + j;
      t.bias = e.bias ? e.bias + j : nullptr;
      kr.rows(t);
    }
    if (has_act)
      for (int64_t i = 0; i < m; ++i)
        activation_forward_serial(*e.activation, c + i * p.ldc + col0, c + i * p.ldc + col0, col1 - col0);
  });
}

template <class T>
void gemm_impl(const GemmParams& p, const T* a, const T* b, T* c, const GemmEpilogue<T>& e);

// dst[i * ldd + j] = src[j * lds + i] for i < rows and j0 <= j < j1, in 16 x 16 blocks whose 16 source
// rows stay in L1, each cut into 4 x 4 float blocks transposed in SSE registers where the CPU has them.
// (Element by element, row after row, a 1600 x 64 source took 67 us on two threads; every read missed L1.)
constexpr int64_t kTransposeBlock = 16;

template <class T>
void transpose_columns(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows, int64_t j0, int64_t j1) {
  for (int64_t jb = j0; jb < j1; jb += kTransposeBlock) {
    const int64_t je = std::min(j1, jb + kTransposeBlock);
    for (int64_t ib = 0; ib < rows; ib += kTransposeBlock) {
      const int64_t ie = std::min(rows, ib + kTransposeBlock);
      int64_t i = ib;
#if defined(__SSE2__)
      if constexpr (std::is_same_v<T, float>) {
        for (; i + 4 <= ie; i += 4) {
          int64_t j = jb;
          for (; j + 4 <= je; j += 4) {
            __m128 r0 = _mm_loadu_ps(src + j * lds + i), r1 = _mm_loadu_ps(src + (j + 1) * lds + i);
            __m128 r2 = _mm_loadu_ps(src + (j + 2) * lds + i), r3 = _mm_loadu_ps(src + (j + 3) * lds + i);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(dst + i * ldd + j, r0);
            _mm_storeu_ps(dst + (i + 1) * ldd + j, r1);
            _mm_storeu_ps(dst + (i + 2) * ldd + j, r2);
            _mm_storeu_ps(dst + (i + 3) * ldd + j, r3);
          }
          for (; j < je; ++j)
            for (int64_t ii = i; ii < i + 4; ++ii) dst[ii * ldd + j] = src[j * lds + ii];
        }
      }
#endif
      for (; i < ie; ++i)
        for (int64_t j = jb; j < je; ++j) dst[i * ldd + j] = src[j * lds + i];
    }
  }
}

// How many k chunks split_k_gemm cuts a product into (1: it does not apply). A function of the shape only.
// Two kinds of product are split over k, each chunk summed by one thread into its own C:
// - short, deep products whose B is read in place and is larger than a core's share of L2 would like (a
//   Dense layer's 784 x 128 weights under a batch of 32): split over rows, every thread reads all of B;
//   split over k, each reads and keeps its own rows of B, which are also the rows of the weight gradient
//   (X^T dY, split over its rows) and of the optimizer's update (split by element) that thread handles, so
//   a training step's weights stay in the caches of the cores that use them;
// - deep products with a small C, k at least 4x both m and n (a weight gradient X^T dY over 4096 tokens):
//   split over rows, the team packs each k block of B together and meets at two barriers per block (32
//   for k = 4096); split over k, every chunk packs its own and nothing waits until the final sum.
template <class T>
int64_t split_k_chunks(const GemmParams& p, int mr) {
  if (!p.split_k || p.trans_b || p.m <= kGemmSmallRows || p.k < 768) return 1;
  if (p.m <= 8 * mr) {
    if (p.k * p.n * static_cast<int64_t>(sizeof(T)) < (256 << 10)) return 1;
    return p.k >= 1536 ? 4 : 2;
  }
  if (p.k >= 2048 && p.k >= 4 * std::max(p.m, p.n) && p.m * p.n <= (1 << 20)) return p.k >= 8192 ? 4 : 2;
  return 1;
}

// C = act(beta C + sum over chunks q of alpha A_q B_q + bias): chunk 0 is summed into C, the others into
// scratch, each by one thread; then the team adds them to C in chunk order, row by row.
template <class T>
void split_k_gemm(const GemmParams& p, int64_t chunks, const T* a, const T* b, T* c, const GemmEpilogue<T>& e) {
  const int64_t m = p.m, n = p.n, k = p.k;
  T* partial = static_cast<T*>(thread_scratch(7, sizeof(T) * (chunks - 1) * m * n));
  const int threads = static_cast<int>(std::min<int64_t>(get_num_threads(), chunks));
  const bool has_act = e.activation && e.activation->kind != Activation::linear;
  parallel_region(threads, [&](int tid, int nt) {
    for (int64_t q = chunks * tid / nt; q < chunks * (tid + 1) / nt; ++q) {
      const int64_t k0 = k * q / chunks, k1 = k * (q + 1) / chunks;
      GemmParams sub = p;
      sub.split_k = false;
      sub.k = k1 - k0;
      if (q > 0) {
        sub.beta = 0.0;
        sub.ldc = n;
      }
      gemm_impl(sub, p.trans_a ? a + k0 * p.lda : a + k0, b + k0 * p.ldb, q == 0 ? c : partial + (q - 1) * m * n,
                GemmEpilogue<T>{});
    }
    if (nt > 1) team_barrier();
    for (int64_t i = m * tid / nt; i < m * (tid + 1) / nt; ++i) {
      T* row = c + i * p.ldc;
      for (int64_t q = 1; q < chunks; ++q) {
        const T* add = partial + (q - 1) * m * n + i * n;
        for (int64_t j = 0; j < n; ++j) row[j] += add[j];
      }
      if (e.bias)
        for (int64_t j = 0; j < n; ++j) row[j] += e.bias[j];
      if (has_act) activation_forward_serial(*e.activation, row, row, n);
    }
  });
}

template <class T>
void gemm_impl(const GemmParams& p, const T* a, const T* b, T* c, const GemmEpilogue<T>& e) {
  const int64_t m = p.m, n = p.n, k = p.k;
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || p.alpha == 0.0) {
    scale_only(p, c, e);
    return;
  }
  // C = A B^T with a small A and a wider B (Dense's dx = dY W^T): packing B^T costs more than packing A.
  // Compute C^T = B A^T instead, which reads B in place, then transpose it into C. Each entry is summed
  // over k in the same order either way. (32 x 64 x 128, a batch-32 Dense(64)'s dx: 9.9 us -> 7.3 us.)
  const int64_t cache_bytes = 256 << 10;
  if (p.trans_b && !p.trans_a && p.beta == 0.0 && !e.bias && !e.activation &&
      m * k * static_cast<int64_t>(sizeof(T)) <= cache_bytes && n > m && k >= 32) {
    T* ct = static_cast<T*>(thread_scratch(3, sizeof(T) * n * m));
    GemmParams q = p;
    q.m = n;
    q.n = m;
    q.lda = p.ldb;
    q.ldb = p.lda;
    q.ldc = m;
    gemm_impl(q, b, a, ct, GemmEpilogue<T>{});
    parallel_for(ceil_div(n, kTransposeBlock), 16, [&](int64_t b0, int64_t b1) {
      transpose_columns(ct, m, c, p.ldc, m, b0 * kTransposeBlock, std::min(n, b1 * kTransposeBlock));
    });
    return;
  }
  const GemmKernel<T>& kr = kernel_for<T>(active_isa());
  if (const int64_t chunks = split_k_chunks<T>(p, kr.mr); chunks > 1) {
    split_k_gemm(p, chunks, a, b, c, e);
    return;
  }
  if (m <= kGemmSmallRows && !p.trans_b && kr.rows) {
    small_rows(kr, p, a, b, c, e);
    return;
  }
  const int mr = kr.mr, nr = kr.nr;
  const int64_t KC = kr.kc, NC = kr.nc;
  // A problem whose B fits in cache ("small": the shapes of a training step) reads A in place (full row
  // panels) and B too unless B is transposed; large problems pack both for locality.
  // "Fits" is up to 512 KB, a core's L2 on the CPUs pynn targets: the MNIST MLP's 784 x 128 weights (401 KB)
  // read in place ran 64 to 10,000 rows at 31.5-33.8 GF/s on one Zen 1 thread, packed at 28.1-29.4.
  // B up to 1 MB is read in place too when only a few row panels use it (a Dense layer's batch of 64 on 1600
  // inputs): packing it would cost a pass over B and two team barriers per k block for little reuse.
  const int64_t b_bytes = k * n * static_cast<int64_t>(sizeof(T));
  const bool small = b_bytes <= (512 << 10) || (b_bytes <= (1 << 20) && m <= 8 * mr);
  // Except where B's rows lie a multiple of 4 KB apart and many row panels reuse it: a panel's rows then
  // share a few L1 sets and come from L2 at every k step (W4's input projection, 3200 rows x 128 x 1024:
  // the forward 11.5 -> 11.0 ms with B packed, means of 100 in alternating runs).
  const bool aliased_rows = p.ldb * static_cast<int64_t>(sizeof(T)) % 4096 == 0;
  const bool pack_b = p.trans_b || (!small && m > 4 * mr) || (aliased_rows && m >= 32 * mr);
  const bool direct_a = small || !pack_b;
  const bool has_act = e.activation && e.activation->kind != Activation::linear;

  // Thread grid: tm row groups x tn column groups.
  const int64_t work = m * n * k;
  // A packed B costs the team two barriers per k block: a second thread pays only from 2^19 multiply-adds
  // (Dense(64)'s batch-32 input gradient, 128 x 32 x 64 with B transposed: 11.3 us on two threads, 7.0 on one).
  const int64_t min_work = pack_b ? kMinPackedWorkPerThread : kMinWorkPerThread;
  int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), work / min_work)));
  // Threads split the rows of C wherever each gets a few rows: a row split shares at most one cache line of
  // C between two threads, a column split shares one per row unless C's rows start on cache lines. Row
  // ranges are cut in units of MR/3, the height of the short-panel kernels, so that they balance.
  const int64_t row_unit = mr % 3 == 0 ? mr / 3 : mr;
  const int64_t row_units = ceil_div(m, row_unit);
  const bool split_rows = row_units >= 2 * threads || ceil_div(std::min(n, NC), nr) < threads;
  // Column splits land on cache lines of C (as far as C's alignment allows), so two threads sharing a row
  // never write the same line: false sharing doubled the time of a 64^3 product. Where a split falls does not
  // change how any entry is summed.
  const int64_t line = 64 / static_cast<int64_t>(sizeof(T));
  const int64_t c_phase = static_cast<int64_t>(reinterpret_cast<uintptr_t>(c) / sizeof(T)) % line;
  const T alpha = static_cast<T>(p.alpha);
  const int64_t kc_max = std::min(k, KC);
  // Rows split: the team packs each B panel once into a shared buffer. Columns split: each thread packs
  // its own panels into its own buffer, and nothing is shared.
  T* shared_b = (pack_b && split_rows)
                    ? static_cast<T*>(thread_scratch(0, sizeof(T) * ceil_div(std::min(n, NC), nr) * nr * kc_max))
                    : nullptr;

  parallel_region(threads, [&](int tid, int nt) {
    const int tm = split_rows ? nt : 1, tn = split_rows ? 1 : nt;
    const int gm = tid % tm, gn = tid / tm;
    // This thread's rows, blocked by MC (rounded so that the blocks are even).
    const int64_t row0 = std::min(m, row_units * gm / tm * row_unit);
    const int64_t row1 = std::min(m, row_units * (gm + 1) / tm * row_unit);
    const int64_t my_rows = row1 - row0;
    const int64_t nblocks = ceil_div(my_rows, kr.mc);
    const int64_t mc = nblocks > 0 ? ceil_div(ceil_div(my_rows, nblocks), mr) * mr : mr;
    T* abuf = static_cast<T*>(thread_scratch(1, sizeof(T) * mc * kc_max));
    T* bbuf = shared_b;
    if (pack_b && !split_rows)
      bbuf = static_cast<T*>(thread_scratch(2, sizeof(T) * (ceil_div(ceil_div(std::min(n, NC), tn), nr) + 1) * nr * kc_max));
    T* rbuf = nullptr;  // B read in place: its ragged last panel, packed (slot 2 is free when B is not packed)

    for (int64_t jc = 0; jc < n; jc += NC) {
      const int64_t ncur = std::min(NC, n - jc);
      // This thread's columns [col0, col1) of the block, in panels of nr from col0.
      auto split_at = [&](int64_t g) {
        if (g == 0 || g == tn) return g == 0 ? int64_t{0} : ncur;
        const int64_t x = ncur * g / tn;
        const int64_t aligned = x - (c_phase + jc + x) % line;
        return aligned > 0 ? aligned : x;
      };
      const int64_t col0 = split_at(gn), col1 = split_at(gn + 1);
      const int64_t my_panels = ceil_div(col1 - col0, nr);
      for (int64_t pc = 0; pc < k; pc += KC) {
        const int64_t kc = std::min(KC, k - pc);
        if (pack_b) {
          // Shared: panel q of the block is packed by thread q % nt. Own: every panel of this thread's.
          const int64_t q0 = split_rows ? tid : 0, step = split_rows ? nt : 1;
          for (int64_t q = q0; q < my_panels; q += step) {
            const int cols = static_cast<int>(std::min<int64_t>(nr, col1 - col0 - q * nr));
            pack_b_panel(b, p.ldb, p.trans_b, jc + col0 + q * nr, cols, pc, kc, nr, bbuf + q * nr * kc);
          }
          if (split_rows) team_barrier();
        }
        // B read in place: a ragged last panel (fewer than nr columns, e.g. a Dense(10) layer's 10) is packed,
        // zero-padded, so that the tile's k loop loads whole vectors instead of masked ones (vmaskmovps is
        // microcoded on AMD Zen: 10000 x 128 x 10 on one Zen 1 thread 7.0 -> 13.2 GF/s).
        const int64_t ragged_q = (!pack_b && (col1 - col0) % nr != 0) ? my_panels - 1 : -1;
        if (ragged_q >= 0) {
          if (!rbuf) rbuf = static_cast<T*>(thread_scratch(2, sizeof(T) * nr * kc_max));
          pack_b_panel(b, p.ldb, false, jc + col0 + ragged_q * nr, static_cast<int>(col1 - col0 - ragged_q * nr), pc,
                       kc, nr, rbuf);
        }
        const bool first = pc == 0, last = pc + kc == k;
        GemmTile<T> t;
        t.k = kc;
        t.ldc = p.ldc;
        t.alpha = alpha;
        t.beta = first ? static_cast<T>(p.beta) : T(1);
        for (int64_t ic = row0; ic < row1; ic += mc) {
          const int64_t mcur = std::min(mc, row1 - ic);
          // On the small path full row panels are read in place; only a ragged last panel is packed.
          const int64_t direct_rows = direct_a ? mcur / mr * mr : 0;
          if (mcur > direct_rows)
            pack_a(a, p.lda, p.trans_a, ic + direct_rows, mcur - direct_rows, pc, kc, mr, abuf);
          for (int64_t q = 0; q < my_panels; ++q) {
            const int64_t j = jc + col0 + q * nr;
            t.cols = static_cast<int>(std::min<int64_t>(nr, col1 - col0 - q * nr));
            if (pack_b || q == ragged_q) {
              t.b = pack_b ? bbuf + q * nr * kc : rbuf;
              t.b_stride = nr;
              t.b_cols = nr;
            } else {
              t.b = b + pc * p.ldb + j;
              t.b_stride = p.ldb;
              t.b_cols = t.cols;
            }
            t.bias = (last && e.bias) ? e.bias + j : nullptr;
            if (direct_rows > 0) {  // full panels, in place
              t.a = p.trans_a ? a + pc * p.lda + ic : a + ic * p.lda + pc;
              t.a_row = p.trans_a ? 1 : p.lda;
              t.a_k = p.trans_a ? p.lda : 1;
              t.a_panel = p.trans_a ? mr : mr * p.lda;
              t.rows = direct_rows;
              t.c = c + ic * p.ldc + j;
              kr.tile(t);
            }
            if (mcur > direct_rows) {  // packed panels
              t.a = abuf;
              t.a_row = 1;
              t.a_k = mr;
              t.a_panel = mr * kc;
              t.rows = mcur - direct_rows;
              t.c = c + (ic + direct_rows) * p.ldc + j;
              kr.tile(t);
            }
            if (last && has_act)
              for (int64_t i = ic; i < ic + mcur; ++i)
                activation_forward_serial(*e.activation, c + i * p.ldc + j, c + i * p.ldc + j, t.cols);
          }
        }
        if (pack_b && split_rows) team_barrier();
      }
    }
  });
}

template <class T>
void gemm_reference_impl(const GemmParams& p, const T* a, const T* b, T* c, const GemmEpilogue<T>& e) {
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      T sum = 0;
      for (int64_t kk = 0; kk < p.k; ++kk) {
        const T av = p.trans_a ? a[kk * p.lda + i] : a[i * p.lda + kk];
        const T bv = p.trans_b ? b[j * p.ldb + kk] : b[kk * p.ldb + j];
        sum += av * bv;
      }
      T v = static_cast<T>(p.alpha) * sum;
      if (p.beta != 0.0) v += static_cast<T>(p.beta) * c[i * p.ldc + j];
      if (e.bias) v += e.bias[j];
      c[i * p.ldc + j] = v;
    }
    if (e.activation) activation_forward_serial(*e.activation, c + i * p.ldc, c + i * p.ldc, p.n);
  }
}

// Many independent products of one shape (attention's per-head products): one product per thread when
// there are at least two per thread, each on a nested one-thread team; otherwise one after another, each
// with the whole team. A product's result is the same either way (kernels never depend on the thread count).
template <class T>
void gemm_batched_impl(const GemmParams& p, int64_t count, const T* a, const int64_t* a_off, const T* b,
                       const int64_t* b_off, T* c, const int64_t* c_off) {
  GemmParams q = p;
  q.split_k = false;
  if (count < 2 * static_cast<int64_t>(get_num_threads())) {
    for (int64_t i = 0; i < count; ++i) gemm_impl(q, a + a_off[i], b + b_off[i], c + c_off[i], GemmEpilogue<T>{});
    return;
  }
  parallel_for(count, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) gemm_impl(q, a + a_off[i], b + b_off[i], c + c_off[i], GemmEpilogue<T>{});
  });
}

}  // namespace

void gemm_batched(const GemmParams& p, int64_t count, const float* a, const int64_t* a_off, const float* b,
                  const int64_t* b_off, float* c, const int64_t* c_off) {
  gemm_batched_impl(p, count, a, a_off, b, b_off, c, c_off);
}
void gemm_batched(const GemmParams& p, int64_t count, const double* a, const int64_t* a_off, const double* b,
                  const int64_t* b_off, double* c, const int64_t* c_off) {
  gemm_batched_impl(p, count, a, a_off, b, b_off, c, c_off);
}

void gemm(const GemmParams& p, const float* a, const float* b, float* c, const GemmEpilogue<float>& e) {
  gemm_impl(p, a, b, c, e);
}
void gemm(const GemmParams& p, const double* a, const double* b, double* c, const GemmEpilogue<double>& e) {
  gemm_impl(p, a, b, c, e);
}
void gemm_reference(const GemmParams& p, const float* a, const float* b, float* c, const GemmEpilogue<float>& e) {
  gemm_reference_impl(p, a, b, c, e);
}
void gemm_reference(const GemmParams& p, const double* a, const double* b, double* c,
                    const GemmEpilogue<double>& e) {
  gemm_reference_impl(p, a, b, c, e);
}

}  // namespace pynn
