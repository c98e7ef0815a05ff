"""Dropout: inverted dropout, active only in training."""
import operator

import numpy as np

from pynn import kernels
from pynn.layers.layer import Layer
from pynn.layers.random_stream import SeededStream


def check_noise_shape(noise_shape, layer_name):
    """Keras's noise_shape: None, or a sequence of positive integers and None (None: the input's size)."""
    if noise_shape is None:
        return None
    message = (f"Layer '{layer_name}': noise_shape must be None or a tuple of positive integers and None, "
               f"got {noise_shape!r}")
    if isinstance(noise_shape, str):
        raise ValueError(message)
    try:
        dims = tuple(noise_shape)
        dims = tuple(None if d is None else operator.index(d) for d in dims)
    except TypeError:
        raise ValueError(message) from None
    if any(isinstance(d, bool) or (d is not None and d <= 0) for d in dims):
        raise ValueError(message)
    return dims


class Dropout(SeededStream, Layer):
    """Sets a fraction `rate` of the inputs to 0 in training and scales the rest by 1 / (1 - rate).

    The mask comes from the counter-based generator keyed by (seed, offset), so it does not depend on the
    thread count. Each call takes the next `x.size` elements of the layer's stream (the size of the noise
    shape with `noise_shape`): the stream of `seed`, or without one, of a seed drawn from the global stream at
    the first call (and again after pynn.utils.set_random_seed, which makes the masks reproducible).

    Args:
        rate: fraction to drop, in [0, 1).
        noise_shape: None (a mask per element), or one size per input axis: 1 to share the mask along that
            axis, the axis's size or None for a mask per position. (batch, 1, features) on (batch, timesteps,
            features) drops the same features at every timestep. A noise_shape equal to the input's shape
            draws the same mask as None.
        seed: an integer, or None.

    Input shape: any. Output shape: the same.
    """

    supports_masking = True  # the mask of a sequence passes through unchanged
    _broadcast = False       # True when the mask is drawn for a noise shape and broadcast (noise_shape, spatial)

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(rate) < 1:
            raise ValueError(f"{type(self).__name__} '{self.name}': rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = check_noise_shape(noise_shape, self.name)
        self._broadcast = self._broadcast or self.noise_shape is not None
        self.seed = seed
        self._init_stream()

    def build(self, input_shape):
        if self.noise_shape is not None:
            self._noise_dims(input_shape)

    def _noise_dims(self, shape):
        """The shape of the mask for an input of this shape (None sizes stay None before the first call)."""
        dims = tuple(d if n is None else n for n, d in zip(self.noise_shape, shape))
        if len(self.noise_shape) != len(shape) or any(
                n is not None and d is not None and n not in (1, d) for n, d in zip(dims, shape)):
            raise ValueError(f"Layer '{self.name}': noise_shape {self.noise_shape} does not broadcast to the input "
                             f"shape {tuple(shape)} (one size per axis, each 1, None or the input's size)")
        return dims

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            return x, None
        if self._broadcast:
            return self._broadcast_forward(x)
        seed, offset = self._key(x.size)
        y, mask = kernels.dropout(np.ascontiguousarray(x), self.rate, seed, offset)
        return y, mask

    def _broadcast_forward(self, x):
        shape = self._noise_dims(x.shape)
        seed, offset = self._key(int(np.prod(shape)))
        keep = kernels.random_bernoulli(shape, self.rate, seed, offset) == 0  # dropout's mask, as kernels.dropout
        scale = x.dtype.type(1.0 / (1.0 - self.rate))
        return np.where(keep, x * scale, x.dtype.type(0)), keep

    def inference(self):
        return None  # the identity outside training

    def backward(self, ctx, dy):
        if ctx is None:
            return dy
        if self._broadcast:
            return np.where(ctx, dy * dy.dtype.type(1.0 / (1.0 - self.rate)), dy.dtype.type(0))
        return kernels.dropout_backward(np.ascontiguousarray(dy), ctx, self.rate)

    def backward_weights(self, ctx, dy):
        """No weights: nothing to do as a model's first layer."""

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}
