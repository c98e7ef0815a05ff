"""GroupNormalization: normalize groups of channels of each sample (Keras 3)."""
import numpy as np

from pynn import kernels
from pynn.layers.layer import Layer, serialize_argument as _serialize
from pynn.layers.layer_normalization import check_epsilon, standardize, standardize_backward

_GROUP_AXES = (1, 3)   # of the (batch, positions, groups, channels per group) layout


class GroupNormalization(Layer):
    """Group normalization (Keras 3): the channels (along `axis`) are split into `groups` groups of
    consecutive channels, and each sample's group is normalized over its channels and every other non-batch
    axis, then scaled and shifted per channel: `y = (x - mean) / sqrt(var + epsilon) * gamma + beta`.

    groups=1 normalizes each sample over all of its axes; groups=-1 (one channel per group) is instance
    normalization. Equal to `torch.nn.GroupNorm(groups, channels, eps=epsilon)` on the channels-first layout.

    Args:
        groups: a positive divisor of the number of channels, or -1 (default 32).
        axis: the channels axis (default -1); not the batch axis.
        epsilon: added to the variance (1e-3). center / scale: learn beta / gamma (default True).
        beta_initializer ("zeros"), gamma_initializer ("ones"), beta_regularizer, gamma_regularizer,
        beta_constraint, gamma_constraint.

    Input shape: any of rank >= 2, with a known number of channels. Output shape: the same. Weights: gamma,
    beta (when scale / center), of shape (channels,). The mask, if any, passes through.

    Example:
        layer = pynn.layers.GroupNormalization(groups=4)
        y = layer(np.random.rand(2, 8, 8, 16).astype("float32"))   # 4 groups of 4 channels
    """

    supports_masking = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or (groups <= 0 and groups != -1):
            raise ValueError(f"Layer '{self.name}': groups must be a positive integer or -1 (instance "
                             f"normalization), got {groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Layer '{self.name}': axis must be an integer, got {axis!r}")
        self.groups = int(groups)
        self.axis = int(axis)
        self.epsilon = check_epsilon(epsilon, self.name)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = beta_initializer
        self.gamma_initializer = gamma_initializer
        self.beta_regularizer = beta_regularizer
        self.gamma_regularizer = gamma_regularizer
        self.beta_constraint = beta_constraint
        self.gamma_constraint = gamma_constraint
        self.gamma = self.beta = None
        self._groups = None

    def _resolve(self, input_shape):
        """(channels axis >= 1, number of groups) for inputs of this shape, or a ValueError."""
        rank = len(input_shape)
        if rank < 2 or not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"Layer '{self.name}': axis {self.axis} is not a channels axis of an input of shape "
                             f"{tuple(input_shape)}")
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(f"Layer '{self.name}': the size of axis {self.axis} must be known, got input shape "
                             f"{tuple(input_shape)}")
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            raise ValueError(f"Layer '{self.name}': groups={groups} must divide the number of channels, got "
                             f"{channels} channels (input shape {tuple(input_shape)})")
        return self.axis % rank, groups

    def build(self, input_shape):
        axis, self._groups = self._resolve(input_shape)
        shape = (input_shape[axis],)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer, regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)

    def compute_output_shape(self, input_shape):
        self._resolve(input_shape)
        return tuple(input_shape)

    def _grouped(self, a):
        """a as (batch, positions, groups, channels per group), channels moved last; and the moved shape."""
        axis = self.axis % a.ndim
        if axis != a.ndim - 1:
            a = np.ascontiguousarray(np.moveaxis(a, axis, -1))
        return a.reshape(a.shape[0], -1, self._groups, a.shape[-1] // self._groups), a.shape

    def _ungrouped(self, a, moved_shape):
        a = a.reshape(moved_shape)
        axis = self.axis % a.ndim
        return a if axis == a.ndim - 1 else np.ascontiguousarray(np.moveaxis(a, -1, axis))

    def _per_channel(self, var):
        return var.value.reshape(self._groups, -1)

    def forward(self, x, training=False):
        x4, moved = self._grouped(x)
        n, c, inv = standardize(x4, _GROUP_AXES, self.epsilon)
        y = n * self._per_channel(self.gamma) if self.gamma is not None else n.copy()
        if self.beta is not None:
            y += self._per_channel(self.beta)
        return self._ungrouped(y, moved), (n, inv, moved)

    def _backward(self, ctx, dy, input_gradient):
        n, inv, moved = ctx
        dy4, _ = self._grouped(dy)
        channels = moved[-1]
        if self.gamma is not None and self.gamma.requires_grad:
            self.gamma.grad += kernels.sum_rows(np.ascontiguousarray(dy4 * n).reshape(-1, channels))
        if self.beta is not None and self.beta.requires_grad:
            self.beta.grad += kernels.sum_rows(np.ascontiguousarray(dy4).reshape(-1, channels))
        if not input_gradient:
            return None
        u = dy4 * self._per_channel(self.gamma) if self.gamma is not None else dy4
        return self._ungrouped(standardize_backward(u, n, n, inv, _GROUP_AXES), moved)

    def backward(self, ctx, dy):
        return self._backward(ctx, dy, True)

    def backward_weights(self, ctx, dy):
        """gamma.grad and beta.grad only: what a model's first layer needs."""
        self._backward(ctx, dy, False)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": _serialize(self.beta_initializer),
                "gamma_initializer": _serialize(self.gamma_initializer),
                "beta_regularizer": _serialize(self.beta_regularizer),
                "gamma_regularizer": _serialize(self.gamma_regularizer),
                "beta_constraint": _serialize(self.beta_constraint),
                "gamma_constraint": _serialize(self.gamma_constraint)}
