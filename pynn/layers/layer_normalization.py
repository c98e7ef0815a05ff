"""LayerNormalization: normalize each sample over its feature axes (Keras 3), plus the helpers that
GroupNormalization shares: standardization over given axes, forward and backward, in NumPy."""
import warnings

import numpy as np

from pynn import kernels
from pynn.layers.layer import Layer, serialize_argument as _serialize


def standardize(x, axes, epsilon, centered=True):
    """(n, c, inv) for x: inv = 1 / sqrt(var + epsilon) with the biased variance over `axes` (kept as size-1
    axes); c = (x - mean) * inv; n = c, or x * inv when not centered (Keras's rms_scaling)."""
    mean = x.mean(axis=axes, keepdims=True)
    c = x - mean
    inv = np.square(c).mean(axis=axes, keepdims=True)
    inv += epsilon
    np.sqrt(inv, out=inv)
    np.reciprocal(inv, out=inv)
    c *= inv
    return (c if centered else x * inv), c, inv


def standardize_backward(u, n, c, inv, axes, centered=True):
    """The gradient with respect to x of standardize's n, given u = dL/dn:
    inv * (u - mean(u) - c * mean(u * n)); the mean(u) term only when centered."""
    dx = u - c * np.mean(u * n, axis=axes, keepdims=True)
    if centered:
        dx -= u.mean(axis=axes, keepdims=True)
    dx *= inv
    return dx


def normalize_axes(axis, rank, layer, batch_axis_allowed=False):
    """The sorted, non-negative axes of a `rank`-D input that `axis` (an int or a list) names."""
    axes = [axis] if isinstance(axis, int) else list(axis)
    if any(not -rank <= a < rank for a in axes):
        raise ValueError(f"Layer '{layer.name}': axis {axis!r} is out of bounds for an input of rank {rank}")
    axes = sorted(a % rank for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"Layer '{layer.name}': axis {axis!r} names an axis twice (input of rank {rank})")
    if 0 in axes and not batch_axis_allowed:
        raise ValueError(f"Layer '{layer.name}': axis {axis!r} includes the batch axis 0 (input of rank {rank})")
    return tuple(axes)


def check_axis_argument(axis, layer_name):
    """Keras's `axis`: an int, or a list / tuple of ints (returned as a list)."""
    if isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) and not isinstance(a, bool)
                                                        for a in axis):
        return list(axis)
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    raise ValueError(f"Layer '{layer_name}': axis must be an int or a non-empty list of ints, got {axis!r}")


def check_epsilon(epsilon, layer_name):
    try:
        value = float(epsilon)
    except (TypeError, ValueError):
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise ValueError(f"Layer '{layer_name}': epsilon must be a finite number >= 0, got {epsilon!r}")
    return value


class LayerNormalization(Layer):
    """Layer normalization (Keras 3): each sample is normalized over the `axis` axes, then scaled and shifted.

    `y = (x - mean) / sqrt(var + epsilon) * gamma + beta`, with mean and the biased variance over `axis`
    for every sample (and every entry of the other axes); gamma and beta span the `axis` axes. Equal to
    `torch.nn.LayerNorm(normalized_shape, eps=epsilon)` when `axis` is the trailing axes.

    Args:
        axis: int or list of ints, the axes to normalize over (default -1); not the batch axis.
        epsilon: added to the variance (1e-3; torch's LayerNorm defaults to 1e-5).
        center / scale: learn beta / gamma (default True).
        beta_initializer ("zeros"), gamma_initializer ("ones"), beta_regularizer, gamma_regularizer,
        beta_constraint, gamma_constraint.
        rms_scaling: Keras's deprecated option (it warns, as Keras does): `y = x / sqrt(var + epsilon) * gamma`,
            the input not centred and no beta.

    Input shape: any, with known sizes along `axis`. Output shape: the same. Weights: gamma, beta (when
    scale / center), of the shape of the `axis` axes in increasing order. The mask, if any, passes through.

    Example:
        layer = pynn.layers.LayerNormalization()
        y = layer(np.random.rand(8, 10, 64).astype("float32"))   # each (sample, step) row: mean 0, variance ~1
    """

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_axis_argument(axis, self.name)
        self.epsilon = check_epsilon(epsilon, self.name)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        if self.rms_scaling:
            warnings.warn(f"Layer '{self.name}': rms_scaling=True is deprecated in Keras 3: it divides by the "
                          "square root of the variance, not of the mean square", stacklevel=2)
        self.beta_initializer = beta_initializer
        self.gamma_initializer = gamma_initializer
        self.beta_regularizer = beta_regularizer
        self.gamma_regularizer = gamma_regularizer
        self.beta_constraint = beta_constraint
        self.gamma_constraint = gamma_constraint
        self.gamma = self.beta = None
        self._axes, self._features = None, None

    def _resolve(self, input_shape):
        axes = normalize_axes(self.axis, len(input_shape), self)
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(f"Layer '{self.name}': the sizes of axis {self.axis!r} must be known, got input shape "
                             f"{tuple(input_shape)}")
        return axes, shape

    def build(self, input_shape):
        self._axes, shape = self._resolve(input_shape)
        self._features = int(np.prod(shape))
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight("beta", shape, self.beta_initializer, regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)

    def compute_output_shape(self, input_shape):
        self._resolve(input_shape)
        return tuple(input_shape)

    def _rows(self, a):
        """a (of the input's shape) as a (rows, features) array with the normalized axes last, and the order
        of axes that layout has."""
        rest = [i for i in range(a.ndim) if i not in self._axes]
        order = rest + list(self._axes)
        if order != list(range(a.ndim)):
            a = np.ascontiguousarray(a.transpose(order))
        return a.reshape(-1, self._features), order

    def _restore(self, rows, shape, order):
        """The inverse of _rows: a (rows, features) array back to the input's layout."""
        moved = rows.reshape([shape[i] for i in order])
        if order == list(range(len(shape))):
            return moved
        return np.ascontiguousarray(moved.transpose(np.argsort(order)))

    def forward(self, x, training=False):
        x2, order = self._rows(x)
        gamma = self.gamma.value.reshape(-1) if self.gamma is not None else None
        beta = self.beta.value.reshape(-1) if self.beta is not None else None
        y, mean, inv = kernels.layer_norm(x2, gamma, beta, self.epsilon, centered=not self.rms_scaling)
        return self._restore(y, x.shape, order), (x2, mean, inv, x.shape, order)

    def _backward(self, ctx, dy, input_gradient):
        x2, mean, inv, shape, order = ctx
        dy2, _ = self._rows(np.asarray(dy, dtype=x2.dtype))

        def grad_of(var):
            return var.grad.reshape(-1) if var is not None and var.requires_grad else None
        dx = kernels.layer_norm_backward(
            x2, dy2, mean, inv, gamma=None if self.gamma is None else self.gamma.value.reshape(-1),
            dgamma=grad_of(self.gamma), dbeta=grad_of(self.beta), centered=not self.rms_scaling,
            input_gradient=input_gradient)
        return None if dx is None else self._restore(dx, shape, order)

    def backward(self, ctx, dy):
        return self._backward(ctx, dy, True)

    def backward_weights(self, ctx, dy):
        """gamma.grad and beta.grad only: what a model's first layer needs."""
        self._backward(ctx, dy, False)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": _serialize(self.beta_initializer),
                "gamma_initializer": _serialize(self.gamma_initializer),
                "beta_regularizer": _serialize(self.beta_regularizer),
                "gamma_regularizer": _serialize(self.gamma_regularizer),
                "beta_constraint": _serialize(self.beta_constraint),
                "gamma_constraint": _serialize(self.gamma_constraint)}
