// Reusable 64-byte aligned scratch memory, one set per thread, that grows and is never freed until the
// thread ends: kernels that pack their operands allocate nothing in the steady state.
#pragma once

#include <cstddef>

namespace pynn {

// A pointer to at least `bytes` bytes of this thread's scratch slot `slot` (0 .. kScratchSlots-1). The
// memory stays valid until the same thread asks for the same slot again. Throws std::bad_alloc.
// Slots 0-3 and 7: the GEMM driver; 4-6: the convolution drivers (which call the GEMM from their tiles);
// 8: the recurrent driver's batch chunks (which call only the tile kernels); 9: the attention driver (which
// calls the GEMM from its per-head tasks); 10: the sparse-weight product (sparse/spmm.cpp); 11: qlinear's
// quantized rows (quantized/qgemm.cpp, on the calling thread); 12: the convolution's backward-data as a
// flipped convolution (its flipped weights and masked dy, on the calling thread).
constexpr int kScratchSlots = 13;
void* thread_scratch(int slot, std::size_t bytes);

}  // namespace pynn
