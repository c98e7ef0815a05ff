"""2-D max and average pooling in NHWC, forward and backward (csrc/pooling/).

Windows follow Keras: 'valid' keeps only whole windows, out = floor((in - pool) / stride) + 1; 'same' gives
out = ceil(in / stride) with the padding split (smaller half before). Padded positions take no part: max
ignores them and average divides by the number of valid positions. 1-D pooling is the height-1 case and global
pooling is a pool of the whole image; the layers use these functions for both.

Example:
    >>> y, argmax = max_pool2d(x, (2, 2))                     # x (batch, h, w, c)
    >>> dx = max_pool2d_backward(dy, argmax, x.shape, (2, 2))
"""
import functools

import numpy as np

from pynn import _C

__all__ = ["pool2d_output_shape", "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"]


def _pair(value, name):
    try:
        pair = (int(value),) * 2 if np.ndim(value) == 0 else tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected an integer or a pair of integers, got {value!r}") from None
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name}: expected positive integers, got {value!r}")
    return pair


def _parse_arguments(pool_size, strides, padding):
    pool_size = _pair(pool_size, "pool_size")
    strides = pool_size if strides is None else _pair(strides, "strides")
    padding = str(padding).lower()
    return pool_size, strides, padding


_parsed_arguments = functools.lru_cache(maxsize=256)(_parse_arguments)
_output_hw = functools.lru_cache(maxsize=1024)(_C.pool2d_output_shape_of)


def _arguments(pool_size, strides, padding):
    # A model calls these per batch with the same few arguments: parsed once (a tuple of ints is hashable; a
    # list or an array is parsed each time).
    try:
        return _parsed_arguments(pool_size, strides, padding)
    except TypeError:
        return _parse_arguments(pool_size, strides, padding)


def pool2d_output_shape(input_shape, pool_size, strides=None, padding="valid"):
    """The (batch, out_h, out_w, channels) of pooling an NHWC input of `input_shape` (batch may be None)."""
    pool_size, strides, padding = _arguments(pool_size, strides, padding)
    n, h, w, c = input_shape
    try:
        out_h, out_w, _, _ = _output_hw(h, w, pool_size, strides, padding)
    except TypeError:                       # unhashable sizes: computed each time
        out_h, out_w, _, _ = _C.pool2d_output_shape_of(h, w, pool_size, strides, padding)
    return n, out_h, out_w, c


def _check_input(x):
    if not isinstance(x, np.ndarray):
        raise ValueError(f"x: expected a numpy.ndarray, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"x: expected a 4-D (batch, height, width, channels) array, got shape {x.shape}")
    return np.ascontiguousarray(x)


def _output(x, pool_size, strides, padding):
    shape = pool2d_output_shape(x.shape, pool_size, strides, padding)
    if shape[1] < 1 or shape[2] < 1:
        raise ValueError(f"x: pool_size {pool_size} is larger than the input's {x.shape[1:3]} with padding "
                         f"'{padding}'")
    return np.empty(shape, dtype=x.dtype)


def max_pool2d(x, pool_size, strides=None, padding="valid", keep_argmax=True, reference=False, out=None,
               argmax_out=None):
    """Max pooling: (y, argmax) with argmax int32 (ih * width + iw of each maximum), or (y, None).

    Args:
        x: float32 / float64 array (batch, height, width, channels).
        pool_size, strides: an integer or a pair (strides default to pool_size). padding: 'valid' or 'same'.
        keep_argmax: False for inference (no indices written).
        reference: run the plain serial C++ loops (the tests' oracle); every function here takes it.
        out, argmax_out: arrays to write y and argmax into (checked by the binding), or None for new ones.
    """
    x = _check_input(x)
    pool_size, strides, padding = _arguments(pool_size, strides, padding)
    y = _output(x, pool_size, strides, padding) if out is None else out
    argmax = (np.empty(y.shape, dtype=np.int32) if argmax_out is None else argmax_out) if keep_argmax else None
    _C.max_pool2d_forward(x, y, argmax, pool_size, strides, padding, reference)
    return y, argmax


def max_pool2d_backward(dy, argmax, input_shape, pool_size, strides=None, padding="valid", reference=False,
                        out=None):
    """dx of max pooling: dy routed to each window's argmax (summed where windows overlap); out: dx's array."""
    pool_size, strides, padding = _arguments(pool_size, strides, padding)
    dy = np.ascontiguousarray(dy)
    dx = np.empty(tuple(input_shape), dtype=dy.dtype) if out is None else out
    _C.max_pool2d_backward(dy, argmax, dx, pool_size, strides, padding, reference)
    return dx


def avg_pool2d(x, pool_size, strides=None, padding="valid", reference=False):
    """Average pooling over each window's valid positions."""
    x = _check_input(x)
    pool_size, strides, padding = _arguments(pool_size, strides, padding)
    y = _output(x, pool_size, strides, padding)
    _C.avg_pool2d_forward(x, y, pool_size, strides, padding, reference)
    return y


def avg_pool2d_backward(dy, input_shape, pool_size, strides=None, padding="valid", reference=False):
    """dx of average pooling: each window's dy / count spread over its valid positions."""
    pool_size, strides, padding = _arguments(pool_size, strides, padding)
    dy = np.ascontiguousarray(dy)
    dx = np.empty(tuple(input_shape), dtype=dy.dtype)
    _C.avg_pool2d_backward(dy, dx, pool_size, strides, padding, reference)
    return dx
