"""Layers that only move data: Reshape, Permute, RepeatVector."""
import math

import numpy as np

from pynn.layers.layer import Layer


class Reshape(Layer):
    """Reshape each sample to `target_shape` (one entry may be -1). Input: (batch, ...)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(f"Reshape: invalid target_shape {target_shape}")

    def compute_output_shape(self, input_shape):
        size = None if any(d is None for d in input_shape[1:]) else math.prod(input_shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if size is not None and (size % known or (-1 not in self.target_shape and size != known)):
            raise ValueError(f"Reshape '{self.name}': cannot reshape {input_shape[1:]} ({size} values) "
                             f"to {self.target_shape}")
        shape = tuple((size // known if size is not None else None) if d == -1 else d for d in self.target_shape)
        return (input_shape[0],) + shape

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def forward(self, x, training=False):
        return x.reshape((x.shape[0],) + self.target_shape), x.shape

    def backward(self, ctx, dy):
        return dy.reshape(ctx)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Permute the non-batch axes: dims is a permutation of 1..rank-1 (e.g. (2, 1) swaps them)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {dims}")

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, x, training=False):
        return np.ascontiguousarray(x.transpose((0,) + self.dims)), None

    def backward(self, ctx, dy):
        return np.ascontiguousarray(dy.transpose(np.argsort((0,) + self.dims)))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): the input repeated n times."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"RepeatVector '{self.name}': expected a 2-D input (batch, features), got {input_shape}")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x, training=False):
        return np.repeat(x[:, None, :], self.n, axis=1), None

    def backward(self, ctx, dy):
        return np.ascontiguousarray(dy.sum(axis=1))

    def get_config(self):
        return {**super().get_config(), "n": self.n}
