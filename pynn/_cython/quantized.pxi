# int8 matrix multiply for quantized inference (csrc/quantized/qgemm.h).

cdef extern from "quantized/qgemm.h" namespace "pynn" nogil:
    int64_t c_qgemm_packed_size "pynn::qgemm_packed_size"(int64_t, int64_t)
    void c_quantize_rows "pynn::quantize_rows"(const float*, int64_t, int64_t, int16_t*, int64_t, float*)
    void c_qgemm_pack_b "pynn::qgemm_pack_b"(const int8_t*, int64_t, int64_t, int16_t*)
    void c_qgemm "pynn::qgemm"(int64_t, int64_t, int64_t, const int16_t*, int64_t, const float*, const int16_t*,
                               const float*, const float*, const ActivationParams*, float*, int64_t)
    void c_qlinear "pynn::qlinear"(int64_t, int64_t, int64_t, const float*, int64_t, float, const int16_t*,
                                   const float*, const float*, const ActivationParams*, float*, int64_t)
    void c_qgemm_reference "pynn::qgemm_reference"(int64_t, int64_t, int64_t, const int16_t*, int64_t, const float*,
                                                   const int16_t*, const float*, const float*,
                                                   const ActivationParams*, float*, int64_t)


cdef int _typed(cnp.ndarray x, int typenum, str dtype, str func, str name) except -1:
    if cnp.PyArray_TYPE(x) != typenum:
        raise ValueError(f"{func}: {name}: expected dtype {dtype}, got {x.dtype}")
    _contiguous(x, name)
    return 0


def qgemm_packed_size(k, n):
    """The int16 elements qgemm_pack_b writes for a (k, n) int8 matrix."""
    cdef int64_t kk = _bounded_int(k, "qgemm_packed_size", "k", 1, 2 ** 31)
    cdef int64_t nn = _bounded_int(n, "qgemm_packed_size", "n", 1, 2 ** 31)
    return c_qgemm_packed_size(kk, nn)


def quantize_rows(x, q, scale):
    """q[i, :k] = clip(round(x[i] * scale[i]), -127, 127) with scale[i] = 127 / (max |x[i]| + 1e-7), q[i, k:] = 0.
    x: (m, k) float32, C-contiguous, finite; q: (m, ld) int16 with ld >= k rounded up to even; scale: (m,)
    float32."""
    cdef cnp.ndarray X = _array(x, "x"), Q = _array(q, "q"), S = _array(scale, "scale")
    _typed(X, cnp.NPY_FLOAT32, "float32", "quantize_rows", "x")
    _typed(Q, cnp.NPY_INT16, "int16", "quantize_rows", "q")
    _typed(S, cnp.NPY_FLOAT32, "float32", "quantize_rows", "scale")
    _writeable(Q, "q")
    _writeable(S, "scale")
    if cnp.PyArray_NDIM(X) != 2 or cnp.PyArray_NDIM(Q) != 2:
        raise ValueError(f"quantize_rows: x and q must be 2-D, got shapes {(<object>X).shape} and {(<object>Q).shape}")
    cdef int64_t m = X.shape[0], k = X.shape[1]
    if Q.shape[0] != m or Q.shape[1] < (k + 1) // 2 * 2:
        raise ValueError(f"quantize_rows: q: expected shape ({m}, >= {(k + 1) // 2 * 2}), got {(<object>Q).shape}")
    _expect_shape(S, (m,), "quantize_rows", "scale")
    for out, name in ((Q, "q"), (S, "scale")):
        if _overlap(out, X):
            raise ValueError(f"quantize_rows: {name} must not share memory with x")
    if _overlap(Q, S):
        raise ValueError("quantize_rows: q must not share memory with scale")
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pq = cnp.PyArray_DATA(Q)
    cdef void* ps = cnp.PyArray_DATA(S)
    cdef int64_t ld = Q.shape[1]
    with nogil:
        c_quantize_rows(<const float*>px, m, k, <int16_t*>pq, ld, <float*>ps)


def qgemm_pack_b(b, packed):
    """packed = b ((k, n) int8, C-contiguous) in qgemm's panels; packed: int16 of qgemm_packed_size(k, n)."""
    cdef cnp.ndarray B = _array(b, "b"), P = _array(packed, "packed")
    _typed(B, cnp.NPY_INT8, "int8", "qgemm_pack_b", "b")
    _typed(P, cnp.NPY_INT16, "int16", "qgemm_pack_b", "packed")
    _writeable(P, "packed")
    if cnp.PyArray_NDIM(B) != 2 or B.shape[0] < 1 or B.shape[1] < 1:
        raise ValueError(f"qgemm_pack_b: b: expected a non-empty 2-D array, got shape {(<object>B).shape}")
    cdef int64_t k = B.shape[0], n = B.shape[1]
    _expect_shape(P, (c_qgemm_packed_size(k, n),), "qgemm_pack_b", "packed")
    if _overlap(P, B):
        raise ValueError("qgemm_pack_b: packed must not share memory with b")
    cdef void* pb = cnp.PyArray_DATA(B)
    cdef void* pp = cnp.PyArray_DATA(P)
    with nogil:
        c_qgemm_pack_b(<const int8_t*>pb, k, n, <int16_t*>pp)


def qgemm(a, a_scale, packed_b, b_scale, c, k, bias=None, activation=None, bint reference=False):
    """c = act(a @ b / (a_scale[:, None] * b_scale) + bias) with a from quantize_rows ((m, ld) int16), b packed
    by qgemm_pack_b for (k, n) and c (m, n) float32 with contiguous rows. reference: the plain loops."""
    cdef cnp.ndarray A = _array(a, "a"), AS = _array(a_scale, "a_scale"), P = _array(packed_b, "packed_b")
    cdef cnp.ndarray BS = _array(b_scale, "b_scale"), C = _array(c, "c"), BIAS
    _typed(A, cnp.NPY_INT16, "int16", "qgemm", "a")
    _typed(AS, cnp.NPY_FLOAT32, "float32", "qgemm", "a_scale")
    _typed(P, cnp.NPY_INT16, "int16", "qgemm", "packed_b")
    _typed(BS, cnp.NPY_FLOAT32, "float32", "qgemm", "b_scale")
    if cnp.PyArray_TYPE(C) != cnp.NPY_FLOAT32:
        raise ValueError(f"qgemm: c: expected dtype float32, got {C.dtype}")
    _writeable(C, "c")
    if cnp.PyArray_NDIM(A) != 2 or cnp.PyArray_NDIM(C) != 2:
        raise ValueError(f"qgemm: a and c must be 2-D, got shapes {(<object>A).shape} and {(<object>C).shape}")
    cdef int64_t kk = _bounded_int(k, "qgemm", "k", 1, 2 ** 17)
    cdef int64_t m = A.shape[0], n = C.shape[1], ld = A.shape[1]
    if ld < (kk + 1) // 2 * 2:
        raise ValueError(f"qgemm: a: expected at least {(kk + 1) // 2 * 2} columns for k={kk}, got {(<object>A).shape}")
    if C.shape[0] != m:
        raise ValueError(f"qgemm: c: expected {m} rows (as a), got {(<object>C).shape}")
    cdef int64_t ldc = _row_stride(C, "c")
    _expect_shape(AS, (m,), "qgemm", "a_scale")
    _expect_shape(BS, (n,), "qgemm", "b_scale")
    if n < 1:
        raise ValueError("qgemm: c: expected at least one column")
    _expect_shape(P, (c_qgemm_packed_size(kk, n),), "qgemm", "packed_b", f" (k={kk}, n={n})")
    cdef const float* pbias = NULL
    if bias is not None:
        BIAS = _array(bias, "bias")
        _typed(BIAS, cnp.NPY_FLOAT32, "float32", "qgemm", "bias")
        _expect_shape(BIAS, (n,), "qgemm", "bias")
        pbias = <const float*>cnp.PyArray_DATA(BIAS)
        if _overlap(C, BIAS):
            raise ValueError("qgemm: c must not share memory with bias")
    for other, name in ((A, "a"), (AS, "a_scale"), (P, "packed_b"), (BS, "b_scale")):
        if _overlap(C, other):
            raise ValueError(f"qgemm: c must not share memory with {name}")
    cdef ActivationParams act
    cdef const ActivationParams* pact = NULL
    if activation is not None:
        act = _activation_params(activation)
        pact = &act
    cdef void* pa = cnp.PyArray_DATA(A)
    cdef void* pas = cnp.PyArray_DATA(AS)
    cdef void* pp = cnp.PyArray_DATA(P)
    cdef void* pbs = cnp.PyArray_DATA(BS)
    cdef void* pc = cnp.PyArray_DATA(C)
    with nogil:
        if reference:
            c_qgemm_reference(m, n, kk, <const int16_t*>pa, ld, <const float*>pas, <const int16_t*>pp,
                              <const float*>pbs, pbias, pact, <float*>pc, ldc)
        else:
            c_qgemm(m, n, kk, <const int16_t*>pa, ld, <const float*>pas, <const int16_t*>pp, <const float*>pbs,
                    pbias, pact, <float*>pc, ldc)


def qlinear(x, packed_b, b_scale, y, k, bias=None, activation=None, input_scale=None):
    """y = act(x @ b / (s_x[:, None] * b_scale) + bias) for float32 x (m, k) (contiguous rows), b packed by
    qgemm_pack_b for (k, n), y (m, n) float32: x quantized per row (s_x = 127 / (max |x[i]| + 1e-7)) or, with
    input_scale (a positive float), with that one scale and clipped to [-127, 127]. quantize_rows + qgemm in
    one call, the quantized rows in pynn's scratch memory."""
    cdef cnp.ndarray X = _array(x, "x"), P = _array(packed_b, "packed_b"), BS = _array(b_scale, "b_scale")
    cdef cnp.ndarray Y = _array(y, "y"), BIAS
    if cnp.PyArray_TYPE(X) != cnp.NPY_FLOAT32:
        raise ValueError(f"qlinear: x: expected dtype float32, got {X.dtype}")
    _typed(P, cnp.NPY_INT16, "int16", "qlinear", "packed_b")
    _typed(BS, cnp.NPY_FLOAT32, "float32", "qlinear", "b_scale")
    if cnp.PyArray_TYPE(Y) != cnp.NPY_FLOAT32:
        raise ValueError(f"qlinear: y: expected dtype float32, got {Y.dtype}")
    _writeable(Y, "y")
    if cnp.PyArray_NDIM(X) != 2 or cnp.PyArray_NDIM(Y) != 2:
        raise ValueError(f"qlinear: x and y must be 2-D, got shapes {(<object>X).shape} and {(<object>Y).shape}")
    cdef int64_t kk = _bounded_int(k, "qlinear", "k", 1, 2 ** 17)
    cdef int64_t m = X.shape[0], n = Y.shape[1]
    if X.shape[1] != kk:
        raise ValueError(f"qlinear: x: expected {kk} columns, got shape {(<object>X).shape}")
    if Y.shape[0] != m or n < 1:
        raise ValueError(f"qlinear: y: expected shape ({m}, n >= 1), got {(<object>Y).shape}")
    cdef int64_t ldx = _row_stride(X, "x"), ldy = _row_stride(Y, "y")
    _expect_shape(BS, (n,), "qlinear", "b_scale")
    _expect_shape(P, (c_qgemm_packed_size(kk, n),), "qlinear", "packed_b", f" (k={kk}, n={n})")
    cdef float scale = 0.0
    if input_scale is not None:
        scale = input_scale
        if not (scale > 0.0 and scale < float("inf")):
            raise ValueError(f"qlinear: input_scale must be a positive finite number, got {input_scale!r}")
    cdef const float* pbias = NULL
    if bias is not None:
        BIAS = _array(bias, "bias")
        _typed(BIAS, cnp.NPY_FLOAT32, "float32", "qlinear", "bias")
        _expect_shape(BIAS, (n,), "qlinear", "bias")
        pbias = <const float*>cnp.PyArray_DATA(BIAS)
        if _overlap(Y, BIAS):
            raise ValueError("qlinear: y must not share memory with bias")
    for other, name in ((X, "x"), (P, "packed_b"), (BS, "b_scale")):
        if _overlap(Y, other):
            raise ValueError(f"qlinear: y must not share memory with {name}")
    cdef ActivationParams act
    cdef const ActivationParams* pact = NULL
    if activation is not None:
        act = _activation_params(activation)
        pact = &act
    cdef const float* px = <const float*>cnp.PyArray_DATA(X)
    cdef const int16_t* pp = <const int16_t*>cnp.PyArray_DATA(P)
    cdef const float* pbs = <const float*>cnp.PyArray_DATA(BS)
    cdef float* py = <float*>cnp.PyArray_DATA(Y)
    with nogil:
        c_qlinear(m, n, kk, px, ldx, scale, pp, pbs, pbias, pact, py, ldy)
