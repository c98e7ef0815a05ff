"""SeededStream: the random stream of a layer that draws noise in training (Dropout, GaussianNoise, ...)."""
import numpy as np

from pynn import random_state


def check_seed(seed, layer_name):
    """None or a non-negative integer, as an int."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Layer '{layer_name}': seed must be None or a non-negative integer, got {seed!r}")
    return int(seed)


class SeededStream:
    """Mixin giving a layer one stream of counter-based random numbers, keyed by (seed, offset).

    Each draw takes the next `size` elements of the stream, so the numbers do not depend on the thread count.
    The stream is that of `self.seed`, or without one, of a seed drawn from the global stream at the first
    draw (and again after pynn.utils.set_random_seed, which makes unseeded layers reproducible). The layer's
    __init__ sets `self.seed` and calls `_init_stream()`.
    """

    def _init_stream(self):
        self._offset = 0
        self._stream = (None, None)  # (seed drawn from the global stream, random_state.generation() then)

    def _key(self, size):
        """(seed, offset) for the next `size` random numbers of this layer."""
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

    def get_rng_state(self):
        """Where this layer's random stream stands (saved with the model so that training resumes exactly)."""
        return {"stream_seed": self._stream[0], "offset": self._offset}

    def set_rng_state(self, state):
        """Continue the stream get_rng_state described (counted from now, even if set_seed ran before)."""
        seed = state["stream_seed"]
        self._stream = (None if seed is None else int(seed), random_state.generation())
        self._offset = int(state["offset"])
