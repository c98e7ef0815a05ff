# Elementwise activations and softmax / log_softmax, forward and backward. csrc/activations/activations.h.

cdef extern from "activations/activations.h" namespace "pynn" nogil:
    cpdef enum class Activation:
        linear, relu, leaky_relu, elu, selu, gelu, gelu_tanh, sigmoid, hard_sigmoid, tanh, softplus, \
        softsign, swish, exponential
    cdef cppclass ActivationParams:
        Activation kind
        double negative_slope
        double max_value
        double threshold
        double alpha
    void c_activation_forward "pynn::activation_forward"(const ActivationParams& p, const float* x, float* y, int64_t n)
    void c_activation_forward "pynn::activation_forward"(const ActivationParams& p, const double* x, double* y, int64_t n)
    bint activation_backward_uses_y(Activation kind)
    void c_activation_backward "pynn::activation_backward"(const ActivationParams& p, const float* x, const float* y, const float* dy,
                             float* dx, int64_t n)
    void c_activation_backward "pynn::activation_backward"(const ActivationParams& p, const double* x, const double* y, const double* dy,
                             double* dx, int64_t n)
    void c_softmax_forward "pynn::softmax_forward"(const float* x, float* y, int64_t rows, int64_t cols)
    void c_softmax_forward "pynn::softmax_forward"(const double* x, double* y, int64_t rows, int64_t cols)
    void c_log_softmax_forward "pynn::log_softmax_forward"(const float* x, float* y, int64_t rows, int64_t cols)
    void c_log_softmax_forward "pynn::log_softmax_forward"(const double* x, double* y, int64_t rows, int64_t cols)
    void c_softmax_backward "pynn::softmax_backward"(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols)
    void c_softmax_backward "pynn::softmax_backward"(const double* y, const double* dy, double* dx, int64_t rows, int64_t cols)
    void c_log_softmax_backward "pynn::log_softmax_backward"(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols)
    void c_log_softmax_backward "pynn::log_softmax_backward"(const double* y, const double* dy, double* dx, int64_t rows, int64_t cols)


# The parameters each activation takes (Keras's names), with Keras's defaults.
_ACTIVATION_PARAM_DEFAULTS = {
    "relu": {"negative_slope": 0.0, "max_value": None, "threshold": 0.0},
    "leaky_relu": {"negative_slope": 0.2},
    "elu": {"alpha": 1.0},
    "gelu": {"approximate": False},
}


cdef ActivationParams _activation_params(object spec) except *:
    """spec: an activation name, or (name, dict of parameters).

    Parameters (unknown ones are an error): relu(negative_slope=0, max_value=None, threshold=0),
    leaky_relu(negative_slope=0.2), elu(alpha=1), gelu(approximate=False; True selects gelu_tanh).
    """
    cdef ActivationParams p
    cached = _ACTIVATION_BY_NAME.get(spec) if type(spec) is str else None
    if cached is not None:  # a plain name, seen before: the hot path of Dense's fused GEMM
        p.kind, p.negative_slope, p.max_value, p.threshold, p.alpha = cached
        return p
    name = spec
    params = {}
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], dict):
            raise ValueError(f"activation: expected a name or (name, dict of parameters), got {spec!r}")
        spec, params = spec
    if not isinstance(spec, str) or spec not in Activation.__members__:
        raise ValueError(f"activation: unknown name {spec!r}; expected one of "
                         f"{[a.name for a in Activation]}")
    allowed = _ACTIVATION_PARAM_DEFAULTS.get(spec, {})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"activation {spec!r}: unknown parameter(s) {unknown}; it takes "
                         f"{sorted(allowed) if allowed else 'none'}")
    params = {**allowed, **params}
    if spec == "gelu" and params["approximate"]:
        spec = "gelu_tanh"
    p.kind = Activation[spec]
    p.negative_slope = params.get("negative_slope", 0.0)
    mv = params.get("max_value", None)
    if mv is not None and mv < 0:
        raise ValueError(f"activation 'relu': max_value must be None or >= 0, got {mv!r}")
    p.max_value = -1.0 if mv is None else mv
    p.threshold = params.get("threshold", 0.0)
    p.alpha = params.get("alpha", 1.0)
    if type(name) is str:
        _ACTIVATION_BY_NAME[name] = (p.kind, p.negative_slope, p.max_value, p.threshold, p.alpha)
    return p


_ACTIVATION_BY_NAME = {}  # name -> the fields of its ActivationParams with default parameters


cdef inline int _float_input(cnp.ndarray x, cnp.ndarray ref, str name, str ref_name) except -1:
    """x has ref's dtype and shape and is C-contiguous."""
    _same_dtype(x, ref, name, ref_name)
    _contiguous(x, name)
    _same_shape(x, ref, name, ref_name)
    return 0

cdef inline int _output(cnp.ndarray out, cnp.ndarray ref, str name, str ref_name) except -1:
    _float_input(out, ref, name, ref_name)
    _writeable(out, name)
    return 0

cdef inline int _no_partial_overlap(cnp.ndarray out, cnp.ndarray x, str out_name, str x_name) except -1:
    """out may be x itself (same memory, same layout: elementwise in place) but must not overlap it otherwise."""
    if not _overlap(out, x):
        return 0
    if cnp.PyArray_DATA(out) == cnp.PyArray_DATA(x) and (<object>out).strides == (<object>x).strides:
        return 0
    raise ValueError(f"{out_name}: must be {x_name} itself or not share memory with it")

cdef inline int64_t _last_dim(cnp.ndarray x, str name) except -1:
    if cnp.PyArray_NDIM(x) < 1:
        raise ValueError(f"{name}: expected an array of at least 1 dimension, got shape {(<object>x).shape}")
    return x.shape[cnp.PyArray_NDIM(x) - 1]


def activation_forward(x, y, activation):
    """y[...] = f(x), elementwise. y may be x (in place).

    x, y: C-contiguous float32 or float64 arrays of one shape and dtype. activation: a name or (name, params).
    """
    cdef cnp.ndarray X = _array(x, "x"), Y = _array(y, "y")
    cdef int kind = _float_kind(X, "x")
    _contiguous(X, "x")
    _output(Y, X, "y", "x")
    _no_partial_overlap(Y, X, "y", "x")
    cdef ActivationParams p = _activation_params(activation)
    cdef int64_t n = X.size
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* py = cnp.PyArray_DATA(Y)
    with nogil:
        if kind == 0:
            c_activation_forward(p, <const float*>px, <float*>py, n)
        else:
            c_activation_forward(p, <const double*>px, <double*>py, n)


def activation_backward_uses_output(activation):
    """True when the derivative of this activation is computed from its output y alone (x not needed)."""
    return bool(activation_backward_uses_y(_activation_params(activation).kind))


def activation_backward(x, y, dy, dx, activation):
    """dx[...] = dy * f'(x), elementwise.

    x: the forward input, or None when the activation's derivative needs only y (sigmoid, tanh, exponential).
    y: the forward output f(x), or None. dy, dx: the gradients (dx may be dy, x or y itself).
    All arrays C-contiguous, of one shape and dtype (float32 or float64).
    """
    cdef cnp.ndarray DY = _array(dy, "dy"), DX = _array(dx, "dx"), X, Y
    cdef int kind = _float_kind(DY, "dy")
    _contiguous(DY, "dy")
    _output(DX, DY, "dx", "dy")
    _no_partial_overlap(DX, DY, "dx", "dy")
    cdef ActivationParams p = _activation_params(activation)
    cdef bint uses_y = activation_backward_uses_y(p.kind)
    cdef void* px = NULL
    cdef void* py = NULL
    if x is not None:
        X = _array(x, "x")
        _float_input(X, DY, "x", "dy")
        _no_partial_overlap(DX, X, "dx", "x")
        px = cnp.PyArray_DATA(X)
    if y is not None and uses_y:
        Y = _array(y, "y")
        _float_input(Y, DY, "y", "dy")
        _no_partial_overlap(DX, Y, "dx", "y")
        py = cnp.PyArray_DATA(Y)
    if px == NULL and py == NULL:
        need = "x or y" if uses_y else "x"
        raise ValueError(f"activation_backward: the derivative of {Activation(p.kind).name!r} needs {need}; "
                         f"got neither")
    cdef int64_t n = DY.size
    cdef void* pdy = cnp.PyArray_DATA(DY)
    cdef void* pdx = cnp.PyArray_DATA(DX)
    with nogil:
        if kind == 0:
            c_activation_backward(p, <const float*>px, <const float*>py, <const float*>pdy, <float*>pdx, n)
        else:
            c_activation_backward(p, <const double*>px, <const double*>py, <const double*>pdy, <double*>pdx, n)


def softmax_forward(x, y, bint log=False):
    """y[...] = softmax(x) (log_softmax when log) over the last axis. y may be x (in place).

    x, y: C-contiguous float32 or float64 arrays of one shape (at least 1-D) and dtype.
    """
    cdef cnp.ndarray X = _array(x, "x"), Y = _array(y, "y")
    cdef int kind = _float_kind(X, "x")
    _contiguous(X, "x")
    _output(Y, X, "y", "x")
    _no_partial_overlap(Y, X, "y", "x")
    cdef int64_t cols = _last_dim(X, "x")
    cdef int64_t rows = X.size // cols if cols > 0 else 0
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* py = cnp.PyArray_DATA(Y)
    with nogil:
        if kind == 0:
            if log:
                c_log_softmax_forward(<const float*>px, <float*>py, rows, cols)
            else:
                c_softmax_forward(<const float*>px, <float*>py, rows, cols)
        else:
            if log:
                c_log_softmax_forward(<const double*>px, <double*>py, rows, cols)
            else:
                c_softmax_forward(<const double*>px, <double*>py, rows, cols)


def softmax_backward(y, dy, dx, bint log=False):
    """dx[...] = y * (dy - sum(dy * y)) over the last axis; with log, dx = dy - exp(y) * sum(dy).

    y: the forward output (softmax, or log_softmax when log). dx may be dy or y itself.
    y, dy, dx: C-contiguous float32 or float64 arrays of one shape (at least 1-D) and dtype.
    """
    cdef cnp.ndarray Y = _array(y, "y"), DY = _array(dy, "dy"), DX = _array(dx, "dx")
    cdef int kind = _float_kind(Y, "y")
    _contiguous(Y, "y")
    _float_input(DY, Y, "dy", "y")
    _output(DX, Y, "dx", "y")
    _no_partial_overlap(DX, Y, "dx", "y")
    _no_partial_overlap(DX, DY, "dx", "dy")
    cdef int64_t cols = _last_dim(Y, "y")
    cdef int64_t rows = Y.size // cols if cols > 0 else 0
    cdef void* py = cnp.PyArray_DATA(Y)
    cdef void* pdy = cnp.PyArray_DATA(DY)
    cdef void* pdx = cnp.PyArray_DATA(DX)
    with nogil:
        if kind == 0:
            if log:
                c_log_softmax_backward(<const float*>py, <const float*>pdy, <float*>pdx, rows, cols)
            else:
                c_softmax_backward(<const float*>py, <const float*>pdy, <float*>pdx, rows, cols)
        else:
            if log:
                c_log_softmax_backward(<const double*>py, <const double*>pdy, <double*>pdx, rows, cols)
            else:
                c_softmax_backward(<const double*>py, <const double*>pdy, <double*>pdx, rows, cols)
