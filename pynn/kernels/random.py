"""Random numbers from a counter-based generator (Philox4x32-10, csrc/random/), and dropout.

Every function is keyed by (seed, offset): element i of the result is element offset + i of the stream
of seed, whatever the thread count. Filling n elements and then n more from offset + n continues the
stream; filling a slice [i0, i1) with offset + i0 reproduces that slice. A training loop that wants new
numbers each step advances offset by the size it drew (or uses a new seed).

Example:
    >>> w = random_normal((784, 128), seed=42, stddev=0.05)
    >>> y, mask = dropout(x, rate=0.5, seed=7, offset=step * x.size)
    >>> dx = dropout_backward(dy, mask, rate=0.5)
"""
import math
import operator

import numpy as np

from pynn import _C

__all__ = ["philox4x32_10", "random_uniform", "random_normal", "truncated_normal", "random_bernoulli",
           "random_integers", "dropout", "dropout_backward"]


def philox4x32_10(counter, key):
    """The raw generator: Philox4x32-10 of counter (4 uint32 words) and key (2 words), as 4 uint32."""
    return _C.philox4x32_10(counter, key)


def _shape(shape):
    try:
        dims = (operator.index(shape),) if not isinstance(shape, (tuple, list)) else tuple(
            operator.index(d) for d in shape)
    except TypeError:
        raise ValueError(f"shape: expected an integer or a tuple of integers >= 0, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape: expected an integer or a tuple of integers >= 0, got {shape!r}")
    return dims


def _output(shape, dtype, out, allowed):
    """The array to fill: out (checked against shape and dtype) or a new one."""
    dims = _shape(shape)
    want = None if dtype is None else np.dtype(dtype)
    if out is None:
        want = allowed[0] if want is None else want
        if want not in allowed:
            raise ValueError(f"dtype: expected one of {[str(d) for d in allowed]}, got {want}")
        return np.empty(dims, dtype=want)
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out: expected a numpy.ndarray, got {type(out).__name__}")
    if out.shape != dims:
        raise ValueError(f"out: expected shape {dims}, got {out.shape}")
    if out.dtype not in allowed or (want is not None and out.dtype != want):
        expected = want if want is not None else " or ".join(str(d) for d in allowed)
        raise ValueError(f"out: expected dtype {expected}, got {out.dtype}")
    return out


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _number(value, name):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None


def _finite(value, name, dtype):
    """value as a float that is finite in dtype too (1e39 is not a float32)."""
    value = _number(value, name)
    with np.errstate(over="ignore"):
        if not (math.isfinite(value) and np.isfinite(dtype.type(value))):
            raise ValueError(f"{name}: expected a number that is finite in {dtype}, got {value}")
    return value


def random_uniform(shape, seed, offset=0, low=0.0, high=1.0, dtype=None, out=None):
    """Uniform numbers in [low, high).

    float32 values take 24 random bits, float64 values 53: u in [0, 1), then low + (high - low) * u,
    kept below high where rounding would reach it.

    Args:
        shape: int or tuple of ints. seed: integer in [0, 2**64). offset: first stream element (>= 0).
        low, high: finite bounds, low < high in the output dtype.
        dtype: 'float32' (default) or 'float64'. out: optional C-contiguous array to fill (returned).
    """
    out = _output(shape, dtype, out, _FLOATS)
    low, high = _finite(low, "low", out.dtype), _finite(high, "high", out.dtype)
    if not out.dtype.type(low) < out.dtype.type(high) or not math.isfinite(high - low):
        raise ValueError(f"high: expected low < high (in {out.dtype}) with a finite high - low, "
                         f"got low={low}, high={high}")
    _C.random_fill(out, "uniform", seed, offset, low, high)
    return out


def _normal(kind, shape, seed, offset, mean, stddev, dtype, out):
    out = _output(shape, dtype, out, _FLOATS)
    mean, stddev = _finite(mean, "mean", out.dtype), _finite(stddev, "stddev", out.dtype)
    if stddev < 0:
        raise ValueError(f"stddev: expected a number >= 0, got {stddev}")
    _C.random_fill(out, kind, seed, offset, mean, stddev)
    return out


def random_normal(shape, seed, offset=0, mean=0.0, stddev=1.0, dtype=None, out=None):
    """Normal numbers, mean + stddev * z, z from Box-Muller on pairs of uniforms.

    Args as random_uniform, with mean (finite) and stddev (>= 0) instead of low and high.
    """
    return _normal("normal", shape, seed, offset, mean, stddev, dtype, out)


def truncated_normal(shape, seed, offset=0, mean=0.0, stddev=1.0, dtype=None, out=None):
    """Normal numbers with every z beyond 2 standard deviations redrawn (Keras / TensorFlow semantics).

    The redraws are further counter values of the same element, so the result is still a function of
    (seed, offset + i). Where the plain normal at the same (seed, offset) has |z| < 2, the values agree.
    The standard deviation of the result is 0.87962566 * stddev.
    """
    return _normal("truncated_normal", shape, seed, offset, mean, stddev, dtype, out)


def random_bernoulli(shape, p, seed, offset=0, out=None):
    """uint8 array of 1 (probability p, exactly floor(p * 2**32) / 2**32) and 0."""
    out = _output(shape, np.uint8, out, (np.dtype(np.uint8),))
    _C.random_bernoulli(out, _number(p, "p"), seed, offset)
    return out


def random_integers(shape, low, high, seed, offset=0, out=None):
    """int64 array uniform in [low, high), with 1 <= high - low <= 2**32 (bias below 2**-32)."""
    out = _output(shape, np.int64, out, (np.dtype(np.int64),))
    try:
        low, high = operator.index(low), operator.index(high)
    except TypeError:
        raise ValueError(f"low, high: expected integers, got {low!r}, {high!r}") from None
    if not (-2 ** 63 <= low and high < 2 ** 63 and 1 <= high - low <= 2 ** 32):
        raise ValueError(f"high: expected low < high <= low + 2**32 (int64), got low={low}, high={high}")
    _C.random_integers(out, low, high, seed, offset)
    return out


def dropout(x, rate, seed, offset=0, out=None, mask=None):
    """Inverted dropout for training: y = x * mask / (1 - rate), mask kept for the backward pass.

    mask[i] = 1 with probability 1 - rate, drawn from stream element offset + i of seed (the complement of
    random_bernoulli(x.shape, rate, seed, offset)). Dropped elements are 0 even where x is Inf or NaN.

    Args:
        x: float32 / float64 C-contiguous array. rate: float in [0, 1).
        seed, offset: the stream position, as in random_uniform.
        out: optional output for y (may be x, for in place). mask: optional uint8 output for the mask.
    Returns:
        (y, mask): y like x, mask a uint8 array of x's shape.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"x: expected a numpy.ndarray, got {type(x).__name__}")
    if out is None:
        out = np.empty_like(x, order="C")
    if mask is None:
        mask = np.empty(x.shape, dtype=np.uint8)
    _C.dropout_forward(x, out, mask, _number(rate, "rate"), seed, offset)
    return out, mask


def dropout_backward(dy, mask, rate, out=None):
    """dx = dy * mask / (1 - rate), with the mask and rate of the forward call. out may be dy."""
    if not isinstance(dy, np.ndarray):
        raise ValueError(f"dy: expected a numpy.ndarray, got {type(dy).__name__}")
    if out is None:
        out = np.empty_like(dy, order="C")
    _C.dropout_backward(dy, mask, out, _number(rate, "rate"))
    return out
