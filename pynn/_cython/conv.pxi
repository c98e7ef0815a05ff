# 2-D convolution in NHWC / HWIO: forward, backward-data, backward-weights. csrc/conv/conv2d.h.
#
# Every function takes the geometry the layer computed (strides, the padding ((top, bottom), (left, right)),
# dilation, groups). The arrays' shapes are checked against each other and against the geometry: the output
# (y, or dy for the backward passes) must have the size the convolution gives.

cdef extern from "conv/conv2d.h" namespace "pynn" nogil:
    cdef cppclass Conv2dParams:
        int64_t batch, in_h, in_w, in_c
        int64_t out_h, out_w, out_c
        int64_t kernel_h, kernel_w
        int64_t stride_h, stride_w
        int64_t dilation_h, dilation_w
        int64_t pad_top, pad_left
        int64_t groups
    void c_conv2d_forward "pynn::conv2d_forward"(const Conv2dParams&, const float*, const float*, const float*,
                                                 float*, const ActivationParams*) except +
    void c_conv2d_forward "pynn::conv2d_forward"(const Conv2dParams&, const double*, const double*, const double*,
                                                 double*, const ActivationParams*) except +
    void c_conv2d_forward_reference "pynn::conv2d_forward_reference"(
        const Conv2dParams&, const float*, const float*, const float*, float*, const ActivationParams*) except +
    void c_conv2d_forward_reference "pynn::conv2d_forward_reference"(
        const Conv2dParams&, const double*, const double*, const double*, double*, const ActivationParams*) except +
    void c_conv2d_backward_data "pynn::conv2d_backward_data"(const Conv2dParams&, const float*, const float*,
                                                             float*, const float*) except +
    void c_conv2d_backward_data "pynn::conv2d_backward_data"(const Conv2dParams&, const double*, const double*,
                                                             double*, const double*) except +
    void c_conv2d_backward_data_reference "pynn::conv2d_backward_data_reference"(
        const Conv2dParams&, const float*, const float*, float*) except +
    void c_conv2d_backward_data_reference "pynn::conv2d_backward_data_reference"(
        const Conv2dParams&, const double*, const double*, double*) except +
    void c_conv2d_backward_weights "pynn::conv2d_backward_weights"(
        const Conv2dParams&, const float*, const float*, float*, float*, bint, const float*) except +
    void c_conv2d_backward_weights "pynn::conv2d_backward_weights"(
        const Conv2dParams&, const double*, const double*, double*, double*, bint, const double*) except +
    void c_conv2d_backward_weights_reference "pynn::conv2d_backward_weights_reference"(
        const Conv2dParams&, const float*, const float*, float*, float*, bint) except +
    void c_conv2d_backward_weights_reference "pynn::conv2d_backward_weights_reference"(
        const Conv2dParams&, const double*, const double*, double*, double*, bint) except +


cdef cnp.ndarray _conv_array(object a, str name, int ndim, cnp.ndarray ref, str ref_name):
    cdef cnp.ndarray arr = _array(a, name)
    if ref is None:
        _float_kind(arr, name)
    else:
        _same_dtype(arr, ref, name, ref_name)
    _contiguous(arr, name)
    if cnp.PyArray_NDIM(arr) != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {(<object>arr).shape}")
    return arr


cdef void* _relu_mask(str func, object mask, cnp.ndarray dy, cnp.ndarray out, str out_name) except? NULL:
    """The data of `mask` (the fused relu's output, dy's shape and dtype), or NULL when mask is None."""
    if mask is None:
        return NULL
    cdef cnp.ndarray M = _conv_array(mask, "mask", 4, dy, "dy")
    _expect_shape(M, (<object>dy).shape, func, "mask", " (dy's shape)")
    if _overlap(out, M):
        raise ValueError(f"{out_name}: the output must not share memory with mask")
    return cnp.PyArray_DATA(M)


# Strides, dilation and padding above this are refused (no real layer comes near; it keeps every index product
# of the kernels far from int64's range).
cdef int64_t _MAX_GEOMETRY = (1 << 31) - 1


cdef Conv2dParams _conv2d_params(str func, cnp.ndarray x, str x_name, cnp.ndarray w, str w_name, cnp.ndarray y,
                                 str y_name, object strides, object padding, object dilation,
                                 int64_t groups) except *:
    """Conv2dParams for the convolution of x (N, H, W, C) by w (KH, KW, C / groups, O) into y (N, OH, OW, O).

    padding: ((top, bottom), (left, right)), zeros >= 0. y's size must be the convolution's:
    OH = (H + top + bottom - (KH - 1) * dilation_h - 1) // stride_h + 1, OW likewise. Every shape is checked
    against the others, so that the kernels stay inside the arrays whatever the caller passes.
    """
    cdef Conv2dParams p
    sh, sw = _int_pair(strides, func, "strides", 1, _MAX_GEOMETRY)
    dh, dw = _int_pair(dilation, func, "dilation", 1, _MAX_GEOMETRY)
    try:
        rows, cols = padding
    except (TypeError, ValueError):
        raise ValueError(f"{func}: padding: expected ((top, bottom), (left, right)), got {padding!r}") from None
    pt, pb = _int_pair(rows, func, "padding", 0, _MAX_GEOMETRY)
    pl, pr = _int_pair(cols, func, "padding", 0, _MAX_GEOMETRY)
    xs, ws = (<object>x).shape, (<object>w).shape
    if groups < 1 or groups > max(xs[3], 1):
        raise ValueError(f"{func}: groups: expected an integer in [1, {max(xs[3], 1)}] (the input channels), "
                         f"got {groups}")
    if xs[3] % groups != 0 or ws[3] % groups != 0:
        raise ValueError(f"{func}: groups: {groups} must divide the input channels ({xs[3]}) and the output "
                         f"channels ({ws[3]})")
    if ws[0] < 1 or ws[1] < 1:
        raise ValueError(f"{func}: {w_name}: expected a kernel of at least 1x1, got shape {ws}")
    _expect_shape(w, (ws[0], ws[1], xs[3] // groups, ws[3]), func, w_name,
                  " (kh, kw, in_channels / groups, out_channels)")
    span_h = xs[1] + pt + pb - (ws[0] - 1) * dh - 1
    span_w = xs[2] + pl + pr - (ws[1] - 1) * dw - 1
    if span_h < 0 or span_w < 0:
        raise ValueError(f"{func}: {w_name}: a {ws[0]}x{ws[1]} kernel with dilation {(dh, dw)} does not fit "
                         f"{x_name}'s {xs[1]}x{xs[2]} image padded by {((pt, pb), (pl, pr))}")
    _expect_shape(y, (xs[0], span_h // sh + 1, span_w // sw + 1, ws[3]), func, y_name,
                  f" (the convolution of {x_name} {xs} by {w_name} {ws}: strides {(sh, sw)}, padding "
                  f"{((pt, pb), (pl, pr))}, dilation {(dh, dw)})")
    p.batch, p.in_h, p.in_w, p.in_c = xs
    p.out_h, p.out_w, p.out_c = span_h // sh + 1, span_w // sw + 1, ws[3]
    p.kernel_h, p.kernel_w = ws[0], ws[1]
    p.stride_h, p.stride_w = sh, sw
    p.dilation_h, p.dilation_w = dh, dw
    p.pad_top, p.pad_left = pt, pl
    p.groups = groups
    return p


def conv2d_forward(x, w, bias, y, strides=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), int64_t groups=1,
                   activation=None, bint reference=False):
    """y[...] = act(conv2d(x, w) + bias), in place.

    x (N, H, W, C), w (KH, KW, C / groups, O), y (N, OH, OW, O): C-contiguous, one float dtype; bias: None or (O,).
    padding: ((top, bottom), (left, right)) rows and columns of zeros around the image; y must have the
    convolution's size, OH = (H + top + bottom - (KH - 1) * dilation_h - 1) // stride_h + 1 (OW likewise).
    """
    cdef cnp.ndarray X = _conv_array(x, "x", 4, None, ""), W = _conv_array(w, "w", 4, X, "x")
    cdef cnp.ndarray Y = _conv_array(y, "y", 4, X, "x"), B
    cdef int kind = _float_kind(X, "x")
    _writeable(Y, "y")
    if _overlap(Y, X) or _overlap(Y, W):
        raise ValueError("y: the output must not share memory with x or w")
    cdef Conv2dParams p = _conv2d_params("conv2d_forward", X, "x", W, "w", Y, "y", strides, padding, dilation,
                                         groups)
    cdef void* pbias = NULL
    if bias is not None:
        B = _conv_array(bias, "bias", 1, X, "x")
        _expect_shape(B, (p.out_c,), "conv2d_forward", "bias", " (w's output channels)")
        if _overlap(Y, B):
            raise ValueError("y: the output must not share memory with bias")
        pbias = cnp.PyArray_DATA(B)
    cdef ActivationParams act
    cdef const ActivationParams* pact = NULL
    if activation is not None:
        act = _activation_params(activation)
        pact = &act
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pw = cnp.PyArray_DATA(W)
    cdef void* py = cnp.PyArray_DATA(Y)
    with nogil:
        if kind == 0:
            if reference:
                c_conv2d_forward_reference(p, <const float*>px, <const float*>pw, <const float*>pbias, <float*>py, pact)
            else:
                c_conv2d_forward(p, <const float*>px, <const float*>pw, <const float*>pbias, <float*>py, pact)
        else:
            if reference:
                c_conv2d_forward_reference(p, <const double*>px, <const double*>pw, <const double*>pbias, <double*>py, pact)
            else:
                c_conv2d_forward(p, <const double*>px, <const double*>pw, <const double*>pbias, <double*>py, pact)


def conv2d_backward_data(dy, w, dx, strides=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1),
                         int64_t groups=1, bint reference=False, mask=None):
    """dx[...] = the gradient of sum(dz * conv2d(x, w)) with respect to x (x has dx's shape).

    dz = dy, or dy * (mask > 0) when mask (a fused relu's output, dy's shape) is given. dy must have the size
    of the convolution of an image of dx's shape (see conv2d_forward).
    """
    cdef cnp.ndarray DY = _conv_array(dy, "dy", 4, None, ""), W = _conv_array(w, "w", 4, DY, "dy")
    cdef cnp.ndarray DX = _conv_array(dx, "dx", 4, DY, "dy")
    cdef int kind = _float_kind(DY, "dy")
    _writeable(DX, "dx")
    if _overlap(DX, DY) or _overlap(DX, W):
        raise ValueError("dx: the output must not share memory with dy or w")
    cdef Conv2dParams p = _conv2d_params("conv2d_backward_data", DX, "dx", W, "w", DY, "dy", strides, padding,
                                         dilation, groups)
    cdef void* pm = _relu_mask("conv2d_backward_data", mask, DY, DX, "dx")
    cdef void* pdy = cnp.PyArray_DATA(DY)
    cdef void* pw = cnp.PyArray_DATA(W)
    cdef void* pdx = cnp.PyArray_DATA(DX)
    if reference and pm != NULL:
        raise ValueError("mask: not supported by the reference kernels")
    with nogil:
        if kind == 0:
            if reference:
                c_conv2d_backward_data_reference(p, <const float*>pdy, <const float*>pw, <float*>pdx)
            else:
                c_conv2d_backward_data(p, <const float*>pdy, <const float*>pw, <float*>pdx, <const float*>pm)
        else:
            if reference:
                c_conv2d_backward_data_reference(p, <const double*>pdy, <const double*>pw, <double*>pdx)
            else:
                c_conv2d_backward_data(p, <const double*>pdy, <const double*>pw, <double*>pdx, <const double*>pm)


def conv2d_backward_weights(x, dy, dw, dbias=None, strides=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1),
                            int64_t groups=1, bint accumulate=False, bint reference=False, mask=None):
    """dw[...] (+)= d sum(dz * conv2d(x, w)) / dw; dbias (+)= the sums of dz over every pixel (when given).

    dz = dy, or dy * (mask > 0) when mask (a fused relu's output, dy's shape) is given. dy must have the size
    of the convolution of x by a kernel of dw's shape (see conv2d_forward).
    """
    cdef cnp.ndarray X = _conv_array(x, "x", 4, None, ""), DY = _conv_array(dy, "dy", 4, X, "x")
    cdef cnp.ndarray DW = _conv_array(dw, "dw", 4, X, "x"), DB
    cdef int kind = _float_kind(X, "x")
    _writeable(DW, "dw")
    if _overlap(DW, X) or _overlap(DW, DY):
        raise ValueError("dw: the output must not share memory with x or dy")
    cdef Conv2dParams p = _conv2d_params("conv2d_backward_weights", X, "x", DW, "dw", DY, "dy", strides, padding,
                                         dilation, groups)
    cdef void* pdb = NULL
    if dbias is not None:
        DB = _conv_array(dbias, "dbias", 1, X, "x")
        _writeable(DB, "dbias")
        _expect_shape(DB, (p.out_c,), "conv2d_backward_weights", "dbias", " (dw's output channels)")
        if _overlap(DB, X) or _overlap(DB, DY) or _overlap(DB, DW):
            raise ValueError("dbias: the output must not share memory with x, dy or dw")
        pdb = cnp.PyArray_DATA(DB)
    cdef void* pm = _relu_mask("conv2d_backward_weights", mask, DY, DW, "dw")
    if pm != NULL and pdb != NULL and _overlap(DB, <cnp.ndarray>mask):
        raise ValueError("dbias: the output must not share memory with mask")
    if reference and pm != NULL:
        raise ValueError("mask: not supported by the reference kernels")
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pdy = cnp.PyArray_DATA(DY)
    cdef void* pdw = cnp.PyArray_DATA(DW)
    with nogil:
        if kind == 0:
            if reference:
                c_conv2d_backward_weights_reference(p, <const float*>px, <const float*>pdy, <float*>pdw, <float*>pdb,
                                                    accumulate)
            else:
                c_conv2d_backward_weights(p, <const float*>px, <const float*>pdy, <float*>pdw, <float*>pdb, accumulate,
                                          <const float*>pm)
        else:
            if reference:
                c_conv2d_backward_weights_reference(p, <const double*>px, <const double*>pdy, <double*>pdw,
                                                    <double*>pdb, accumulate)
            else:
                c_conv2d_backward_weights(p, <const double*>px, <const double*>pdy, <double*>pdw, <double*>pdb,
                                          accumulate, <const double*>pm)
