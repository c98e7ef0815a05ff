"""Batch normalization over one feature axis, forward (training / inference) and backward, and layer
normalization of the rows of a 2-D array, forward and backward (csrc/normalization/).

Statistics are per feature (the entries along `axis`), over every other axis; the variance is the biased one
(Keras). Training updates the moving statistics in place the Keras way: moving = moving * momentum + batch *
(1 - momentum). Sums accumulate in double over chunks fixed by the shape, so results do not depend on the thread
count.

Example:
    >>> y, mean, inv_std = batch_norm_training(x, gamma=g, beta=b, moving_mean=mm, moving_variance=mv)
    >>> dx, dgamma, dbeta = batch_norm_backward(x, dy, mean, inv_std, gamma=g)
    >>> y = batch_norm_inference(x, mm, mv, gamma=g, beta=b)
    >>> y, mean, inv = layer_norm(x2, gamma=g, beta=b, epsilon=1e-5)     # x2: (rows, features)
    >>> dx = layer_norm_backward(x2, dy2, mean, inv, gamma=g, dgamma=g_grad, dbeta=b_grad)
"""
import math

import numpy as np

from pynn import _C

__all__ = ["batch_norm_training", "batch_norm_inference", "batch_norm_backward", "layer_norm", "layer_norm_backward"]


def _as_3d(x, axis, name="x"):
    """x (C-contiguous) viewed as (outer, features, inner) around `axis`."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(x).__name__}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis: expected an axis of a {x.ndim}-D {name}, got {axis}")
    axis %= x.ndim
    x = np.ascontiguousarray(x)
    return x.reshape(math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:]))


def batch_norm_training(x, axis=-1, gamma=None, beta=None, moving_mean=None, moving_variance=None, epsilon=1e-3,
                        momentum=0.99, reference=False):
    """Normalize x with its batch statistics: (y, mean, inv_std), inv_std = 1 / sqrt(biased variance + epsilon).

    gamma / beta (None: 1 / 0) are the scale and offset; moving_mean / moving_variance (or None) are updated in
    place. reference=True runs the plain serial C++ version (the tests' oracle; backward takes it too).
    """
    x3 = _as_3d(x, axis)
    y = np.empty(x3.shape, x3.dtype)
    mean = np.empty(x3.shape[1], x3.dtype)
    inv_std = np.empty(x3.shape[1], x3.dtype)
    _C.batch_norm_forward_training(x3, gamma, beta, y, mean, inv_std, moving_mean, moving_variance, epsilon,
                                   momentum, reference)
    return y.reshape(x.shape), mean, inv_std


def batch_norm_inference(x, moving_mean, moving_variance, axis=-1, gamma=None, beta=None, epsilon=1e-3):
    """Normalize x with given statistics: (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta."""
    x3 = _as_3d(x, axis)
    y = np.empty(x3.shape, x3.dtype)
    _C.batch_norm_forward_inference(x3, gamma, beta, moving_mean, moving_variance, y, epsilon)
    return y.reshape(x.shape)


def batch_norm_backward(x, dy, mean, inv_std, axis=-1, gamma=None, batch_statistics=True, dgamma=None,
                        dbeta=None, input_gradient=True, reference=False):
    """(dx, dgamma, dbeta) of batch normalization.

    mean / inv_std are what the forward used: the batch's own (batch_statistics=True) or the moving ones
    (inv_std = 1 / sqrt(moving_variance + epsilon)). dgamma / dbeta, when given, are added to in place; otherwise
    new arrays are returned. input_gradient=False skips dx (returned as None).
    """
    x3 = _as_3d(x, axis)
    dy3 = _as_3d(dy, axis, "dy")
    channels = x3.shape[1]
    dgamma = np.zeros(channels, x3.dtype) if dgamma is None else dgamma
    dbeta = np.zeros(channels, x3.dtype) if dbeta is None else dbeta
    dx = np.empty(x3.shape, x3.dtype) if input_gradient else None
    _C.batch_norm_backward(x3, dy3, mean, inv_std, gamma, dx, dgamma, dbeta, batch_statistics, reference)
    return (dx.reshape(x.shape) if dx is not None else None), dgamma, dbeta


def layer_norm(x, gamma=None, beta=None, epsilon=1e-3, centered=True):
    """Each row of x (2-D, (rows, features)) standardized over its features, times gamma plus beta (each of
    length features, or None). Returns (y, mean, inv): mean is each row's mean (0 when not centered, Keras's
    rms_scaling) and inv = 1 / sqrt(biased variance + epsilon), what layer_norm_backward needs."""
    x = np.ascontiguousarray(x)
    rows = x.shape[0] if x.ndim == 2 else 0
    y = np.empty_like(x)
    mean, inv = np.empty(rows, x.dtype), np.empty(rows, x.dtype)
    _C.layer_norm_forward(x, gamma, beta, y, mean, inv, float(epsilon), bool(centered))
    return y, mean, inv


def layer_norm_backward(x, dy, mean, inv, gamma=None, dgamma=None, dbeta=None, centered=True, input_gradient=True):
    """The input gradient of layer_norm (None when not input_gradient); dgamma / dbeta (arrays of length
    features, or None) get the weight gradients added. x, mean, inv: as layer_norm saw and returned them."""
    x = np.ascontiguousarray(x)
    dy = np.ascontiguousarray(dy, dtype=x.dtype)
    dx = np.empty_like(x) if input_gradient else None
    _C.layer_norm_backward(x, dy, mean, inv, gamma, dx, dgamma, dbeta, bool(centered))
    return dx
