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


cdef extern from "gemm/gemm.h" namespace "pynn" nogil:
    void c_gemm_batched "pynn::gemm_batched"(const GemmParams&, int64_t, const float*, const int64_t*,
                                             const float*, const int64_t*, float*, const int64_t*) except +
    void c_gemm_batched "pynn::gemm_batched"(const GemmParams&, int64_t, const double*, const int64_t*,
                                             const double*, const int64_t*, double*, const int64_t*) except +


cdef _batch_offsets(cnp.ndarray x, int nlead, str name):
    """Element offsets of the matrices x[i] (i over the leading axes, C order), as an int64 array."""
    cdef int64_t item = cnp.PyArray_ITEMSIZE(x)
    shape = (<object>x).shape[:nlead]
    strides = (<object>x).strides[:nlead]
    for s in strides:
        if s < 0 or s % item:
            raise ValueError(f"{name}: the batch axes need non-negative strides that are whole elements, got "
                             f"strides {(<object>x).strides}")
    offsets = np.zeros(shape, np.int64)
    for axis, (n, s) in enumerate(zip(shape, strides)):
        view = [1] * nlead
        view[axis] = n
        offsets = offsets + (np.arange(n, dtype=np.int64) * (s // item)).reshape(view)
    return np.ascontiguousarray(offsets.reshape(-1))


cdef bint _nested_strides(cnp.ndarray x):
    """Whether every element of x has its own address: sorted by stride, each axis steps past everything
    the smaller-stride axes span (a sufficient test; true of C-ordered arrays and of heads interleaved in
    rows)."""
    cdef int64_t span = 1
    dims = sorted((s // x.itemsize, n) for n, s in zip((<object>x).shape, (<object>x).strides) if n > 1)
    for stride, n in dims:
        if stride < span:
            return False
        span = stride * (n - 1) + span
    return True


def gemm_batched(a, b, c, double alpha=1.0, double beta=0.0, bint trans_a=False, bint trans_b=False):
    """c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i] for every index i of the leading axes (the same for a,
    b and c). Each matrix has contiguous rows; the batch axes any non-negative strides (views of heads in
    a projection work uncopied). c's matrices must not overlap each other, a or b. Products run one per
    thread when there are enough of them."""
    cdef cnp.ndarray A = _array(a, "a"), B = _array(b, "b"), C = _array(c, "c")
    cdef int kind = _float_kind(A, "a")
    _same_dtype(B, A, "b", "a")
    _same_dtype(C, A, "c", "a")
    cdef int nd = cnp.PyArray_NDIM(A)
    if nd < 3 or cnp.PyArray_NDIM(B) != nd or cnp.PyArray_NDIM(C) != nd:
        raise ValueError(f"gemm_batched: a, b and c need one rank of at least 3, got shapes {(<object>A).shape}, "
                         f"{(<object>B).shape}, {(<object>C).shape}")
    lead = (<object>A).shape[:nd - 2]
    if (<object>B).shape[:nd - 2] != lead or (<object>C).shape[:nd - 2] != lead:
        raise ValueError(f"gemm_batched: a, b and c need the same batch axes, got shapes {(<object>A).shape}, "
                         f"{(<object>B).shape}, {(<object>C).shape}")
    _writeable(C, "c")
    cdef int64_t count = 1
    for n in lead:
        count *= n
    cdef GemmParams p
    p.trans_a = trans_a
    p.trans_b = trans_b
    p.m = A.shape[nd - 1] if trans_a else A.shape[nd - 2]
    p.k = A.shape[nd - 2] if trans_a else A.shape[nd - 1]
    cdef int64_t kb = B.shape[nd - 1] if trans_b else B.shape[nd - 2]
    p.n = B.shape[nd - 2] if trans_b else B.shape[nd - 1]
    if kb != p.k:
        raise ValueError(f"b: op(a) is {p.m}x{p.k}, so op(b) must have {p.k} rows; got op(b) of {kb}x{p.n}")
    if C.shape[nd - 2] != p.m or C.shape[nd - 1] != p.n:
        raise ValueError(f"c: expected matrices of shape ({p.m}, {p.n}), got {(<object>C).shape}")
    if count == 0 or p.m == 0 or p.n == 0:
        return
    first = (0,) * (nd - 2)
    p.lda = _row_stride((<object>A)[first], "a")
    p.ldb = _row_stride((<object>B)[first], "b")
    p.ldc = _row_stride((<object>C)[first], "c")
    if _overlap(C, A) or _overlap(C, B):
        raise ValueError("c: the output must not share memory with a or b")
    if not _nested_strides(C):
        raise ValueError(f"c: its matrices must not overlap one another (strides {(<object>C).strides})")
    p.alpha = alpha
    p.beta = beta
    p.split_k = False
    cdef cnp.ndarray ao = _batch_offsets(A, nd - 2, "a"), bo = _batch_offsets(B, nd - 2, "b")
    cdef cnp.ndarray co = _batch_offsets(C, nd - 2, "c")
    cdef void* pa = cnp.PyArray_DATA(A)
    cdef void* pb = cnp.PyArray_DATA(B)
    cdef void* pc = cnp.PyArray_DATA(C)
    cdef const int64_t* pao = <const int64_t*>cnp.PyArray_DATA(ao)
    cdef const int64_t* pbo = <const int64_t*>cnp.PyArray_DATA(bo)
    cdef const int64_t* pco = <const int64_t*>cnp.PyArray_DATA(co)
    with nogil:
        if kind == 0:
            c_gemm_batched(p, count, <const float*>pa, pao, <const float*>pb, pbo, <float*>pc, pco)
        else:
            c_gemm_batched(p, count, <const double*>pa, pao, <const double*>pb, pbo, <double*>pc, pco)
