# Batch normalization over x viewed as (outer, channels, inner) (csrc/normalization/batch_norm.h) and layer
# normalization of the rows of a 2-D array (csrc/normalization/layer_norm.h).

cdef extern from "normalization/batch_norm.h" namespace "pynn" nogil:
    cdef cppclass BatchNormParams:
        int64_t outer, channels, inner
        double epsilon, momentum
    void c_batch_norm_forward_training "pynn::batch_norm_forward_training"(
        const BatchNormParams&, const float*, const float*, const float*, float*, float*, float*, float*, float*)
    void c_batch_norm_forward_training "pynn::batch_norm_forward_training"(
        const BatchNormParams&, const double*, const double*, const double*, double*, double*, double*, double*,
        double*)
    void c_batch_norm_forward_inference "pynn::batch_norm_forward_inference"(
        const BatchNormParams&, const float*, const float*, const float*, const float*, const float*, float*)
    void c_batch_norm_forward_inference "pynn::batch_norm_forward_inference"(
        const BatchNormParams&, const double*, const double*, const double*, const double*, const double*, double*)
    void c_batch_norm_backward "pynn::batch_norm_backward"(
        const BatchNormParams&, bint, const float*, const float*, const float*, const float*, const float*, float*,
        float*, float*)
    void c_batch_norm_backward "pynn::batch_norm_backward"(
        const BatchNormParams&, bint, const double*, const double*, const double*, const double*, const double*,
        double*, double*, double*)
    void c_batch_norm_forward_training_reference "pynn::batch_norm_forward_training_reference"(
        const BatchNormParams&, const float*, const float*, const float*, float*, float*, float*, float*, float*)
    void c_batch_norm_forward_training_reference "pynn::batch_norm_forward_training_reference"(
        const BatchNormParams&, const double*, const double*, const double*, double*, double*, double*, double*,
        double*)
    void c_batch_norm_backward_reference "pynn::batch_norm_backward_reference"(
        const BatchNormParams&, bint, const float*, const float*, const float*, const float*, const float*, float*,
        float*, float*)
    void c_batch_norm_backward_reference "pynn::batch_norm_backward_reference"(
        const BatchNormParams&, bint, const double*, const double*, const double*, const double*, const double*,
        double*, double*, double*)


cdef BatchNormParams _batch_norm_params(cnp.ndarray x, str name, double epsilon, double momentum) except *:
    cdef BatchNormParams p
    if cnp.PyArray_NDIM(x) != 3:
        raise ValueError(f"{name}: expected a 3-D (outer, channels, inner) array, got shape {(<object>x).shape}")
    _contiguous(x, name)
    p.outer, p.channels, p.inner = x.shape[0], x.shape[1], x.shape[2]
    if p.outer < 1 or p.channels < 1 or p.inner < 1:
        raise ValueError(f"{name}: expected a non-empty array, got shape {(<object>x).shape}")
    if not epsilon > 0:
        raise ValueError(f"epsilon: expected a number > 0, got {epsilon}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum: expected a number in [0, 1], got {momentum}")
    p.epsilon, p.momentum = epsilon, momentum
    return p


cdef void* _channel_vector(object v, cnp.ndarray x, int64_t channels, str name, bint output,
                           list inputs) except? NULL:
    """The data of a C-contiguous (channels,) array of x's dtype, or NULL for None."""
    if v is None:
        return NULL
    cdef cnp.ndarray V = _array(v, name)
    _same_dtype(V, x, name, "x")
    _contiguous(V, name)
    if cnp.PyArray_NDIM(V) != 1 or V.shape[0] != channels:
        raise ValueError(f"{name}: expected shape ({channels},), got {(<object>V).shape}")
    if output:
        _writeable(V, name)
        for other, other_name in inputs:
            if _overlap(V, other):
                raise ValueError(f"{name}: must not share memory with {other_name}")
    return cnp.PyArray_DATA(V)


def batch_norm_forward_training(x, gamma, beta, y, mean, inv_std, moving_mean, moving_variance, double epsilon,
                                double momentum, bint reference=False):
    """y = batch-normalized x (3-D, (outer, channels, inner)); mean / inv_std get the batch statistics; the
    moving statistics (or None) are updated in place. gamma / beta may be None. reference: the plain serial
    version (the tests' oracle)."""
    cdef cnp.ndarray X = _array(x, "x"), Y = _array(y, "y")
    cdef int kind = _float_kind(X, "x")
    cdef BatchNormParams p = _batch_norm_params(X, "x", epsilon, momentum)
    _output(Y, X, "y", "x")
    if _overlap(Y, X):
        raise ValueError("y: must not share memory with x")
    cdef int64_t C = p.channels
    inputs = [(X, "x"), (Y, "y")]
    cdef void* pg = _channel_vector(gamma, X, C, "gamma", False, inputs)
    cdef void* pb = _channel_vector(beta, X, C, "beta", False, inputs)
    for v, v_name in ((gamma, "gamma"), (beta, "beta")):
        if v is not None:
            inputs.append((v, v_name))
    cdef void* pm = _channel_vector(mean, X, C, "mean", True, inputs)
    if pm == NULL:
        raise ValueError("mean: expected an array, got None")
    inputs.append((mean, "mean"))
    cdef void* pi = _channel_vector(inv_std, X, C, "inv_std", True, inputs)
    if pi == NULL:
        raise ValueError("inv_std: expected an array, got None")
    inputs.append((inv_std, "inv_std"))
    cdef void* pmm = _channel_vector(moving_mean, X, C, "moving_mean", True, inputs)
    if moving_mean is not None:
        inputs.append((moving_mean, "moving_mean"))
    cdef void* pmv = _channel_vector(moving_variance, X, C, "moving_variance", True, inputs)
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* py = cnp.PyArray_DATA(Y)
    with nogil:
        if kind == 0 and reference:
            c_batch_norm_forward_training_reference(p, <const float*>px, <const float*>pg, <const float*>pb,
                                                    <float*>py, <float*>pm, <float*>pi, <float*>pmm, <float*>pmv)
        elif kind == 0:
            c_batch_norm_forward_training(p, <const float*>px, <const float*>pg, <const float*>pb, <float*>py,
                                          <float*>pm, <float*>pi, <float*>pmm, <float*>pmv)
        elif reference:
            c_batch_norm_forward_training_reference(p, <const double*>px, <const double*>pg, <const double*>pb,
                                                    <double*>py, <double*>pm, <double*>pi, <double*>pmm,
                                                    <double*>pmv)
        else:
            c_batch_norm_forward_training(p, <const double*>px, <const double*>pg, <const double*>pb, <double*>py,
                                          <double*>pm, <double*>pi, <double*>pmm, <double*>pmv)


def batch_norm_forward_inference(x, gamma, beta, moving_mean, moving_variance, y, double epsilon):
    """y = x normalized with the moving statistics (x 3-D, (outer, channels, inner)); gamma / beta may be None."""
    cdef cnp.ndarray X = _array(x, "x"), Y = _array(y, "y")
    cdef int kind = _float_kind(X, "x")
    cdef BatchNormParams p = _batch_norm_params(X, "x", epsilon, 0.0)
    _output(Y, X, "y", "x")
    _no_partial_overlap(Y, X, "y", "x")
    cdef int64_t C = p.channels
    cdef void* pg = _channel_vector(gamma, X, C, "gamma", False, [])
    cdef void* pb = _channel_vector(beta, X, C, "beta", False, [])
    cdef void* pmm = _channel_vector(moving_mean, X, C, "moving_mean", False, [])
    cdef void* pmv = _channel_vector(moving_variance, X, C, "moving_variance", False, [])
    if pmm == NULL or pmv == NULL:
        raise ValueError("moving_mean, moving_variance: expected arrays, got None")
    for v, v_name in ((gamma, "gamma"), (beta, "beta"), (moving_mean, "moving_mean"),
                      (moving_variance, "moving_variance")):
        if v is not None and _overlap(Y, v):
            raise ValueError(f"y: must not share memory with {v_name}")
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* py = cnp.PyArray_DATA(Y)
    with nogil:
        if kind == 0:
            c_batch_norm_forward_inference(p, <const float*>px, <const float*>pg, <const float*>pb,
                                           <const float*>pmm, <const float*>pmv, <float*>py)
        else:
            c_batch_norm_forward_inference(p, <const double*>px, <const double*>pg, <const double*>pb,
                                           <const double*>pmm, <const double*>pmv, <double*>py)


def batch_norm_backward(x, dy, mean, inv_std, gamma, dx, dgamma, dbeta, bint batch_statistics,
                        bint reference=False):
    """dx (or None) = the input gradient; dgamma / dbeta (or None) += the weight gradients.

    x, dy, dx: 3-D (outer, channels, inner). mean / inv_std: the statistics the forward used; batch_statistics
    says whether they were the batch's own (training) or the moving ones. gamma may be None (scale=False).
    """
    cdef cnp.ndarray X = _array(x, "x"), DY = _array(dy, "dy"), DX
    cdef int kind = _float_kind(X, "x")
    cdef BatchNormParams p = _batch_norm_params(X, "x", 1.0, 0.0)
    _float_input(DY, X, "dy", "x")
    cdef int64_t C = p.channels
    inputs = [(X, "x"), (DY, "dy")]
    cdef void* pm = _channel_vector(mean, X, C, "mean", False, [])
    cdef void* pi = _channel_vector(inv_std, X, C, "inv_std", False, [])
    if pm == NULL or pi == NULL:
        raise ValueError("mean, inv_std: expected arrays, got None")
    cdef void* pg = _channel_vector(gamma, X, C, "gamma", False, [])
    for v, v_name in ((mean, "mean"), (inv_std, "inv_std"), (gamma, "gamma")):
        if v is not None:
            inputs.append((v, v_name))
    cdef void* pdx = NULL
    if dx is not None:
        DX = _array(dx, "dx")
        _output(DX, X, "dx", "x")
        for other, other_name in inputs:
            if _overlap(DX, other):
                raise ValueError(f"dx: must not share memory with {other_name}")
        pdx = cnp.PyArray_DATA(DX)
        inputs.append((DX, "dx"))
    cdef void* pdg = _channel_vector(dgamma, X, C, "dgamma", True, inputs)
    if dgamma is not None:
        inputs.append((dgamma, "dgamma"))
    cdef void* pdb = _channel_vector(dbeta, X, C, "dbeta", True, inputs)
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pdy = cnp.PyArray_DATA(DY)
    with nogil:
        if kind == 0 and reference:
            c_batch_norm_backward_reference(p, batch_statistics, <const float*>px, <const float*>pdy,
                                            <const float*>pm, <const float*>pi, <const float*>pg, <float*>pdx,
                                            <float*>pdg, <float*>pdb)
        elif kind == 0:
            c_batch_norm_backward(p, batch_statistics, <const float*>px, <const float*>pdy, <const float*>pm,
                                  <const float*>pi, <const float*>pg, <float*>pdx, <float*>pdg, <float*>pdb)
        elif reference:
            c_batch_norm_backward_reference(p, batch_statistics, <const double*>px, <const double*>pdy,
                                            <const double*>pm, <const double*>pi, <const double*>pg, <double*>pdx,
                                            <double*>pdg, <double*>pdb)
        else:
            c_batch_norm_backward(p, batch_statistics, <const double*>px, <const double*>pdy, <const double*>pm,
                                  <const double*>pi, <const double*>pg, <double*>pdx, <double*>pdg, <double*>pdb)


cdef extern from "normalization/layer_norm.h" namespace "pynn" nogil:
    cdef cppclass LayerNormParams:
        int64_t rows, features
        double epsilon
        bint centered
    void c_layer_norm_forward "pynn::layer_norm_forward"(
        const LayerNormParams&, const float*, const float*, const float*, float*, float*, float*)
    void c_layer_norm_forward "pynn::layer_norm_forward"(
        const LayerNormParams&, const double*, const double*, const double*, double*, double*, double*)
    void c_layer_norm_backward "pynn::layer_norm_backward"(
        const LayerNormParams&, const float*, const float*, const float*, const float*, const float*, float*,
        float*, float*)
    void c_layer_norm_backward "pynn::layer_norm_backward"(
        const LayerNormParams&, const double*, const double*, const double*, const double*, const double*,
        double*, double*, double*)


cdef LayerNormParams _layer_norm_params(cnp.ndarray x, double epsilon, bint centered) except *:
    cdef LayerNormParams p
    if cnp.PyArray_NDIM(x) != 2:
        raise ValueError(f"x: expected a 2-D (rows, features) array, got shape {(<object>x).shape}")
    _contiguous(x, "x")
    if not epsilon >= 0 or epsilon == float("inf"):
        raise ValueError(f"epsilon: expected a finite number >= 0, got {epsilon}")
    p.rows, p.features = x.shape[0], x.shape[1]
    p.epsilon, p.centered = epsilon, centered
    return p


def layer_norm_forward(x, gamma, beta, y, mean, inv, double epsilon, bint centered=True):
    """y = (x - mean) * inv * gamma + beta per row of x (2-D, (rows, features)), mean and inv (length rows)
    written with each row's mean (0 when not centered) and 1 / sqrt(variance + epsilon). gamma / beta
    (length features) may be None. y must not share memory with x."""
    cdef cnp.ndarray X = _array(x, "x"), Y = _array(y, "y")
    cdef int kind = _float_kind(X, "x")
    cdef LayerNormParams p = _layer_norm_params(X, epsilon, centered)
    _output(Y, X, "y", "x")
    inputs = [(X, "x"), (Y, "y")]
    if _overlap(Y, X):
        raise ValueError("y: must not share memory with x")
    cdef void* pg = _channel_vector(gamma, X, p.features, "gamma", False, [])
    cdef void* pb = _channel_vector(beta, X, p.features, "beta", False, [])
    for v, v_name in ((gamma, "gamma"), (beta, "beta")):
        if v is not None:
            if _overlap(Y, v):
                raise ValueError(f"y: must not share memory with {v_name}")
            inputs.append((v, v_name))
    cdef void* pm = _channel_vector(mean, X, p.rows, "mean", True, inputs)
    if pm == NULL:
        raise ValueError("mean: expected an array, got None")
    inputs.append((mean, "mean"))
    cdef void* pi = _channel_vector(inv, X, p.rows, "inv", True, inputs)
    if pi == NULL:
        raise ValueError("inv: expected an array, got None")
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* py = cnp.PyArray_DATA(Y)
    with nogil:
        if kind == 0:
            c_layer_norm_forward(p, <const float*>px, <const float*>pg, <const float*>pb, <float*>py, <float*>pm,
                                 <float*>pi)
        else:
            c_layer_norm_forward(p, <const double*>px, <const double*>pg, <const double*>pb, <double*>py,
                                 <double*>pm, <double*>pi)


def layer_norm_backward(x, dy, mean, inv, gamma, dx, dgamma, dbeta, bint centered=True):
    """dx (or None) = the input gradient of layer_norm_forward; dgamma / dbeta (or None) += the weight
    gradients. x, dy, dx: 2-D (rows, features); mean, inv: what the forward wrote; gamma may be None. dx may
    be dy itself (in place) but share no other memory with the inputs."""
    cdef cnp.ndarray X = _array(x, "x"), DY = _array(dy, "dy"), DX
    cdef int kind = _float_kind(X, "x")
    cdef LayerNormParams p = _layer_norm_params(X, 1.0, centered)
    _float_input(DY, X, "dy", "x")
    _contiguous(DY, "dy")
    cdef void* pm = _channel_vector(mean, X, p.rows, "mean", False, [])
    cdef void* pi = _channel_vector(inv, X, p.rows, "inv", False, [])
    if pm == NULL or pi == NULL:
        raise ValueError("mean, inv: expected arrays, got None")
    cdef void* pg = _channel_vector(gamma, X, p.features, "gamma", False, [])
    inputs = [(X, "x"), (mean, "mean"), (inv, "inv")] + ([(gamma, "gamma")] if gamma is not None else [])
    cdef void* pdx = NULL
    if dx is not None:
        DX = _array(dx, "dx")
        _output(DX, X, "dx", "x")
        _no_partial_overlap(DX, DY, "dx", "dy")
        for other, other_name in inputs:
            if _overlap(DX, other):
                raise ValueError(f"dx: must not share memory with {other_name}")
        pdx = cnp.PyArray_DATA(DX)
        inputs.append((DX, "dx"))
    inputs.append((DY, "dy"))
    cdef void* pdg = _channel_vector(dgamma, X, p.features, "dgamma", True, inputs)
    if dgamma is not None:
        inputs.append((dgamma, "dgamma"))
    cdef void* pdb = _channel_vector(dbeta, X, p.features, "dbeta", True, inputs)
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pdy = cnp.PyArray_DATA(DY)
    with nogil:
        if kind == 0:
            c_layer_norm_backward(p, <const float*>px, <const float*>pdy, <const float*>pm, <const float*>pi,
                                  <const float*>pg, <float*>pdx, <float*>pdg, <float*>pdb)
        else:
            c_layer_norm_backward(p, <const double*>px, <const double*>pdy, <const double*>pm, <const double*>pi,
                                  <const double*>pg, <double*>pdx, <double*>pdg, <double*>pdb)
