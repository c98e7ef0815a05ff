// The sparse-weight product's loops (spmm_kernels.inc) compiled for the generic instruction set.
#include "sparse/spmm_kernels.inc"

namespace pynn {

const SpmmKernels spmm_kernels_generic = {&block, &row};

}  // namespace pynn
