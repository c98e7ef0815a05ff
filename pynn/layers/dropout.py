"""Dropout: inverted dropout, active only in training."""
import numpy as np

from pynn import kernels, random_state
from pynn.layers.layer import Layer


class Dropout(Layer):
    """Sets a fraction `rate` of the inputs to 0 in training and scales the rest by 1 / (1 - rate).

    The mask comes from the counter-based generator keyed by (seed, offset), so it does not depend on the
    thread count. Each call takes the next `x.size` elements of the layer's stream: the stream of `seed`, or
    without one, of a seed drawn from the global stream at the first call (and again after
    pynn.utils.set_random_seed, which makes the masks reproducible).

    Args:
        rate: fraction to drop, in [0, 1).
        noise_shape: not supported yet (a mask per element).
        seed: an integer, or None.

    Input shape: any. Output shape: the same.
    """

    supports_masking = True  # the mask of a sequence passes through unchanged

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(rate) < 1:
            raise ValueError(f"Dropout '{self.name}': rate must be in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise ValueError(f"Dropout '{self.name}': noise_shape is not supported yet")
        self.rate = float(rate)
        self.seed = seed
        self._offset = 0
        self._stream = (None, None)  # (seed drawn from the global stream, random_state.generation() then)

    def _key(self, size):
        if self.seed is not None:
            seed = int(self.seed)
        else:
            seed, generation = self._stream
            if seed is None or generation != random_state.generation():
                seed = random_state.next_seed()
                self._stream = (seed, random_state.generation())
                self._offset = 0
        offset = self._offset
        self._offset += size
        return seed, offset

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            return x, None
        seed, offset = self._key(x.size)
        y, mask = kernels.dropout(np.ascontiguousarray(x), self.rate, seed, offset)
        return y, mask

    def inference(self):
        return None  # the identity outside training

    def backward(self, ctx, dy):
        if ctx is None:
            return dy
        return kernels.dropout_backward(np.ascontiguousarray(dy), ctx, self.rate)

    def get_rng_state(self):
        """Where this layer's random stream stands (saved with the model so that training resumes exactly)."""
        return {"stream_seed": self._stream[0], "offset": self._offset}

    def set_rng_state(self, state):
        """Continue the stream get_rng_state described (counted from now, even if set_seed ran before)."""
        seed = state["stream_seed"]
        self._stream = (None if seed is None else int(seed), random_state.generation())
        self._offset = int(state["offset"])

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": None, "seed": self.seed}
