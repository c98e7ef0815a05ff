"""Image resizing with its exact adjoint, shared by Resizing, CenterCrop and RandomCrop.

Images are NHWC. `resample` optionally crops a box out of each image (or pads it with a constant), then resizes
it to (height, width), one axis after the other; each output pixel along an axis reads input pixels at fixed
indices with fixed weights ("taps"), so the backward pass is the same taps summed back (np.add.reduceat over
the runs of equal indices, which are sorted). Coordinates have half-pixel centres, as Keras 3 uses (TF's
resize with half_pixel_centers, PyTorch's interpolate with align_corners=False): output pixel o samples the
input at (o + 0.5) * in / out - 0.5 for bilinear (clamped to the image), and input pixel
floor((o + 0.5) * in / out) for nearest.
"""
import functools

import numpy as np

INTERPOLATIONS = ("bilinear", "nearest")


@functools.lru_cache(maxsize=256)
def axis_taps(in_size, out_size, interpolation, dtype_name):
    """((indices, weights or None, run starts), ...) mapping in_size pixels to out_size along one axis."""
    dtype = np.dtype(dtype_name)
    if interpolation == "nearest":
        scale = np.float32(in_size) / np.float32(out_size)   # float32 arithmetic, as TF's kernel
        pos = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale
        taps = [(np.minimum(np.floor(pos).astype(np.int64), in_size - 1), None)]
    else:
        scale = dtype.type(in_size) / dtype.type(out_size)
        pos = np.maximum((np.arange(out_size, dtype=dtype) + dtype.type(0.5)) * scale - dtype.type(0.5), 0)
        low = np.floor(pos).astype(np.int64)
        frac = (pos - low).astype(dtype)
        taps = [(low, (1 - frac).astype(dtype)), (np.minimum(low + 1, in_size - 1), frac)]
    return tuple((index, weight, np.flatnonzero(np.r_[True, index[1:] != index[:-1]])) for index, weight in taps)


def _weights(weight, axis, ndim):
    shape = [1] * ndim
    shape[axis] = weight.size
    return weight.reshape(shape)


def _resize_axis(x, axis, taps):
    out = None
    for index, weight, _ in taps:
        term = np.take(x, index, axis=axis)
        if weight is not None:
            term *= _weights(weight, axis, x.ndim)
        if out is None:
            out = term
        else:
            out += term
    return out


def _resize_axis_backward(dy, axis, taps, in_size):
    shape = list(dy.shape)
    shape[axis] = in_size
    dx = np.zeros(shape, dy.dtype)
    where = [slice(None)] * dy.ndim
    for index, weight, starts in taps:
        term = dy if weight is None else dy * _weights(weight, axis, dy.ndim)
        where[axis] = index[starts]                    # distinct indices: one sum each
        dx[tuple(where)] += np.add.reduceat(term, starts, axis=axis)
    return dx


def aspect_crop_box(height, width, target_height, target_width):
    """Keras's crop_to_aspect_ratio box (top, left, crop_height, crop_width): the largest centred window with the
    target's aspect ratio."""
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    return int(float(height - crop_height) / 2), int(float(width - crop_width) / 2), crop_height, crop_width


def aspect_padding(height, width, target_height, target_width):
    """Keras's pad_to_aspect_ratio: the rows and columns added on each side (top and bottom, left and right)."""
    pad_height = max(height, int(float(width * target_height) / target_width))
    pad_width = max(width, int(float(height * target_width) / target_height))
    return int(float(pad_height - height) / 2), int(float(pad_width - width) / 2)


def resample(x, size, interpolation="bilinear", box=None, padding=None, fill_value=0.0):
    """Resize NHWC images x to size (height, width), after cropping each to box (top, left, height, width) or
    padding it with fill_value by padding (rows, columns) on each side. Returns (y, ctx) for resample_backward."""
    in_shape = x.shape
    if box is not None:
        top, left, height, width = box
        x = x[:, top:top + height, left:left + width]
    elif padding is not None and any(padding):
        rows, cols = padding
        x = np.pad(x, ((0, 0), (rows, rows), (cols, cols), (0, 0)), constant_values=fill_value)
    taps = {}
    for axis, out_size in ((2, size[1]), (1, size[0])):   # columns first, then rows (as TF and PyTorch)
        if x.shape[axis] != out_size:
            taps[axis] = axis_taps(x.shape[axis], out_size, interpolation, x.dtype.name)
            x = _resize_axis(x, axis, taps[axis])
    return np.ascontiguousarray(x), (in_shape, box, padding, taps)


def resample_backward(ctx, dy):
    """The gradient with respect to resample's input x, given the gradient dy of its output."""
    in_shape, box, padding, taps = ctx
    if box is not None:
        sizes = {1: box[2], 2: box[3]}
    elif padding is not None:
        sizes = {1: in_shape[1] + 2 * padding[0], 2: in_shape[2] + 2 * padding[1]}
    else:
        sizes = {1: in_shape[1], 2: in_shape[2]}
    for axis in (1, 2):
        if axis in taps:
            dy = _resize_axis_backward(dy, axis, taps[axis], sizes[axis])
    if box is not None:
        top, left, height, width = box
        dx = np.zeros(in_shape, dy.dtype)
        dx[:, top:top + height, left:left + width] = dy
        return dx
    if padding is not None and any(padding):
        rows, cols = padding
        dy = dy[:, rows:rows + in_shape[1], cols:cols + in_shape[2]]
    return np.ascontiguousarray(dy)
