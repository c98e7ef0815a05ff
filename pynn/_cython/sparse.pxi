# Sparse-weight matrix multiply for pruned Dense layers (csrc/sparse/spmm.h).

cdef extern from "sparse/spmm.h" namespace "pynn" nogil:
    int64_t c_sparse_count_nonzeros "pynn::sparse_count_nonzeros"(const float*, int64_t, int64_t)
    void c_sparse_pack "pynn::sparse_pack"(const float*, int64_t, int64_t, int32_t*, int32_t*, float*)
    void c_sparse_matmul "pynn::sparse_matmul"(int64_t, int64_t, int64_t, const float*, int64_t, const int32_t*,
                                               const int32_t*, const float*, const float*,
                                               const ActivationParams*, float*, int64_t)
    void c_sparse_matmul_reference "pynn::sparse_matmul_reference"(int64_t, int64_t, int64_t, const float*, int64_t,
                                                                   const int32_t*, const int32_t*, const float*,
                                                                   const float*, const ActivationParams*, float*,
                                                                   int64_t)


def sparse_count_nonzeros(w):
    """The number of nonzero entries of w ((k, n) float32, C-contiguous)."""
    cdef cnp.ndarray W = _array(w, "w")
    _typed(W, cnp.NPY_FLOAT32, "float32", "sparse_count_nonzeros", "w")
    if cnp.PyArray_NDIM(W) != 2:
        raise ValueError(f"sparse_count_nonzeros: w: expected a 2-D array, got shape {(<object>W).shape}")
    cdef const float* pw = <const float*>cnp.PyArray_DATA(W)
    cdef int64_t k = W.shape[0], n = W.shape[1], count
    with nogil:
        count = c_sparse_count_nonzeros(pw, k, n)
    return count


# Methods bound the classic way (binding=False): an unbound call, Class.method(obj), then checks that obj
# is an instance before its C fields are read; Cython 3's default (binding=True) does not.
@cython.binding(False)
@cython.embedsignature(True)
@cython.embedsignature.format("clinic")
cdef class SparseMatrix:
    """A (k, n) float32 weight matrix held as compressed sparse columns, for y = act(x @ w + bias) at one
    multiply-add per nonzero. Built from the dense matrix; its arrays are private to it, so a product never
    reads past them whatever it is called with.

    Example:
        >>> s = SparseMatrix(w)                 # w (k, n) float32, mostly zeros
        >>> s.matmul(x, y, bias=b, activation="relu")
    """
    cdef readonly int64_t k, n, nnz
    cdef cnp.ndarray col_ptr, row_idx, values

    def __init__(self, w):
        cdef cnp.ndarray W = _array(w, "w")
        _typed(W, cnp.NPY_FLOAT32, "float32", "SparseMatrix", "w")
        if cnp.PyArray_NDIM(W) != 2 or W.shape[0] < 1 or W.shape[1] < 1:
            raise ValueError(f"SparseMatrix: w: expected a non-empty 2-D array, got shape {(<object>W).shape}")
        if W.shape[0] >= 2 ** 31 or W.shape[0] * W.shape[1] >= 2 ** 31:
            raise ValueError(f"SparseMatrix: w: {(<object>W).shape} is too large (under 2**31 entries)")
        self.k = W.shape[0]
        self.n = W.shape[1]
        cdef const float* pw = <const float*>cnp.PyArray_DATA(W)
        with nogil:
            self.nnz = c_sparse_count_nonzeros(pw, self.k, self.n)
        self.col_ptr = np.empty(self.n + 1, np.int32)
        self.row_idx = np.empty(max(self.nnz, 1), np.int32)
        self.values = np.empty(max(self.nnz, 1), np.float32)
        cdef int32_t* pc = <int32_t*>cnp.PyArray_DATA(self.col_ptr)
        cdef int32_t* pr = <int32_t*>cnp.PyArray_DATA(self.row_idx)
        cdef float* pv = <float*>cnp.PyArray_DATA(self.values)
        with nogil:
            c_sparse_pack(pw, self.k, self.n, pc, pr, pv)

    @property
    def density(self):
        """The fraction of entries that are nonzero."""
        return <double>self.nnz / <double>(self.k * self.n)

    def to_dense(self):
        """The (k, n) float32 matrix back."""
        w = np.zeros((self.k, self.n), np.float32)
        cols = np.repeat(np.arange(self.n), np.diff(self.col_ptr))
        w[self.row_idx[:self.nnz], cols] = self.values[:self.nnz]
        return w

    def matmul(self, x, y, bias=None, activation=None, bint reference=False):
        """y = act(x @ w + bias): x (m, k) and y (m, n) float32 with contiguous rows, bias (n,) float32 or None,
        activation an elementwise activation name (or (name, params)) or None. reference: the plain loops."""
        cdef cnp.ndarray X = _array(x, "x"), Y = _array(y, "y"), BIAS
        if cnp.PyArray_TYPE(X) != cnp.NPY_FLOAT32:
            raise ValueError(f"SparseMatrix.matmul: x: expected dtype float32, got {X.dtype}")
        if cnp.PyArray_TYPE(Y) != cnp.NPY_FLOAT32:
            raise ValueError(f"SparseMatrix.matmul: y: expected dtype float32, got {Y.dtype}")
        _writeable(Y, "y")
        if cnp.PyArray_NDIM(X) != 2 or cnp.PyArray_NDIM(Y) != 2:
            raise ValueError(f"SparseMatrix.matmul: x and y must be 2-D, got shapes {(<object>X).shape} and "
                             f"{(<object>Y).shape}")
        cdef int64_t m = X.shape[0]
        if X.shape[1] != self.k:
            raise ValueError(f"SparseMatrix.matmul: x: expected shape ({m}, {self.k}), got {(<object>X).shape}")
        _expect_shape(Y, (m, self.n), "SparseMatrix.matmul", "y")
        cdef int64_t ldx = _row_stride(X, "x"), ldy = _row_stride(Y, "y")
        if _overlap(Y, X):
            raise ValueError("SparseMatrix.matmul: y must not share memory with x")
        cdef const float* pbias = NULL
        if bias is not None:
            BIAS = _array(bias, "bias")
            _typed(BIAS, cnp.NPY_FLOAT32, "float32", "SparseMatrix.matmul", "bias")
            _expect_shape(BIAS, (self.n,), "SparseMatrix.matmul", "bias")
            if _overlap(Y, BIAS):
                raise ValueError("SparseMatrix.matmul: y must not share memory with bias")
            pbias = <const float*>cnp.PyArray_DATA(BIAS)
        cdef ActivationParams act
        cdef const ActivationParams* pact = NULL
        if activation is not None:
            act = _activation_params(activation)
            pact = &act
        cdef const float* px = <const float*>cnp.PyArray_DATA(X)
        cdef float* py = <float*>cnp.PyArray_DATA(Y)
        cdef const int32_t* pc = <const int32_t*>cnp.PyArray_DATA(self.col_ptr)
        cdef const int32_t* pr = <const int32_t*>cnp.PyArray_DATA(self.row_idx)
        cdef const float* pv = <const float*>cnp.PyArray_DATA(self.values)
        with nogil:
            if reference:
                c_sparse_matmul_reference(m, self.k, self.n, px, ldx, pc, pr, pv, pbias, pact, py, ldy)
            else:
                c_sparse_matmul(m, self.k, self.n, px, ldx, pc, pr, pv, pbias, pact, py, ldy)

    def __reduce__(self):
        return (SparseMatrix, (self.to_dense(),))
