"""PReLU: a leaky ReLU whose slope is learned."""
import numpy as np

from pynn.layers.layer import Layer


class PReLU(Layer):
    """y = x if x > 0 else alpha * x, with alpha a weight of shape input_shape[1:] (1 along shared_axes).

    Args: alpha_initializer ("zeros"), alpha_regularizer, alpha_constraint, shared_axes (axes, counted
    without the batch dimension from 1, along which alpha is shared, e.g. [1, 2] for images).
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = alpha_initializer
        self.alpha_regularizer = alpha_regularizer
        self.alpha_constraint = alpha_constraint
        self.shared_axes = None if shared_axes is None else list(np.atleast_1d(shared_axes).astype(int))
        self.alpha = None

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis <= len(shape):
                raise ValueError(f"PReLU '{self.name}': shared axis {axis} is outside the input {input_shape}")
            shape[axis - 1] = 1
        self.alpha = self.add_weight("alpha", tuple(shape), self.alpha_initializer, self.alpha_regularizer,
                                     self.alpha_constraint)

    def forward(self, x, training=False):
        negative = x < 0
        return np.where(negative, self.alpha.value * x, x), (x, negative)

    def backward(self, ctx, dy):
        x, negative = ctx
        if self.alpha.requires_grad:
            grad = np.where(negative, dy * x, 0).sum(axis=0)
            for axis in self.shared_axes or []:
                grad = grad.sum(axis=axis - 1, keepdims=True)
            self.alpha.grad += grad
        return np.where(negative, self.alpha.value * dy, dy)

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": self.alpha_initializer,
                "alpha_regularizer": self.alpha_regularizer, "alpha_constraint": self.alpha_constraint,
                "shared_axes": self.shared_axes}
