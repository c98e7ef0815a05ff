# Affine resampling of NHWC images (the augmentation layers), forward and adjoint. csrc/image/affine_transform.h.

cdef extern from "image/affine_transform.h" namespace "pynn" nogil:
    cpdef enum class FillMode:
        reflect, wrap, constant, nearest
    cpdef enum class Interpolation "pynn::Interpolation":
        nearest, bilinear
    cdef cppclass AffineTransformParams:
        int64_t batch, height, width, channels
        FillMode fill_mode
        Interpolation interpolation
        double fill_value
    void c_affine_transform_forward "pynn::affine_transform_forward"(
        const AffineTransformParams&, const float*, const double*, float*)
    void c_affine_transform_forward "pynn::affine_transform_forward"(
        const AffineTransformParams&, const double*, const double*, double*)
    void c_affine_transform_backward "pynn::affine_transform_backward"(
        const AffineTransformParams&, const float*, const double*, float*)
    void c_affine_transform_backward "pynn::affine_transform_backward"(
        const AffineTransformParams&, const double*, const double*, double*)


cdef AffineTransformParams _affine_params(cnp.ndarray images, str name, cnp.ndarray T, str fill_mode,
                                          str interpolation, double fill_value) except *:
    cdef AffineTransformParams p
    if cnp.PyArray_NDIM(images) != 4:
        raise ValueError(f"{name}: expected a 4-D (batch, height, width, channels) array, got shape "
                         f"{(<object>images).shape}")
    _contiguous(images, name)
    p.batch, p.height, p.width, p.channels = images.shape[0], images.shape[1], images.shape[2], images.shape[3]
    if p.height < 1 or p.width < 1 or p.channels < 1:
        raise ValueError(f"{name}: expected non-empty height, width and channels, got shape {(<object>images).shape}")
    if cnp.PyArray_TYPE(T) != cnp.NPY_FLOAT64:
        raise ValueError(f"transforms: expected dtype float64, got {T.dtype}")
    _contiguous(T, "transforms")
    if (<object>T).shape != (p.batch, 8):
        raise ValueError(f"transforms: expected shape ({p.batch}, 8), got {(<object>T).shape}")
    if fill_mode not in FillMode.__members__:
        raise ValueError(f"fill_mode: expected one of {list(FillMode.__members__)}, got {fill_mode!r}")
    if interpolation not in Interpolation.__members__:
        raise ValueError(f"interpolation: expected one of {list(Interpolation.__members__)}, got {interpolation!r}")
    p.fill_mode = FillMode[fill_mode]
    p.interpolation = Interpolation[interpolation]
    p.fill_value = fill_value
    return p


def affine_transform_forward(x, transforms, y, str fill_mode, str interpolation, double fill_value):
    """y = x resampled through each image's transform (8 doubles: a0 a1 a2 b0 b1 b2 c0 c1), NHWC."""
    cdef cnp.ndarray X = _array(x, "x"), T = _array(transforms, "transforms"), Y = _array(y, "y")
    cdef int kind = _float_kind(X, "x")
    cdef AffineTransformParams p = _affine_params(X, "x", T, fill_mode, interpolation, fill_value)
    _output(Y, X, "y", "x")
    if _overlap(Y, X) or _overlap(Y, T):
        raise ValueError("y: must not share memory with x or transforms")
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* py = cnp.PyArray_DATA(Y)
    cdef const double* pt = <const double*>cnp.PyArray_DATA(T)
    with nogil:
        if kind == 0:
            c_affine_transform_forward(p, <const float*>px, pt, <float*>py)
        else:
            c_affine_transform_forward(p, <const double*>px, pt, <double*>py)


def affine_transform_backward(dy, transforms, dx, str fill_mode, str interpolation, double fill_value):
    """dx = the adjoint of affine_transform_forward applied to dy (constant-fill taps contribute nothing)."""
    cdef cnp.ndarray DY = _array(dy, "dy"), T = _array(transforms, "transforms"), DX = _array(dx, "dx")
    cdef int kind = _float_kind(DY, "dy")
    cdef AffineTransformParams p = _affine_params(DY, "dy", T, fill_mode, interpolation, fill_value)
    _output(DX, DY, "dx", "dy")
    if _overlap(DX, DY) or _overlap(DX, T):
        raise ValueError("dx: must not share memory with dy or transforms")
    cdef void* pdy = cnp.PyArray_DATA(DY)
    cdef void* pdx = cnp.PyArray_DATA(DX)
    cdef const double* pt = <const double*>cnp.PyArray_DATA(T)
    with nogil:
        if kind == 0:
            c_affine_transform_backward(p, <const float*>pdy, pt, <float*>pdx)
        else:
            c_affine_transform_backward(p, <const double*>pdy, pt, <double*>pdx)
