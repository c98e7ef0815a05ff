# 2-D max and average pooling in NHWC, forward and backward. csrc/pooling/pooling.h.

from libc.stdint cimport int32_t

cdef extern from "pooling/pooling.h" namespace "pynn" nogil:
    cdef cppclass Pool2dParams:
        int64_t batch, in_h, in_w, channels
        int64_t pool_h, pool_w, stride_h, stride_w
        int64_t pad_top, pad_left
        int64_t out_h, out_w
    void pool2d_output_shape(Pool2dParams& p, bint same_padding)
    bint pool2d_params_valid(const Pool2dParams& p)
    void c_max_pool2d_forward "pynn::max_pool2d_forward"(const Pool2dParams&, const float*, float*, int32_t*)
    void c_max_pool2d_forward "pynn::max_pool2d_forward"(const Pool2dParams&, const double*, double*, int32_t*)
    void c_max_pool2d_backward "pynn::max_pool2d_backward"(const Pool2dParams&, const float*, const int32_t*, float*)
    void c_max_pool2d_backward "pynn::max_pool2d_backward"(const Pool2dParams&, const double*, const int32_t*, double*)
    void c_avg_pool2d_forward "pynn::avg_pool2d_forward"(const Pool2dParams&, const float*, float*)
    void c_avg_pool2d_forward "pynn::avg_pool2d_forward"(const Pool2dParams&, const double*, double*)
    void c_avg_pool2d_backward "pynn::avg_pool2d_backward"(const Pool2dParams&, const float*, float*)
    void c_avg_pool2d_backward "pynn::avg_pool2d_backward"(const Pool2dParams&, const double*, double*)
    void c_max_pool2d_forward_reference "pynn::max_pool2d_forward_reference"(
        const Pool2dParams&, const float*, float*, int32_t*)
    void c_max_pool2d_forward_reference "pynn::max_pool2d_forward_reference"(
        const Pool2dParams&, const double*, double*, int32_t*)
    void c_max_pool2d_backward_reference "pynn::max_pool2d_backward_reference"(
        const Pool2dParams&, const float*, const int32_t*, float*)
    void c_max_pool2d_backward_reference "pynn::max_pool2d_backward_reference"(
        const Pool2dParams&, const double*, const int32_t*, double*)
    void c_avg_pool2d_forward_reference "pynn::avg_pool2d_forward_reference"(
        const Pool2dParams&, const float*, float*)
    void c_avg_pool2d_forward_reference "pynn::avg_pool2d_forward_reference"(
        const Pool2dParams&, const double*, double*)
    void c_avg_pool2d_backward_reference "pynn::avg_pool2d_backward_reference"(
        const Pool2dParams&, const float*, float*)
    void c_avg_pool2d_backward_reference "pynn::avg_pool2d_backward_reference"(
        const Pool2dParams&, const double*, double*)


cdef Pool2dParams _pool2d_params(cnp.ndarray image, str name, object pool_size, object strides,
                                 str padding) except *:
    """Pooling parameters for an NHWC `image` (the input, or dx for backward), with the output shape set."""
    cdef Pool2dParams p
    if cnp.PyArray_NDIM(image) != 4:
        raise ValueError(f"{name}: expected a 4-D (batch, height, width, channels) array, got shape "
                         f"{(<object>image).shape}")
    if padding not in ("valid", "same"):
        raise ValueError(f"padding: expected 'valid' or 'same', got {padding!r}")
    if len(pool_size) != 2 or len(strides) != 2:
        raise ValueError(f"pool_size, strides: expected two integers each, got {pool_size!r}, {strides!r}")
    if min(pool_size) < 1 or min(strides) < 1 or max(pool_size) > 2 ** 31 or max(strides) > 2 ** 31:
        raise ValueError(f"pool_size, strides: expected positive integers (at most 2**31), got {pool_size!r}, "
                         f"{strides!r}")
    p.batch, p.in_h, p.in_w, p.channels = image.shape[0], image.shape[1], image.shape[2], image.shape[3]
    p.pool_h, p.pool_w = pool_size
    p.stride_h, p.stride_w = strides
    pool2d_output_shape(p, padding == "same")
    if p.in_h < 1 or p.in_w < 1 or p.channels < 1:
        raise ValueError(f"{name}: expected non-empty height, width and channels, got shape {(<object>image).shape}")
    if p.out_h < 1 or p.out_w < 1:
        raise ValueError(f"{name}: pool_size {tuple(pool_size)} is larger than the input's {(p.in_h, p.in_w)} "
                         f"with padding 'valid'")
    if not pool2d_params_valid(p):
        raise ValueError(f"{name}: height * width must be below 2**31, got shape {(<object>image).shape}")
    return p


def pool2d_output_shape_of(int64_t height, int64_t width, pool_size, strides, str padding):
    """(out_height, out_width, pad_top, pad_left) of a pooling with Keras's 'valid' / 'same' rule."""
    cdef Pool2dParams p
    if padding not in ("valid", "same"):
        raise ValueError(f"padding: expected 'valid' or 'same', got {padding!r}")
    if not (0 <= height < (1 << 40) and 0 <= width < (1 << 40)):
        raise ValueError(f"pool2d_output_shape_of: height, width: expected sizes in [0, 2**40), got {height}, {width}")
    p.in_h, p.in_w = height, width
    p.pool_h, p.pool_w = _int_pair(pool_size, "pool2d_output_shape_of", "pool_size", 1, 1 << 31)
    p.stride_h, p.stride_w = _int_pair(strides, "pool2d_output_shape_of", "strides", 1, 1 << 31)
    pool2d_output_shape(p, padding == "same")
    return p.out_h, p.out_w, p.pad_top, p.pad_left


cdef int _pool_output(str func, cnp.ndarray out, cnp.ndarray ref, Pool2dParams& p, str name, str ref_name,
                      bint same_dtype) except -1:
    _expect_shape(out, (p.batch, p.out_h, p.out_w, p.channels), func, name,
                  f" (the pooling of {ref_name} {(<object>ref).shape} with pool_size {(p.pool_h, p.pool_w)}, "
                  f"strides {(p.stride_h, p.stride_w)})")
    if same_dtype:
        _same_dtype(out, ref, name, ref_name)
    elif cnp.PyArray_TYPE(out) != cnp.NPY_INT32:
        raise ValueError(f"{name}: expected dtype int32, got {out.dtype}")
    _contiguous(out, name)
    return 0


def max_pool2d_forward(x, y, argmax, pool_size, strides, str padding, bint reference=False):
    """y = max over each window of the NHWC x; argmax (int32, y's shape, or None) gets ih * width + iw.

    reference: run the plain serial loops instead of the fast kernel (the tests' oracle); likewise below."""
    cdef cnp.ndarray X = _array(x, "x"), Y = _array(y, "y"), A = None
    cdef int kind = _float_kind(X, "x")
    _contiguous(X, "x")
    cdef Pool2dParams p = _pool2d_params(X, "x", pool_size, strides, padding)
    _pool_output("max_pool2d_forward", Y, X, p, "y", "x", True)
    _writeable(Y, "y")
    if _overlap(Y, X):
        raise ValueError("y: must not share memory with x")
    cdef int32_t* pa = NULL
    if argmax is not None:
        A = _array(argmax, "argmax")
        _pool_output("max_pool2d_forward", A, X, p, "argmax", "x", False)
        _writeable(A, "argmax")
        if _overlap(A, X) or _overlap(A, Y):
            raise ValueError("argmax: must not share memory with x or y")
        pa = <int32_t*>cnp.PyArray_DATA(A)
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* py = cnp.PyArray_DATA(Y)
    with nogil:
        if kind == 0:
            if reference:
                c_max_pool2d_forward_reference(p, <const float*>px, <float*>py, pa)
            else:
                c_max_pool2d_forward(p, <const float*>px, <float*>py, pa)
        else:
            if reference:
                c_max_pool2d_forward_reference(p, <const double*>px, <double*>py, pa)
            else:
                c_max_pool2d_forward(p, <const double*>px, <double*>py, pa)


def max_pool2d_backward(dy, argmax, dx, pool_size, strides, str padding, bint reference=False):
    """dx (NHWC, the forward input's shape) = dy routed to the argmax of each window, summed where they meet."""
    cdef cnp.ndarray DY = _array(dy, "dy"), A = _array(argmax, "argmax"), DX = _array(dx, "dx")
    cdef int kind = _float_kind(DY, "dy")
    _contiguous(DY, "dy")
    _same_dtype(DX, DY, "dx", "dy")
    _contiguous(DX, "dx")
    _writeable(DX, "dx")
    cdef Pool2dParams p = _pool2d_params(DX, "dx", pool_size, strides, padding)
    _pool_output("max_pool2d_backward", DY, DX, p, "dy", "dx", True)
    _pool_output("max_pool2d_backward", A, DX, p, "argmax", "dx", False)
    if _overlap(DX, DY) or _overlap(DX, A):
        raise ValueError("dx: must not share memory with dy or argmax")
    cdef void* pdy = cnp.PyArray_DATA(DY)
    cdef void* pdx = cnp.PyArray_DATA(DX)
    cdef const int32_t* pa = <const int32_t*>cnp.PyArray_DATA(A)
    with nogil:
        if kind == 0:
            if reference:
                c_max_pool2d_backward_reference(p, <const float*>pdy, pa, <float*>pdx)
            else:
                c_max_pool2d_backward(p, <const float*>pdy, pa, <float*>pdx)
        else:
            if reference:
                c_max_pool2d_backward_reference(p, <const double*>pdy, pa, <double*>pdx)
            else:
                c_max_pool2d_backward(p, <const double*>pdy, pa, <double*>pdx)


def avg_pool2d_forward(x, y, pool_size, strides, str padding, bint reference=False):
    """y = the mean of the NHWC x over each window's valid (unpadded) positions."""
    cdef cnp.ndarray X = _array(x, "x"), Y = _array(y, "y")
    cdef int kind = _float_kind(X, "x")
    _contiguous(X, "x")
    cdef Pool2dParams p = _pool2d_params(X, "x", pool_size, strides, padding)
    _pool_output("avg_pool2d_forward", Y, X, p, "y", "x", True)
    _writeable(Y, "y")
    if _overlap(Y, X):
        raise ValueError("y: must not share memory with x")
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* py = cnp.PyArray_DATA(Y)
    with nogil:
        if kind == 0:
            if reference:
                c_avg_pool2d_forward_reference(p, <const float*>px, <float*>py)
            else:
                c_avg_pool2d_forward(p, <const float*>px, <float*>py)
        else:
            if reference:
                c_avg_pool2d_forward_reference(p, <const double*>px, <double*>py)
            else:
                c_avg_pool2d_forward(p, <const double*>px, <double*>py)


def avg_pool2d_backward(dy, dx, pool_size, strides, str padding, bint reference=False):
    """dx (NHWC, the forward input's shape) = each window's dy / count spread over its valid positions."""
    cdef cnp.ndarray DY = _array(dy, "dy"), DX = _array(dx, "dx")
    cdef int kind = _float_kind(DY, "dy")
    _contiguous(DY, "dy")
    _same_dtype(DX, DY, "dx", "dy")
    _contiguous(DX, "dx")
    _writeable(DX, "dx")
    cdef Pool2dParams p = _pool2d_params(DX, "dx", pool_size, strides, padding)
    _pool_output("avg_pool2d_backward", DY, DX, p, "dy", "dx", True)
    if _overlap(DX, DY):
        raise ValueError("dx: must not share memory with dy")
    cdef void* pdy = cnp.PyArray_DATA(DY)
    cdef void* pdx = cnp.PyArray_DATA(DX)
    with nogil:
        if kind == 0:
            if reference:
                c_avg_pool2d_backward_reference(p, <const float*>pdy, <float*>pdx)
            else:
                c_avg_pool2d_backward(p, <const float*>pdy, <float*>pdx)
        else:
            if reference:
                c_avg_pool2d_backward_reference(p, <const double*>pdy, <double*>pdx)
            else:
                c_avg_pool2d_backward(p, <const double*>pdy, <double*>pdx)
