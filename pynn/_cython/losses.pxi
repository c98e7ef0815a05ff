# Loss kernels: per-sample loss and the gradient with respect to the model output. csrc/losses/losses.h.
#
# Every binding takes the model output (logits or predictions) of shape (..., cols), the targets, and
# writes loss (shape (...)) and, when grad is not None, grad (the output's shape): grad is d loss / d output
# times scale and times row_scale (shape (...)) when given. Outputs must not share memory with any input.

from libc.stdint cimport int32_t

cdef extern from "losses/losses.h" namespace "pynn" nogil:
    cdef cppclass LossParams:
        int64_t rows, cols
        double scale, delta
    void c_softmax_cross_entropy "pynn::softmax_cross_entropy"(const LossParams&, const float*, const float*,
                                                               const float*, float*, float*)
    void c_sigmoid_binary_cross_entropy "pynn::sigmoid_binary_cross_entropy"(const LossParams&, const float*,
                                                                             const float*, const float*, float*, float*)
    void c_mean_squared_error "pynn::mean_squared_error"(const LossParams&, const float*, const float*, const float*,
                                                         float*, float*)
    void c_mean_absolute_error "pynn::mean_absolute_error"(const LossParams&, const float*, const float*, const float*,
                                                           float*, float*)
    void c_huber "pynn::huber"(const LossParams&, const float*, const float*, const float*, float*, float*)
    int64_t c_sparse_softmax_cross_entropy "pynn::sparse_softmax_cross_entropy"(
        const LossParams&, const float*, const int32_t*, const float*, float*, float*)
    int64_t c_sparse_softmax_cross_entropy "pynn::sparse_softmax_cross_entropy"(
        const LossParams&, const float*, const int64_t*, const float*, float*, float*)
    void c_softmax_cross_entropy "pynn::softmax_cross_entropy"(const LossParams&, const double*, const double*,
                                                               const double*, double*, double*)
    void c_sigmoid_binary_cross_entropy "pynn::sigmoid_binary_cross_entropy"(const LossParams&, const double*,
                                                                             const double*, const double*, double*, double*)
    void c_mean_squared_error "pynn::mean_squared_error"(const LossParams&, const double*, const double*, const double*,
                                                         double*, double*)
    void c_mean_absolute_error "pynn::mean_absolute_error"(const LossParams&, const double*, const double*, const double*,
                                                           double*, double*)
    void c_huber "pynn::huber"(const LossParams&, const double*, const double*, const double*, double*, double*)
    int64_t c_sparse_softmax_cross_entropy "pynn::sparse_softmax_cross_entropy"(
        const LossParams&, const double*, const int32_t*, const double*, double*, double*)
    int64_t c_sparse_softmax_cross_entropy "pynn::sparse_softmax_cross_entropy"(
        const LossParams&, const double*, const int64_t*, const double*, double*, double*)


cdef class _LossArgs:
    """The checked arrays of one loss call, as raw pointers."""
    cdef LossParams p
    cdef int kind
    cdef void* output
    cdef void* target
    cdef void* loss
    cdef void* grad
    cdef void* row_scale


cdef _LossArgs _loss_args(object output, object loss, object grad, object row_scale, double scale,
                          str output_name):
    """Check output (..., cols), loss (...), grad (..., cols) or None, row_scale (...) or None."""
    cdef _LossArgs a = _LossArgs()
    cdef cnp.ndarray Z = _array(output, output_name), L = _array(loss, "loss"), G, S
    a.kind = _float_kind(Z, output_name)
    _contiguous(Z, output_name)
    cdef int64_t cols = _last_dim(Z, output_name)
    lead = (<object>Z).shape[:cnp.PyArray_NDIM(Z) - 1]
    cdef int64_t rows = 1
    for d in lead:
        rows *= d
    if rows > 0 and cols == 0:
        raise ValueError(f"{output_name}: expected a last axis of at least 1 element, got shape {(<object>Z).shape}")
    _same_dtype(L, Z, "loss", output_name)
    _contiguous(L, "loss")
    if (<object>L).shape != lead:
        raise ValueError(f"loss: expected shape {lead} ({output_name}'s shape without its last axis), "
                         f"got {(<object>L).shape}")
    _writeable(L, "loss")
    if _overlap(L, Z):
        raise ValueError(f"loss: must not share memory with {output_name}")
    a.p.rows = rows
    a.p.cols = cols
    a.p.scale = scale
    a.output = cnp.PyArray_DATA(Z)
    a.loss = cnp.PyArray_DATA(L)
    a.grad = NULL
    a.row_scale = NULL
    if grad is not None:
        G = _array(grad, "grad")
        _output(G, Z, "grad", output_name)
        if _overlap(G, Z) or _overlap(G, L):
            raise ValueError(f"grad: must not share memory with {output_name} or loss")
        a.grad = cnp.PyArray_DATA(G)
    if row_scale is not None:
        S = _array(row_scale, "row_scale")
        _same_dtype(S, Z, "row_scale", output_name)
        _contiguous(S, "row_scale")
        if (<object>S).shape != lead:
            raise ValueError(f"row_scale: expected shape {lead} ({output_name}'s shape without its last axis), "
                             f"got {(<object>S).shape}")
        a.row_scale = cnp.PyArray_DATA(S)
    return a


cdef int _dense_target(_LossArgs a, object target, object output, object loss, object grad,
                       str target_name, str output_name) except -1:
    cdef cnp.ndarray Y = _array(target, target_name)
    _float_input(Y, <cnp.ndarray>output, target_name, output_name)
    if _overlap(<cnp.ndarray>loss, Y) or (grad is not None and _overlap(<cnp.ndarray>grad, Y)):
        raise ValueError(f"loss, grad: must not share memory with {target_name}")
    a.target = cnp.PyArray_DATA(Y)
    return 0


# One loss kernel for the float type T.
ctypedef fused _real:
    float
    double

cdef void _run_dense(int which, _LossArgs a, _real* tag) noexcept nogil:
    cdef const _real* z = <const _real*>a.output
    cdef const _real* y = <const _real*>a.target
    cdef const _real* s = <const _real*>a.row_scale
    cdef _real* l = <_real*>a.loss
    cdef _real* g = <_real*>a.grad
    if which == 0:
        c_softmax_cross_entropy(a.p, z, y, s, l, g)
    elif which == 1:
        c_sigmoid_binary_cross_entropy(a.p, z, y, s, l, g)
    elif which == 2:
        c_mean_squared_error(a.p, z, y, s, l, g)
    elif which == 3:
        c_mean_absolute_error(a.p, z, y, s, l, g)
    else:
        c_huber(a.p, z, y, s, l, g)


cdef _dense_loss(int which, object output, object target, object loss, object grad, object row_scale,
                 double scale, double delta, str output_name, str target_name):
    cdef _LossArgs a = _loss_args(output, loss, grad, row_scale, scale, output_name)
    _dense_target(a, target, output, loss, grad, target_name, output_name)
    a.p.delta = delta
    with nogil:
        if a.kind == 0:
            _run_dense(which, a, <float*>NULL)
        else:
            _run_dense(which, a, <double*>NULL)


def softmax_cross_entropy(logits, targets, loss, grad=None, row_scale=None, double scale=1.0):
    """Categorical cross-entropy from logits: loss = sum_j y_j (logsumexp(z) - z_j); grad = softmax(z) sum(y) - y.

    logits, targets: (..., classes); loss, row_scale: (...); grad: (..., classes) or None. One float dtype.
    """
    _dense_loss(0, logits, targets, loss, grad, row_scale, scale, 0.0, "logits", "targets")


def sigmoid_binary_cross_entropy(logits, targets, loss, grad=None, row_scale=None, double scale=1.0):
    """Binary cross-entropy from logits, averaged over the last axis; grad = (sigmoid(z) - y) / cols."""
    _dense_loss(1, logits, targets, loss, grad, row_scale, scale, 0.0, "logits", "targets")


def mean_squared_error(predictions, targets, loss, grad=None, row_scale=None, double scale=1.0):
    """mean((p - y)^2) over the last axis; grad = 2 (p - y) / cols."""
    _dense_loss(2, predictions, targets, loss, grad, row_scale, scale, 0.0, "predictions", "targets")


def mean_absolute_error(predictions, targets, loss, grad=None, row_scale=None, double scale=1.0):
    """mean(|p - y|) over the last axis; grad = sign(p - y) / cols."""
    _dense_loss(3, predictions, targets, loss, grad, row_scale, scale, 0.0, "predictions", "targets")


def huber(predictions, targets, loss, grad=None, row_scale=None, double scale=1.0, double delta=1.0):
    """Huber loss with threshold delta >= 0, averaged over the last axis; grad = clip(p - y, -delta, delta) / cols."""
    if not delta >= 0:
        raise ValueError(f"delta: expected a number >= 0, got {delta!r}")
    _dense_loss(4, predictions, targets, loss, grad, row_scale, scale, delta, "predictions", "targets")


cdef int64_t _run_sparse(_LossArgs a, const void* labels, bint labels64) noexcept nogil:
    if a.kind == 0:
        if labels64:
            return c_sparse_softmax_cross_entropy(a.p, <const float*>a.output, <const int64_t*>labels,
                                                  <const float*>a.row_scale, <float*>a.loss, <float*>a.grad)
        return c_sparse_softmax_cross_entropy(a.p, <const float*>a.output, <const int32_t*>labels,
                                              <const float*>a.row_scale, <float*>a.loss, <float*>a.grad)
    if labels64:
        return c_sparse_softmax_cross_entropy(a.p, <const double*>a.output, <const int64_t*>labels,
                                              <const double*>a.row_scale, <double*>a.loss, <double*>a.grad)
    return c_sparse_softmax_cross_entropy(a.p, <const double*>a.output, <const int32_t*>labels,
                                          <const double*>a.row_scale, <double*>a.loss, <double*>a.grad)


cdef int64_t _first_label_out_of_range(const void* labels, bint labels64, int64_t n, int64_t classes) noexcept nogil:
    cdef int64_t i, label
    for i in range(n):
        label = (<const int64_t*>labels)[i] if labels64 else (<const int32_t*>labels)[i]
        if label < 0 or label >= classes:
            return i
    return -1


def sparse_softmax_cross_entropy(logits, labels, loss, grad=None, row_scale=None, double scale=1.0):
    """Sparse categorical cross-entropy from logits: loss = logsumexp(z) - z[label]; grad = softmax(z) - onehot.

    logits: (..., classes). labels: int32 or int64 of shape (...) or (..., 1), each in [0, classes).
    Out-of-range labels raise ValueError before anything is written.
    """
    cdef _LossArgs a = _loss_args(logits, loss, grad, row_scale, scale, "logits")
    cdef cnp.ndarray Lab = _array(labels, "labels")
    cdef int t = cnp.PyArray_TYPE(Lab)
    if t != cnp.NPY_INT32 and t != cnp.NPY_INT64:
        raise ValueError(f"labels: expected dtype int32 or int64, got {Lab.dtype}")
    _contiguous(Lab, "labels")
    lead = (<object>logits).shape[:len((<object>logits).shape) - 1]
    if (<object>Lab).shape != lead and (<object>Lab).shape != lead + (1,):
        raise ValueError(f"labels: expected shape {lead} or {lead + (1,)} (logits {(<object>logits).shape} "
                         f"without its last axis), got {(<object>Lab).shape}")
    cdef int64_t classes = a.p.cols
    cdef const void* pl = cnp.PyArray_DATA(Lab)
    cdef bint labels64 = t == cnp.NPY_INT64
    cdef int64_t i = _first_label_out_of_range(pl, labels64, Lab.size, classes)
    if i >= 0:
        raise ValueError(f"labels: label {int((<object>Lab).reshape(-1)[i])} (at flat index {i}) is out of range "
                         f"for {classes} classes; expected 0 <= label < {classes}")
    cdef int64_t bad_row
    with nogil:
        bad_row = _run_sparse(a, pl, labels64)
    if bad_row >= 0:  # unreachable after the check above; the kernel checks again and never reads out of bounds
        raise ValueError(f"labels: label at index {bad_row} is out of range for {classes} classes")
