"""The library's global seed, from which every unseeded random draw (initializers, dropout) takes a key.

Random numbers come from a counter-based generator (Philox, csrc/random/) keyed by (seed, offset), so a draw
depends only on its key and the element index, never on the thread count. `next_seed()` hands out a fresh
64-bit seed for each unseeded draw: the n-th call after `set_seed(s)` always gives the same value.
"""
import numpy as np

from pynn import kernels

_state = {"seed": None, "counter": 0, "generation": 0}


def set_seed(seed):
    """Fix the global seed (pynn.utils.set_random_seed calls this, with Python's and NumPy's)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_seed: expected a non-negative integer, got {seed!r}")
    _state["seed"] = int(seed)
    _state["counter"] = 0
    _state["generation"] += 1


def next_seed():
    """A fresh 64-bit seed for one random draw."""
    if _state["seed"] is None:  # no seed set: start from OS entropy, as Keras does
        _state["seed"] = int(np.random.SeedSequence().entropy % (2 ** 63))
    _state["counter"] += 1
    seed = _state["seed"]
    words = kernels.philox4x32_10([_state["counter"], 0, 0, 0], [seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF])
    return int(words[0]) | (int(words[1]) << 32)


def generation():
    """How many times set_seed has been called: a layer that drew a seed for a stream of draws redraws it
    when this changes, so that set_seed makes everything after it reproducible."""
    return _state["generation"]
