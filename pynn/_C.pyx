# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""pynn._C: the Cython bindings of the C++ kernel library (csrc/).

Only pynn.kernels imports this module. Each function checks its arguments (shape, dtype, contiguity, aliasing),
releases the GIL and makes one call into C++. One include per kernel family, in _cython/.
"""
cimport cython
cimport numpy as cnp
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uintptr_t

cnp.import_array()

include "_cython/checks.pxi"
include "_cython/core.pxi"
include "_cython/activations.pxi"
include "_cython/gemm.pxi"
include "_cython/conv.pxi"
include "_cython/optimizers.pxi"
include "_cython/random.pxi"
include "_cython/reduce.pxi"
include "_cython/losses.pxi"
include "_cython/pooling.pxi"
include "_cython/normalization.pxi"
include "_cython/attention.pxi"
include "_cython/quantized.pxi"
include "_cython/sparse.pxi"
include "_cython/image.pxi"
include "_cython/recurrent.pxi"
include "_cython/training.pxi"
