"""Affine resampling of NHWC images, forward and adjoint (csrc/image/): what the augmentation layers run.

Each image n has a transform of 8 numbers (a0, a1, a2, b0, b1, b2, c0, c1), Keras's layout: output pixel
(row oy, column ox) samples the input at x = (a0 ox + a1 oy + a2) / k, y = (b0 ox + b1 oy + b2) / k with
k = c0 ox + c1 oy + 1. interpolation 'nearest' or 'bilinear'; fill_mode 'reflect', 'wrap', 'nearest' or
'constant' (fill_value) says what taps outside the image read, on integer indices as Keras's map_coordinates.

Example:
    >>> t = np.array([[1, 0, -2, 0, 1, 0, 0, 0]], float)      # shift the image 2 pixels right
    >>> y = affine_transform(x, t, fill_mode="constant")
    >>> dx = affine_transform_backward(dy, t, fill_mode="constant")
"""
import numpy as np

from pynn import _C

__all__ = ["affine_transform", "affine_transform_backward"]


def _transforms(transforms, batch):
    t = np.ascontiguousarray(transforms, dtype=np.float64)
    if t.ndim == 1:
        t = np.ascontiguousarray(np.broadcast_to(t, (batch, t.shape[0])))
    return t


def affine_transform(x, transforms, interpolation="bilinear", fill_mode="constant", fill_value=0.0):
    """Resample the NHWC images x through transforms (batch, 8) (or one (8,) for all)."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"x: expected a numpy.ndarray, got {type(x).__name__}")
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    _C.affine_transform_forward(x, _transforms(transforms, x.shape[0] if x.ndim == 4 else 0), y, fill_mode,
                                interpolation, float(fill_value))
    return y


def affine_transform_backward(dy, transforms, interpolation="bilinear", fill_mode="constant", fill_value=0.0):
    """The adjoint of affine_transform: dx such that sum(dx * x) = sum(dy * (affine_transform(x) - fill part))."""
    if not isinstance(dy, np.ndarray):
        raise ValueError(f"dy: expected a numpy.ndarray, got {type(dy).__name__}")
    dy = np.ascontiguousarray(dy)
    dx = np.empty_like(dy)
    _C.affine_transform_backward(dy, _transforms(transforms, dy.shape[0] if dy.ndim == 4 else 0), dx, fill_mode,
                                 interpolation, float(fill_value))
    return dx
