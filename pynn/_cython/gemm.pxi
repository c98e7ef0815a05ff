# GEMM: C = act(alpha * op(A) op(B) + beta * C + bias). csrc/gemm/gemm.h.

cdef extern from "gemm/gemm.h" namespace "pynn" nogil:
    cdef cppclass GemmParams:
        int64_t m, n, k
        bint trans_a, trans_b
        int64_t lda, ldb, ldc
        double alpha, beta
        bint split_k
    cdef cppclass GemmEpilogue[T]:
        const T* bias
        const ActivationParams* activation
    void c_gemm "pynn::gemm"(const GemmParams&, const float*, const float*, float*,
                             const GemmEpilogue[float]&) except +
    void c_gemm "pynn::gemm"(const GemmParams&, const double*, const double*, double*,
                             const GemmEpilogue[double]&) except +
    void c_gemm_reference "pynn::gemm_reference"(const GemmParams&, const float*, const float*, float*,
                                                 const GemmEpilogue[float]&) except +
    void c_gemm_reference "pynn::gemm_reference"(const GemmParams&, const double*, const double*, double*,
                                                 const GemmEpilogue[double]&) except +


def gemm(a, b, c, double alpha=1.0, double beta=0.0, bint trans_a=False, bint trans_b=False,
         bias=None, activation=None, bint reference=False):
    """c[...] = act(alpha * op(a) @ op(b) + beta * c + bias), in place.

    a, b, c: 2-D float32 or float64 arrays of one dtype whose rows are contiguous (any row stride).
    bias: None or a C-contiguous vector of length n. activation: None, a name, or (name, params).
    reference: run the plain triple loop instead of the fast kernel (the tests' oracle).
    A short, deep product may be summed over k in fixed chunks (GemmParams::split_k), one per thread.
    """
    cdef cnp.ndarray A = _array(a, "a"), B = _array(b, "b"), C = _array(c, "c"), bias_arr
    cdef int kind = _float_kind(A, "a")
    _same_dtype(B, A, "b", "a")
    _same_dtype(C, A, "c", "a")
    for arr, nm in ((A, "a"), (B, "b"), (C, "c")):
        if cnp.PyArray_NDIM(arr) != 2:
            raise ValueError(f"{nm}: expected a 2-D array, got shape {(<object>arr).shape}")
    _writeable(C, "c")
    cdef GemmParams p
    p.trans_a = trans_a
    p.trans_b = trans_b
    p.m = A.shape[1] if trans_a else A.shape[0]
    p.k = A.shape[0] if trans_a else A.shape[1]
    cdef int64_t kb = B.shape[1] if trans_b else B.shape[0]
    p.n = B.shape[0] if trans_b else B.shape[1]
    if kb != p.k:
        raise ValueError(f"b: op(a) is {p.m}x{p.k}, so op(b) must have {p.k} rows; got op(b) of shape "
                         f"{kb}x{p.n} (trans_a={trans_a}, trans_b={trans_b})")
    if C.shape[0] != p.m or C.shape[1] != p.n:
        raise ValueError(f"c: expected shape ({p.m}, {p.n}), got {(<object>C).shape}")
    p.lda = _row_stride(A, "a")
    p.ldb = _row_stride(B, "b")
    p.ldc = _row_stride(C, "c")
    if _overlap(C, A) or _overlap(C, B):
        raise ValueError("c: the output must not share memory with a or b")
    p.alpha = alpha
    p.beta = beta
    p.split_k = True

    cdef ActivationParams act
    cdef GemmEpilogue[float] e32
    cdef GemmEpilogue[double] e64
    if bias is not None:
        bias_arr = _array(bias, "bias")
        _same_dtype(bias_arr, A, "bias", "a")
        _contiguous(bias_arr, "bias")
        if cnp.PyArray_NDIM(bias_arr) != 1 or bias_arr.shape[0] != p.n:
            raise ValueError(f"bias: expected shape ({p.n},), got {(<object>bias_arr).shape}")
        e32.bias = <const float*>cnp.PyArray_DATA(bias_arr)
        e64.bias = <const double*>cnp.PyArray_DATA(bias_arr)
    if activation is not None:
        act = _activation_params(activation)
        e32.activation = &act
        e64.activation = &act

    cdef void* pa = cnp.PyArray_DATA(A)
    cdef void* pb = cnp.PyArray_DATA(B)
    cdef void* pc = cnp.PyArray_DATA(C)
    with nogil:
        if kind == 0:
            if reference:
                c_gemm_reference(p, <const float*>pa, <const float*>pb, <float*>pc, e32)
            else:
                c_gemm(p, <const float*>pa, <const float*>pb, <float*>pc, e32)
        else:
            if reference:
                c_gemm_reference(p, <const double*>pa, <const double*>pb, <double*>pc, e64)
            else:
                c_gemm(p, <const double*>pa, <const double*>pb, <double*>pc, e64)
