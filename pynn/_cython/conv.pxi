# 2-D convolution in NHWC / HWIO: forward, backward-data, backward-weights. csrc/conv/conv2d.h.
#
# Every function takes the geometry the layer computed (strides, the padding before the image, dilation,
# groups); the output size comes from the output array. The arrays' shapes are checked against each other.

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


cdef void* _relu_mask(object mask, cnp.ndarray dy, cnp.ndarray out, str out_name) except? NULL:
    """The data of `mask` (the fused relu's output, dy's shape and dtype), or NULL when mask is None."""
    if mask is None:
        return NULL
    cdef cnp.ndarray M = _conv_array(mask, "mask", 4, dy, "dy")
    if (<object>M).shape != (<object>dy).shape:
        raise ValueError(f"mask: expected dy's shape {(<object>dy).shape}, got {(<object>M).shape}")
    if _overlap(out, M):
        raise ValueError(f"{out_name}: the output must not share memory with mask")
    return cnp.PyArray_DATA(M)


cdef Conv2dParams _conv2d_params(tuple x_shape, tuple w_shape, tuple y_shape, object strides, object padding,
                                 object dilation, int64_t groups, str x_name, str y_name) except *:
    """Conv2dParams from the shapes of x (N, H, W, C), w (KH, KW, C / groups, O) and y (N, OH, OW, O)."""
    cdef Conv2dParams p
    sh, sw = strides
    pt, pl = padding
    dh, dw = dilation
    if sh < 1 or sw < 1:
        raise ValueError(f"strides: expected positive integers, got {(sh, sw)}")
    if dh < 1 or dw < 1:
        raise ValueError(f"dilation: expected positive integers, got {(dh, dw)}")
    if groups < 1:
        raise ValueError(f"groups: expected a positive integer, got {groups}")
    if x_shape[3] % groups != 0 or y_shape[3] % groups != 0:
        raise ValueError(f"groups: {groups} must divide the input channels ({x_shape[3]}) and the output "
                         f"channels ({y_shape[3]})")
    want_w = (w_shape[0], w_shape[1], x_shape[3] // groups, y_shape[3])
    if w_shape != want_w:
        raise ValueError(f"w: expected shape {want_w} (kh, kw, in_channels / groups, out_channels), got {w_shape}")
    if y_shape[0] != x_shape[0]:
        raise ValueError(f"{y_name}: expected batch {x_shape[0]} (the batch of {x_name}), got shape {y_shape}")
    p.batch, p.in_h, p.in_w, p.in_c = x_shape
    p.out_h, p.out_w, p.out_c = y_shape[1], y_shape[2], y_shape[3]
    p.kernel_h, p.kernel_w = w_shape[0], w_shape[1]
    p.stride_h, p.stride_w = sh, sw
    p.dilation_h, p.dilation_w = dh, dw
    p.pad_top, p.pad_left = pt, pl
    p.groups = groups
    return p


def conv2d_forward(x, w, bias, y, strides=(1, 1), padding=(0, 0), dilation=(1, 1), int64_t groups=1,
                   activation=None, bint reference=False):
    """y[...] = act(conv2d(x, w) + bias), in place.

    x (N, H, W, C), w (KH, KW, C / groups, O), y (N, OH, OW, O): C-contiguous, one float dtype; bias: None or (O,).
    padding: (rows, columns) of zeros before the image; the output size fixes what follows it.
    """
    cdef cnp.ndarray X = _conv_array(x, "x", 4, None, ""), W = _conv_array(w, "w", 4, X, "x")
    cdef cnp.ndarray Y = _conv_array(y, "y", 4, X, "x"), B
    cdef int kind = _float_kind(X, "x")
    _writeable(Y, "y")
    if _overlap(Y, X) or _overlap(Y, W):
        raise ValueError("y: the output must not share memory with x or w")
    cdef Conv2dParams p = _conv2d_params((<object>X).shape, (<object>W).shape, (<object>Y).shape, strides, padding,
                                         dilation, groups, "x", "y")
    cdef void* pbias = NULL
    if bias is not None:
        B = _conv_array(bias, "bias", 1, X, "x")
        if B.shape[0] != p.out_c:
            raise ValueError(f"bias: expected shape ({p.out_c},), got {(<object>B).shape}")
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


def conv2d_backward_data(dy, w, dx, strides=(1, 1), padding=(0, 0), dilation=(1, 1), int64_t groups=1,
                         bint reference=False, mask=None):
    """dx[...] = the gradient of sum(dz * conv2d(x, w)) with respect to x (x has dx's shape).

    dz = dy, or dy * (mask > 0) when mask (a fused relu's output, dy's shape) is given.
    """
    cdef cnp.ndarray DY = _conv_array(dy, "dy", 4, None, ""), W = _conv_array(w, "w", 4, DY, "dy")
    cdef cnp.ndarray DX = _conv_array(dx, "dx", 4, DY, "dy")
    cdef int kind = _float_kind(DY, "dy")
    _writeable(DX, "dx")
    if _overlap(DX, DY) or _overlap(DX, W):
        raise ValueError("dx: the output must not share memory with dy or w")
    cdef Conv2dParams p = _conv2d_params((<object>DX).shape, (<object>W).shape, (<object>DY).shape, strides,
                                         padding, dilation, groups, "dx", "dy")
    cdef void* pm = _relu_mask(mask, DY, DX, "dx")
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


def conv2d_backward_weights(x, dy, dw, dbias=None, strides=(1, 1), padding=(0, 0), dilation=(1, 1),
                            int64_t groups=1, bint accumulate=False, bint reference=False, mask=None):
    """dw[...] (+)= d sum(dz * conv2d(x, w)) / dw; dbias (+)= the sums of dz over every pixel (when given).

    dz = dy, or dy * (mask > 0) when mask (a fused relu's output, dy's shape) is given.
    """
    cdef cnp.ndarray X = _conv_array(x, "x", 4, None, ""), DY = _conv_array(dy, "dy", 4, X, "x")
    cdef cnp.ndarray DW = _conv_array(dw, "dw", 4, X, "x"), DB
    cdef int kind = _float_kind(X, "x")
    _writeable(DW, "dw")
    if _overlap(DW, X) or _overlap(DW, DY):
        raise ValueError("dw: the output must not share memory with x or dy")
    cdef Conv2dParams p = _conv2d_params((<object>X).shape, (<object>DW).shape, (<object>DY).shape, strides,
                                         padding, dilation, groups, "x", "dy")
    cdef void* pdb = NULL
    if dbias is not None:
        DB = _conv_array(dbias, "dbias", 1, X, "x")
        _writeable(DB, "dbias")
        if DB.shape[0] != p.out_c:
            raise ValueError(f"dbias: expected shape ({p.out_c},), got {(<object>DB).shape}")
        if _overlap(DB, X) or _overlap(DB, DY) or _overlap(DB, DW):
            raise ValueError("dbias: the output must not share memory with x, dy or dw")
        pdb = cnp.PyArray_DATA(DB)
    cdef void* pm = _relu_mask(mask, DY, DW, "dw")
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
