"""Deterministic reductions over a batch (csrc/reduce/): bias gradients, loss sums, weighted losses.

Sums accumulate in double and are rounded to the input's dtype once. The order of the additions depends
on the shape alone, so the results are bit-identical for any number of threads (see csrc/reduce/reduce.h).
They can differ from numpy.sum in the last bits, which sums in another order (and in float32 for float32).

Example:
    >>> db = sum_rows(dy)                         # Dense bias gradient, dy of shape (batch, units)
    >>> loss = weighted_mean(per_sample, sample_weight)
"""
import numpy as np

from pynn import _C

__all__ = ["sum_rows", "sum", "mean", "weighted_sum", "weighted_mean"]


def _ndarray(x, name):
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(x).__name__}")
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def sum_rows(x, out=None):
    """Column sums of a 2-D array: out[j] = sum_i x[i, j] (numpy: x.sum(axis=0)).

    Args:
        x: float32 / float64 array of shape (rows, cols); any row stride, other layouts are copied.
        out: optional C-contiguous array of shape (cols,) and x's dtype to write into.
    Returns:
        out, of shape (cols,). rows == 0 gives zeros.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"x: expected a numpy.ndarray, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"x: expected a 2-D array, got shape {x.shape}")
    if x.shape[1] > 1 and x.strides[1] != x.itemsize:
        x = np.ascontiguousarray(x)
    if out is None:
        out = np.empty(x.shape[1], dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
    _C.sum_rows(x, out)
    return out


def sum(x):
    """The sum of all elements of x (float32 / float64), as a scalar of x's dtype. Empty: 0."""
    x = _ndarray(x, "x")
    return x.dtype.type(_C.reduce_sum(x))


def mean(x):
    """The mean of all elements of x, as a scalar of x's dtype. Empty: nan (as numpy, without the warning)."""
    x = _ndarray(x, "x")
    total = _C.reduce_sum(x)
    return x.dtype.type(total / x.size if x.size else np.nan)


def weighted_sum(values, weights):
    """sum_i values[i] * weights[i], for arrays of one shape and dtype, as a scalar of that dtype."""
    values, weights = _ndarray(values, "values"), _ndarray(weights, "weights")
    weighted, _ = _C.reduce_weighted_sum(values, weights)
    return values.dtype.type(weighted)


def weighted_mean(values, weights):
    """sum(values * weights) / sum(weights), as a scalar of the values' dtype.

    A total weight of 0 gives 0 (Keras divides sample-weighted losses with divide_no_nan, so a batch whose
    weights are all 0 adds no loss). Note Keras's default loss reduction, 'sum_over_batch_size', divides by
    values.size instead: weighted_sum(values, weights) / values.size.
    """
    values, weights = _ndarray(values, "values"), _ndarray(weights, "weights")
    weighted, total = _C.reduce_weighted_sum(values, weights)
    return values.dtype.type(weighted / total if total != 0 else 0.0)
