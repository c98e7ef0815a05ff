# Deterministic reductions over a batch (double accumulation). csrc/reduce/reduce.h.

cdef extern from "reduce/reduce.h" namespace "pynn" nogil:
    void c_sum_rows "pynn::sum_rows"(const float*, int64_t, int64_t, int64_t, float*)
    void c_sum_rows "pynn::sum_rows"(const double*, int64_t, int64_t, int64_t, double*)
    void c_sum_rows_reference "pynn::sum_rows_reference"(const float*, int64_t, int64_t, int64_t, float*)
    void c_sum_rows_reference "pynn::sum_rows_reference"(const double*, int64_t, int64_t, int64_t, double*)
    double c_sum "pynn::sum"(const float*, int64_t)
    double c_sum "pynn::sum"(const double*, int64_t)
    double c_sum_reference "pynn::sum_reference"(const float*, int64_t)
    double c_sum_reference "pynn::sum_reference"(const double*, int64_t)
    void c_weighted_sum "pynn::weighted_sum"(const float*, const float*, int64_t, double*, double*)
    void c_weighted_sum "pynn::weighted_sum"(const double*, const double*, int64_t, double*, double*)


def sum_rows(x, out, bint reference=False):
    """out[j] = sum_i x[i, j]: x 2-D float32 / float64 with contiguous rows, out C-contiguous of length cols."""
    cdef cnp.ndarray X = _array(x, "x"), O = _array(out, "out")
    cdef int kind = _float_kind(X, "x")
    if cnp.PyArray_NDIM(X) != 2:
        raise ValueError(f"x: expected a 2-D array, got shape {(<object>X).shape}")
    cdef int64_t rows = X.shape[0], cols = X.shape[1]
    cdef int64_t ld = _row_stride(X, "x")
    _same_dtype(O, X, "out", "x")
    _contiguous(O, "out")
    _writeable(O, "out")
    if cnp.PyArray_NDIM(O) != 1 or O.shape[0] != cols:
        raise ValueError(f"out: expected shape ({cols},), got {(<object>O).shape}")
    if _overlap(O, X):
        raise ValueError("out: must not share memory with x")
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* po = cnp.PyArray_DATA(O)
    with nogil:
        if kind == 0:
            if reference:
                c_sum_rows_reference(<const float*>px, rows, cols, ld, <float*>po)
            else:
                c_sum_rows(<const float*>px, rows, cols, ld, <float*>po)
        else:
            if reference:
                c_sum_rows_reference(<const double*>px, rows, cols, ld, <double*>po)
            else:
                c_sum_rows(<const double*>px, rows, cols, ld, <double*>po)


def reduce_sum(x, bint reference=False):
    """The sum of every element of x (C-contiguous float32 / float64), as a Python float (double)."""
    cdef cnp.ndarray X = _array(x, "x")
    cdef int kind = _float_kind(X, "x")
    _contiguous(X, "x")
    cdef int64_t n = X.size
    cdef void* px = cnp.PyArray_DATA(X)
    cdef double total
    with nogil:
        if kind == 0:
            total = c_sum_reference(<const float*>px, n) if reference else c_sum(<const float*>px, n)
        else:
            total = c_sum_reference(<const double*>px, n) if reference else c_sum(<const double*>px, n)
    return total


def reduce_weighted_sum(values, weights):
    """(sum of values * weights, sum of weights) as Python floats; C-contiguous arrays of one shape and dtype."""
    cdef cnp.ndarray V = _array(values, "values"), W = _array(weights, "weights")
    cdef int kind = _float_kind(V, "values")
    _contiguous(V, "values")
    _same_dtype(W, V, "weights", "values")
    _contiguous(W, "weights")
    if (<object>W).shape != (<object>V).shape:
        raise ValueError(f"weights: expected shape {(<object>V).shape} (the shape of values), "
                         f"got {(<object>W).shape}")
    cdef int64_t n = V.size
    cdef void* pv = cnp.PyArray_DATA(V)
    cdef void* pw = cnp.PyArray_DATA(W)
    cdef double weighted = 0.0, total = 0.0
    with nogil:
        if kind == 0:
            c_weighted_sum(<const float*>pv, <const float*>pw, n, &weighted, &total)
        else:
            c_weighted_sum(<const double*>pv, <const double*>pw, n, &weighted, &total)
    return weighted, total
