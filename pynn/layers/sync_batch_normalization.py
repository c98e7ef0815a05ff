"""Batch normalization over every rank's batch (pynn.distributed): `BatchNormalization(synchronized=True)`, also
named SyncBatchNormalization (Keras 2's tf.keras.layers.experimental.SyncBatchNormalization).

In training with several ranks, the mean and variance are those of all the ranks' batches together: each rank
sums its batch's (x - shift) and (x - shift)^2 per feature in float64 (shift: the moving mean, the same on every
rank, so the sums stay small), one allreduce adds them up, and every rank normalizes its own batch with the
result and moves its moving statistics alike. Backward needs the two sums over the whole batch that batch
normalization's input gradient has, sum(dy) and sum(dy * x_hat): one more allreduce. The loss each rank
differentiates is its own batch's mean and DistributedOptimizer averages the ranks' gradients, so 2 ranks with
batch b train as one process with batch 2b. gamma's and beta's gradients are each rank's share (its own sums),
averaged by the optimizer with the others.

In one process, and outside training, it is plain BatchNormalization. Every rank must run the layer's training
forward and backward the same number of times (fit and train_on_batch on every rank do).
"""
import math

import numpy as np

from pynn import kernels
from pynn.layers.batch_normalization import BatchNormalization


class SyncBatchNormalization(BatchNormalization):
    """BatchNormalization(synchronized=True): batch statistics over every rank's batch in training (see the
    module's docstring); plain BatchNormalization in one process. Takes BatchNormalization's arguments."""

    def __init__(self, *args, synchronized=True, **kwargs):
        super().__init__(*args, synchronized=synchronized, **kwargs)


def replicas():
    """The pynn.distributed group of several ranks, or None (one process: plain batch normalization)."""
    from pynn.distributed import _runtime
    group = _runtime.current_group()
    return group if group is not None and group.size > 1 else None


def _as_3d(x, axis):
    """x (C-contiguous) viewed as (outer, features, inner) around `axis`."""
    axis %= x.ndim
    return x.reshape(math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:]))


def forward(layer, x, group):
    """The training forward of `layer` (a BatchNormalization) with statistics over every rank's batch:
    (y, ctx), ctx = (x, mean, inv_std, True, (group, count))."""
    x = np.ascontiguousarray(x)
    x3 = _as_3d(x, layer.axis)
    shift = layer.moving_mean.value.astype(np.float64)
    centered = x3 - shift[:, None]                  # float64
    sums = np.empty((3, x3.shape[1]), np.float64)
    sums[0] = centered.sum(axis=(0, 2))
    sums[1] = np.einsum("ocj,ocj->c", centered, centered)
    sums[2] = x3.shape[0] * x3.shape[2]
    del centered
    group.sum(sums, f"the batch statistics of layer '{layer.name}' (SyncBatchNormalization)")
    count = sums[2, 0]
    offset = sums[0] / count
    mean = shift + offset
    variance = np.maximum(sums[1] / count - offset * offset, 0.0)
    inv_std = 1.0 / np.sqrt(variance + layer.epsilon)
    dtype = x.dtype
    gamma, beta = layer._values()
    y = kernels.batch_norm_inference(x, mean.astype(dtype), variance.astype(dtype), layer.axis, gamma, beta,
                                     layer.epsilon)
    momentum = layer.momentum
    moving_mean, moving_variance = layer.moving_mean.value, layer.moving_variance.value
    moving_mean[...] = moving_mean.astype(np.float64) * momentum + mean * (1.0 - momentum)
    moving_variance[...] = moving_variance.astype(np.float64) * momentum + variance * (1.0 - momentum)
    return y, (x, mean.astype(dtype), inv_std.astype(dtype), True, (group, count))


def backward(layer, ctx, dy, input_gradient):
    """The backward of forward's ctx: gamma's and beta's gradients (this rank's share) added to their .grad, and
    with input_gradient the input's gradient, which needs the sums over every rank's batch."""
    x, mean, inv_std, _, (group, count) = ctx
    gamma = layer._values()[0]
    channels = mean.shape[0]
    sum_dy_xhat = np.zeros(channels, x.dtype)
    sum_dy = np.zeros(channels, x.dtype)
    # dx = gamma * inv_std * dy here (statistics treated as given), plus this rank's two sums
    dx, _, _ = kernels.batch_norm_backward(x, dy, mean, inv_std, layer.axis, gamma, batch_statistics=False,
                                           dgamma=sum_dy_xhat, dbeta=sum_dy, input_gradient=input_gradient)
    if layer.scale and layer.gamma.requires_grad:
        layer.gamma.grad += sum_dy_xhat
    if layer.center and layer.beta.requires_grad:
        layer.beta.grad += sum_dy
    if not input_gradient:
        return None
    sums = np.stack([sum_dy, sum_dy_xhat]).astype(np.float64)
    group.sum(sums, f"the gradient sums of layer '{layer.name}' (SyncBatchNormalization)")
    inv = inv_std.astype(np.float64)
    scale = inv if gamma is None else gamma.astype(np.float64) * inv
    a = scale * sums[0] / count                    # dx -= a + b * (x - mean), per feature
    b = scale * inv * sums[1] / count
    x3, dx3 = _as_3d(x, layer.axis), _as_3d(dx, layer.axis)
    dx3 -= (a[:, None] + b[:, None] * (x3 - mean.astype(np.float64)[:, None])).astype(x.dtype)
    return dx
