"""set_random_seed: one call that makes a whole run repeatable."""
import random

import numpy as np

from pynn import random_state

__all__ = ["set_random_seed"]


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global generator and pynn's seed stream (initializers, dropout).

    Example:
        >>> set_random_seed(1337)   # the same weights, shuffles and dropout masks on every run
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: expected a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    random_state.set_seed(seed)
