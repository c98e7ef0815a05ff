# Fused multi-head attention, forward and backward (csrc/attention/attention.h).

cdef extern from "attention/attention.h" namespace "pynn" nogil:
    cdef cppclass AttentionParams:
        int64_t batch, heads, tq, tk, dk, dv
        const uint8_t* keep
        int64_t keep_b, keep_h, keep_t, keep_s
    void c_attention_forward "pynn::attention_forward"(
        const AttentionParams&, const float*, const float*, const float*, float*, float*)
    void c_attention_forward "pynn::attention_forward"(
        const AttentionParams&, const double*, const double*, const double*, double*, double*)
    void c_attention_backward "pynn::attention_backward"(
        const AttentionParams&, const float*, const float*, const float*, const float*, const float*, double,
        float*, float*, float*)
    void c_attention_backward "pynn::attention_backward"(
        const AttentionParams&, const double*, const double*, const double*, const double*, const double*, double,
        double*, double*, double*)


cdef AttentionParams _attention_params(str func, cnp.ndarray Q, cnp.ndarray K, cnp.ndarray V, object batch,
                                       object heads) except *:
    """The dimensions from q (B*T, H*dk), k (B*S, H*dk), v (B*S, H*dv), checked against batch and heads."""
    cdef AttentionParams p
    cdef int kind = _float_kind(Q, "q")
    for X, name in ((Q, "q"), (K, "k"), (V, "v")):
        _same_dtype(X, Q, name, "q")
        _contiguous(X, name)
        if cnp.PyArray_NDIM(X) != 2:
            raise ValueError(f"{func}: {name}: expected a 2-D (tokens, heads * size) array, got shape "
                             f"{(<object>X).shape}")
    p.batch = _bounded_int(batch, func, "batch", 1, 2 ** 40)
    p.heads = _bounded_int(heads, func, "heads", 1, 2 ** 40)
    if Q.shape[0] % p.batch or K.shape[0] % p.batch or Q.shape[1] % p.heads or V.shape[1] % p.heads:
        raise ValueError(f"{func}: q {(<object>Q).shape} and v {(<object>V).shape}: rows must be a multiple of "
                         f"batch={p.batch} and columns of heads={p.heads}")
    _expect_shape(K, (K.shape[0], Q.shape[1]), func, "k", " (as many columns as q)")
    _expect_shape(V, (K.shape[0], V.shape[1]), func, "v", " (as many rows as k)")
    p.tq, p.tk = Q.shape[0] // p.batch, K.shape[0] // p.batch
    p.dk, p.dv = Q.shape[1] // p.heads, V.shape[1] // p.heads
    return p


cdef int _attention_output(str func, cnp.ndarray out, cnp.ndarray ref, tuple shape, str name, list others) except -1:
    _same_dtype(out, ref, name, "q")
    _contiguous(out, name)
    _writeable(out, name)
    _expect_shape(out, shape, func, name)
    for other, other_name in others:
        if _overlap(out, other):
            raise ValueError(f"{func}: {name} must not share memory with {other_name}")
    others.append((out, name))
    return 0


def attention_forward(q, k, v, keep, probs, out, batch, heads):
    """probs (B, H, T, S) = the masked softmax of each head's Q K^T; out (B*T, H*dv) = probs V per head.

    q (B*T, H*dk), k (B*S, H*dk), v (B*S, H*dv): the projections, heads side by side. keep: None, or booleans
    (bool or uint8) of shape (B, H, T, S), any non-negative strides (a broadcast view): where 0, the score is
    -1e9 and the probability 0.
    """
    cdef cnp.ndarray Q = _array(q, "q"), K = _array(k, "k"), V = _array(v, "v")
    cdef AttentionParams p = _attention_params("attention_forward", Q, K, V, batch, heads)
    cdef cnp.ndarray P = _array(probs, "probs"), O = _array(out, "out"), M
    others = [(Q, "q"), (K, "k"), (V, "v")]
    _attention_output("attention_forward", P, Q, (p.batch, p.heads, p.tq, p.tk), "probs", others)
    _attention_output("attention_forward", O, Q, (p.batch * p.tq, p.heads * p.dv), "out", others)
    cdef int d
    if keep is not None:
        M = _array(keep, "keep")
        if cnp.PyArray_TYPE(M) not in (cnp.NPY_BOOL, cnp.NPY_UINT8):
            raise ValueError(f"attention_forward: keep: expected dtype bool or uint8, got {M.dtype}")
        _expect_shape(M, (p.batch, p.heads, p.tq, p.tk), "attention_forward", "keep")
        for d in range(4):
            if M.strides[d] < 0:
                raise ValueError(f"attention_forward: keep: expected non-negative strides, got {(<object>M).strides}")
        p.keep = <const uint8_t*>cnp.PyArray_DATA(M)
        p.keep_b, p.keep_h, p.keep_t, p.keep_s = M.strides[0], M.strides[1], M.strides[2], M.strides[3]
    cdef void* pq = cnp.PyArray_DATA(Q)
    cdef void* pk = cnp.PyArray_DATA(K)
    cdef void* pv = cnp.PyArray_DATA(V)
    cdef void* pp = cnp.PyArray_DATA(P)
    cdef void* po = cnp.PyArray_DATA(O)
    with nogil:
        if cnp.PyArray_TYPE(Q) == cnp.NPY_FLOAT32:
            c_attention_forward(p, <const float*>pq, <const float*>pk, <const float*>pv, <float*>pp, <float*>po)
        else:
            c_attention_forward(p, <const double*>pq, <const double*>pk, <const double*>pv, <double*>pp,
                                <double*>po)


def attention_backward(q, k, v, probs, d_out, dq, dk, dv, batch, heads, double alpha=1.0):
    """dq = alpha dS K, dk = dS^T Q, dv = P^T dO per head (written, not added), with dS the softmax gradient
    of dP = dO V^T. q, k, v, probs as attention_forward saw and wrote them; d_out: the gradient of its out."""
    cdef cnp.ndarray Q = _array(q, "q"), K = _array(k, "k"), V = _array(v, "v")
    cdef AttentionParams p = _attention_params("attention_backward", Q, K, V, batch, heads)
    cdef cnp.ndarray P = _array(probs, "probs"), DO = _array(d_out, "d_out")
    cdef cnp.ndarray DQ = _array(dq, "dq"), DK = _array(dk, "dk"), DV = _array(dv, "dv")
    for X, name, shape in ((P, "probs", (p.batch, p.heads, p.tq, p.tk)), (DO, "d_out", (p.batch * p.tq, p.heads * p.dv))):
        _same_dtype(X, Q, name, "q")
        _contiguous(X, name)
        _expect_shape(X, shape, "attention_backward", name)
    others = [(Q, "q"), (K, "k"), (V, "v"), (P, "probs"), (DO, "d_out")]
    _attention_output("attention_backward", DQ, Q, (<object>Q).shape, "dq", others)
    _attention_output("attention_backward", DK, Q, (<object>K).shape, "dk", others)
    _attention_output("attention_backward", DV, Q, (<object>V).shape, "dv", others)
    cdef void* pq = cnp.PyArray_DATA(Q)
    cdef void* pk = cnp.PyArray_DATA(K)
    cdef void* pv = cnp.PyArray_DATA(V)
    cdef void* pp = cnp.PyArray_DATA(P)
    cdef void* pdo = cnp.PyArray_DATA(DO)
    cdef void* pdq = cnp.PyArray_DATA(DQ)
    cdef void* pdk = cnp.PyArray_DATA(DK)
    cdef void* pdv = cnp.PyArray_DATA(DV)
    with nogil:
        if cnp.PyArray_TYPE(Q) == cnp.NPY_FLOAT32:
            c_attention_backward(p, <const float*>pq, <const float*>pk, <const float*>pv, <const float*>pp,
                                 <const float*>pdo, alpha, <float*>pdq, <float*>pdk, <float*>pdv)
        else:
            c_attention_backward(p, <const double*>pq, <const double*>pk, <const double*>pv, <const double*>pp,
                                 <const double*>pdo, alpha, <double*>pdq, <double*>pdk, <double*>pdv)
