// The sparse-weight product's loops (spmm_kernels.inc) compiled for the avx512 instruction set.
#include "sparse/spmm_kernels.inc"

namespace pynn {

const SpmmKernels spmm_kernels_avx512 = {&block, &row};

}  // namespace pynn
