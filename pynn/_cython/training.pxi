# A Dense / Dropout chain's whole training step in one call. csrc/training/dense_chain.h.

import numpy as np
from libcpp.vector cimport vector

cdef extern from "training/dense_chain.h" namespace "pynn" nogil:
    cdef enum class ChainLayerKind:
        dense, dropout
    cdef enum class ChainLoss:
        sparse_softmax_cross_entropy, softmax_cross_entropy
    cdef cppclass ChainLayer[T]:
        ChainLayer()
        ChainLayerKind kind
        int64_t in_features, out_features
        const T* kernel
        const T* bias
        T* kernel_grad
        T* bias_grad
        ActivationParams activation
        bint activation_in_gemm
        double rate
        uint64_t seed, offset
        T* y
        T* z
        uint8_t* mask
    cdef cppclass ChainStep[T]:
        ChainLayer[T]* layers
        int64_t num_layers, rows
        const T* x
        ChainLoss loss
        const void* targets
        bint labels64
        T* loss_values
        T* probabilities
        T* grad_a
        T* grad_b
    double c_dense_chain_step "pynn::dense_chain_step"(const ChainStep[float]&) except +
    double c_dense_chain_step "pynn::dense_chain_step"(const ChainStep[double]&) except +


cdef inline void* _weight_data(object arr, int typenum, int64_t rows, int64_t cols, bint writeable):
    """The data of a C-contiguous (rows, cols) array (a vector when rows < 0) of typenum, else NULL."""
    if not isinstance(arr, cnp.ndarray):
        return NULL
    cdef cnp.ndarray a = <cnp.ndarray>arr
    if cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        return NULL
    if writeable and not cnp.PyArray_ISWRITEABLE(a):
        return NULL
    if rows < 0:
        if cnp.PyArray_NDIM(a) != 1 or a.shape[0] != cols:
            return NULL
    elif cnp.PyArray_NDIM(a) != 2 or a.shape[0] != rows or a.shape[1] != cols:
        return NULL
    return cnp.PyArray_DATA(a)


# Methods bound the classic way (binding=False): an unbound call, Class.method(obj), then checks that obj
# is an instance before its C fields are read; Cython 3's default (binding=True) does not.
@cython.binding(False)
@cython.embedsignature(True)
@cython.embedsignature.format("clinic")
cdef class DenseChain:
    """The training step of a chain of Dense and Dropout layers whose last Dense layer's softmax is fused into
    cross-entropy: forward, loss, backward and weight gradients in one C++ call, bit-identical to running the
    layers one by one (pynn/training/dense_chain.py decides which models qualify and builds this).

    layers: per layer, ("dense", kernel, bias, activation, in_gemm, in_features, out_features) with the
    layer's Variables (bias None without one), its activation (None, a name or (name, params); None for
    the last layer) and whether the GEMM applies it; or ("dropout", layer, features) for a Dropout layer,
    whose rate and stream (layer._key) are read at every step.
    dtype: float32 or float64. sparse_labels: integer labels, else (rows, classes) probability targets.
    """
    cdef int typenum
    cdef object dtype
    cdef bint sparse
    cdef list specs
    cdef vector[ChainLayer[float]] l32
    cdef vector[ChainLayer[double]] l64
    cdef int64_t capacity, in_features, classes, widest
    cdef list buffers
    cdef cnp.ndarray values, probs, grad_a, grad_b

    def __init__(self, layers, dtype, bint sparse_labels):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype: expected float32 or float64, got {self.dtype}")
        self.typenum = cnp.NPY_FLOAT32 if self.dtype == np.float32 else cnp.NPY_FLOAT64
        self.sparse = sparse_labels
        self.specs = list(layers)
        cdef ChainLayer[float] a
        cdef ChainLayer[double] b
        self.widest = 0
        for k, spec in enumerate(self.specs):
            a = ChainLayer[float]()
            b = ChainLayer[double]()
            if not isinstance(spec, tuple) or len(spec) not in (3, 7):
                raise ValueError(f"layers[{k}]: expected a tuple ('dense', ...) of 7 or ('dropout', ...) of 3, "
                                 f"got {spec!r}")
            if spec[0] == "dense" and len(spec) == 7:
                _, kernel, bias, activation, in_gemm, fan_in, fan_out = spec
                a.kind = b.kind = ChainLayerKind.dense
                if activation is not None:
                    a.activation = b.activation = _activation_params(activation)
                a.activation_in_gemm = b.activation_in_gemm = bool(in_gemm)
            elif spec[0] == "dropout" and len(spec) == 3:
                _, layer, fan_in = spec
                fan_out = fan_in
                a.kind = b.kind = ChainLayerKind.dropout
                if not callable(getattr(layer, "_key", None)):
                    raise TypeError(f"layers[{k}]: expected a Dropout layer (with rate and _key), got {layer!r}")
                a.rate = b.rate = float(getattr(layer, "rate", None))
            else:
                raise ValueError(f"layers[{k}]: unknown kind {spec[0]!r} or length {len(spec)}")
            if fan_in < 1 or fan_out < 1:
                raise ValueError(f"layers[{k}]: expected positive feature counts, got {fan_in} -> {fan_out}")
            if k and fan_in != (self.l32.back().out_features):
                raise ValueError(f"layers[{k}]: expected {self.l32.back().out_features} input features, got {fan_in}")
            a.in_features = b.in_features = fan_in
            a.out_features = b.out_features = fan_out
            self.l32.push_back(a)
            self.l64.push_back(b)
            self.widest = max(self.widest, fan_in, fan_out)
        if self.l32.empty() or self.l32.back().kind != ChainLayerKind.dense:
            raise ValueError("layers: expected a chain that ends in a Dense layer")
        self.in_features = self.l32.front().in_features
        self.classes = self.l32.back().out_features
        self.capacity = 0

    cdef _allocate(self, int64_t rows):
        """Buffers for batches of up to `rows` samples."""
        self.buffers = []
        cdef size_t k
        cdef cnp.ndarray y, z, mask
        for k in range(self.l32.size()):
            width = self.l32[k].out_features
            y = np.empty((rows, width), self.dtype)
            self.l32[k].y = <float*>cnp.PyArray_DATA(y)
            self.l64[k].y = <double*>cnp.PyArray_DATA(y)
            self.buffers.append(y)
            if self.l32[k].kind == ChainLayerKind.dropout:
                mask = np.empty((rows, width), np.uint8)
                self.l32[k].mask = self.l64[k].mask = <uint8_t*>cnp.PyArray_DATA(mask)
                self.buffers.append(mask)
            elif self.l32[k].activation.kind != Activation.linear and not self.l32[k].activation_in_gemm:
                z = np.empty((rows, width), self.dtype)
                self.l32[k].z = <float*>cnp.PyArray_DATA(z)
                self.l64[k].z = <double*>cnp.PyArray_DATA(z)
                self.buffers.append(z)
        self.values = np.empty(rows, self.dtype)
        self.probs = np.empty((rows, self.classes), self.dtype)
        self.grad_a = np.empty(rows * self.widest, self.dtype)
        self.grad_b = np.empty(rows * self.widest, self.dtype)
        self.capacity = rows

    cdef bint _targets_fit(self, cnp.ndarray Y, int64_t rows):
        if not cnp.PyArray_IS_C_CONTIGUOUS(Y):
            return False
        cdef int t = cnp.PyArray_TYPE(Y)
        if not self.sparse:
            return t == self.typenum and cnp.PyArray_NDIM(Y) == 2 and Y.shape[0] == rows and Y.shape[1] == self.classes
        if t != cnp.NPY_INT32 and t != cnp.NPY_INT64:
            return False
        if not (cnp.PyArray_NDIM(Y) == 1 and Y.shape[0] == rows) and \
                not (cnp.PyArray_NDIM(Y) == 2 and Y.shape[0] == rows and Y.shape[1] == 1):
            return False
        return _first_label_out_of_range(cnp.PyArray_DATA(Y), t == cnp.NPY_INT64, rows, self.classes) < 0

    def step(self, x, y):
        """One training step on (x, y). Returns (the sum of the per-sample losses, the predictions: a view of
        a buffer that the next step overwrites), with every kernel and bias gradient written; or None, with
        nothing changed, when the batch or the weights are not what this chain was built for (another shape
        or dtype, a label out of range): the layer-by-layer path then takes the step, and raises its errors.
        """
        if not isinstance(x, cnp.ndarray) or not isinstance(y, cnp.ndarray):
            return None
        cdef cnp.ndarray X = <cnp.ndarray>x, Y = <cnp.ndarray>y
        if cnp.PyArray_TYPE(X) != self.typenum or cnp.PyArray_NDIM(X) != 2 or X.shape[1] != self.in_features \
                or not cnp.PyArray_IS_C_CONTIGUOUS(X):
            return None
        cdef int64_t rows = X.shape[0]
        if rows == 0 or not self._targets_fit(Y, rows):
            return None
        cdef Py_ssize_t k, n = len(self.specs)
        cdef void* kernel
        cdef void* kernel_grad
        cdef void* bias
        cdef void* bias_grad
        cdef int64_t fan_in, fan_out
        for k in range(n):  # check everything before anything changes
            spec = self.specs[k]
            fan_in, fan_out = self.l32[k].in_features, self.l32[k].out_features
            if spec[0] == "dropout":
                if float(spec[1].rate) != self.l32[k].rate:
                    return None
                continue
            kernel = _weight_data(getattr(spec[1], "value", None), self.typenum, fan_in, fan_out, False)
            kernel_grad = _weight_data(getattr(spec[1], "_grad", None), self.typenum, fan_in, fan_out, True)
            bias = bias_grad = NULL
            if spec[2] is not None:
                bias = _weight_data(getattr(spec[2], "value", None), self.typenum, -1, fan_out, False)
                bias_grad = _weight_data(getattr(spec[2], "_grad", None), self.typenum, -1, fan_out, True)
                if bias == NULL or bias_grad == NULL:
                    return None
            if kernel == NULL or kernel_grad == NULL:
                return None
            self.l32[k].kernel = <const float*>kernel
            self.l64[k].kernel = <const double*>kernel
            self.l32[k].kernel_grad = <float*>kernel_grad
            self.l64[k].kernel_grad = <double*>kernel_grad
            self.l32[k].bias = <const float*>bias
            self.l64[k].bias = <const double*>bias
            self.l32[k].bias_grad = <float*>bias_grad
            self.l64[k].bias_grad = <double*>bias_grad
        if rows > self.capacity:
            self._allocate(rows)
        for k in range(n):
            spec = self.specs[k]
            if spec[0] == "dropout":
                seed, offset = spec[1]._key(rows * self.l32[k].out_features)
                self.l32[k].seed = self.l64[k].seed = seed
                self.l32[k].offset = self.l64[k].offset = offset
        cdef ChainStep[float] s32
        cdef ChainStep[double] s64
        cdef double total
        cdef ChainLoss loss = ChainLoss.sparse_softmax_cross_entropy if self.sparse else ChainLoss.softmax_cross_entropy
        cdef bint labels64 = cnp.PyArray_TYPE(Y) == cnp.NPY_INT64
        if self.typenum == cnp.NPY_FLOAT32:
            s32.layers = self.l32.data()
            s32.num_layers = n
            s32.rows = rows
            s32.x = <const float*>cnp.PyArray_DATA(X)
            s32.loss = loss
            s32.targets = cnp.PyArray_DATA(Y)
            s32.labels64 = labels64
            s32.loss_values = <float*>cnp.PyArray_DATA(self.values)
            s32.probabilities = <float*>cnp.PyArray_DATA(self.probs)
            s32.grad_a = <float*>cnp.PyArray_DATA(self.grad_a)
            s32.grad_b = <float*>cnp.PyArray_DATA(self.grad_b)
            with nogil:
                total = c_dense_chain_step(s32)
        else:
            s64.layers = self.l64.data()
            s64.num_layers = n
            s64.rows = rows
            s64.x = <const double*>cnp.PyArray_DATA(X)
            s64.loss = loss
            s64.targets = cnp.PyArray_DATA(Y)
            s64.labels64 = labels64
            s64.loss_values = <double*>cnp.PyArray_DATA(self.values)
            s64.probabilities = <double*>cnp.PyArray_DATA(self.probs)
            s64.grad_a = <double*>cnp.PyArray_DATA(self.grad_a)
            s64.grad_b = <double*>cnp.PyArray_DATA(self.grad_b)
            with nogil:
                total = c_dense_chain_step(s64)
        for k in range(n):
            spec = self.specs[k]
            if spec[0] == "dense":
                spec[1]._grad_stale = False
                if spec[2] is not None:
                    spec[2]._grad_stale = False
        return total, self.probs[:rows]


cdef extern from "training/gather_rows.h" namespace "pynn" nogil:
    int64_t c_gather_rows "pynn::gather_rows"(const void*, int64_t, int64_t, const int64_t*, int64_t, void*)


def gather_rows(x, index, out):
    """out[i] = x[index[i]] for a C-contiguous x of rank >= 1 and any dtype without Python objects (numbers,
    bool, fixed-width strings, structured records of those), int64 indices (C-contiguous, 1-D) and a
    C-contiguous out of shape (len(index),) + x.shape[1:] and x's dtype. The rows are copied as bytes, so an
    object array (whose elements are references that need counting) raises TypeError. An index outside
    [0, len(x)) raises IndexError before anything is written."""
    cdef cnp.ndarray X = _array(x, "x"), I = _array(index, "index"), O = _array(out, "out")
    if X.dtype.hasobject:
        raise TypeError(f"gather_rows: x: expected a dtype without Python objects (rows are copied as bytes), "
                        f"got {X.dtype}")
    _contiguous(X, "x")
    _contiguous(O, "out")
    _writeable(O, "out")
    _contiguous(I, "index")
    if cnp.PyArray_TYPE(I) != cnp.NPY_INT64 or cnp.PyArray_NDIM(I) != 1:
        raise ValueError(f"index: expected a 1-D int64 array, got {I.dtype} of shape {(<object>I).shape}")
    if cnp.PyArray_NDIM(X) < 1:
        raise ValueError("x: expected an array of rank >= 1")
    if O.dtype != X.dtype:  # the dtypes, not their type numbers: 'V4' and 'V8', 'S2' and 'S9' share one
        raise ValueError(f"out: expected dtype {X.dtype} (the dtype of x), got {O.dtype}")
    _expect_shape(O, (I.shape[0],) + (<object>X).shape[1:], "gather_rows", "out", " (len(index),) + x.shape[1:]")
    if _overlap(O, X):
        raise ValueError("out: must not share memory with x")
    cdef int64_t rows = X.shape[0], count = I.shape[0]
    cdef int64_t row_bytes = (X.size // rows if rows else 0) * cnp.PyArray_ITEMSIZE(X)
    cdef int64_t bad
    cdef const void* px = cnp.PyArray_DATA(X)
    cdef const int64_t* pi = <const int64_t*>cnp.PyArray_DATA(I)
    cdef void* po = cnp.PyArray_DATA(O)
    with nogil:
        bad = c_gather_rows(px, rows, row_bytes, pi, count, po)
    if bad >= 0:
        raise IndexError(f"index {index[bad]} is out of bounds for x with {rows} rows")
