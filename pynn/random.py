"""pynn.random: Keras 3's random API (keras.random) on pynn's counter-based Philox generator.

`seed` is None (a fresh draw from the global seed, pynn.utils.set_random_seed), an int (the same numbers
every time), or a SeedGenerator (a stateful stream: each draw advances it, so a layer holding one draws new
numbers at every call yet reproducibly from its initial seed). Draws never depend on the thread count.
"""
import numpy as np

from pynn import kernels, random_state
from pynn.ops import numpy_ops as n
from pynn.ops.tensor import operand, result, value_of


class SeedGenerator:
    """A stream of seeds: `next()` gives the (seed, offset) key of the next draw."""

    def __init__(self, seed=None, name=None, **kwargs):
        self.name = name or "seed_generator"
        self.seed = random_state.next_seed() if seed is None else int(seed)
        self.state = 0

    def next(self, count=1):
        key = (self.seed, self.state)
        self.state += int(count)
        return key

    def get_config(self):
        return {"seed": self.seed, "name": self.name}


def _key(seed, count):
    """(seed, offset) for a draw of `count` numbers."""
    if isinstance(seed, SeedGenerator):
        return seed.next(count)
    if seed is None:
        return random_state.next_seed(), 0
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed), 0
    raise ValueError(f"pynn.random: seed must be None, an int or a SeedGenerator, got {seed!r}")


def _count(shape):
    return int(np.prod(shape, dtype=np.int64))


def _float_dtype(dtype):
    dtype = np.dtype(dtype or np.float32)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"pynn.random: expected a float32 or float64 dtype, got {dtype}")
    return dtype


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    s, off = _key(seed, 2 * _count(shape))
    return kernels.random_normal(tuple(shape), s, off, mean, stddev, _float_dtype(dtype))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    s, off = _key(seed, _count(shape))
    return kernels.random_uniform(tuple(shape), s, off, minval, maxval, _float_dtype(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    s, off = _key(seed, 2 * _count(shape))
    return kernels.truncated_normal(tuple(shape), s, off, mean, stddev, _float_dtype(dtype))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    s, off = _key(seed, _count(shape))
    return kernels.random_integers(tuple(shape), int(minval), int(maxval), s, off).astype(dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """Samples of class indices, one row of `num_samples` per row of logits (batch, classes)."""
    logits = np.asarray(value_of(logits), np.float64)
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    u = uniform((logits.shape[0], num_samples), dtype="float64", seed=seed)
    return np.minimum((u[:, :, None] > cdf[:, None, :]).sum(-1), logits.shape[-1] - 1).astype(dtype)


def shuffle(x, axis=0, seed=None):
    """x with its entries along `axis` in a random order (differentiable: a take)."""
    size = np.shape(value_of(x))[axis]
    keys = uniform((size,), dtype="float64", seed=seed)
    return n.take(x, np.argsort(keys, kind="stable"), axis=axis)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """inputs * mask / (1 - rate), with mask 0 with probability `rate` (broadcast over noise_shape)."""
    a, t = operand(inputs)
    a = n._float(a)
    shape = a.shape if noise_shape is None else tuple(d if d is not None else a.shape[i]
                                                      for i, d in enumerate(noise_shape))
    s, off = _key(seed, _count(shape))
    keep = kernels.random_bernoulli(shape, 1.0 - rate, s, off).astype(a.dtype)
    scale = keep / (1.0 - rate) if rate < 1 else keep * 0
    y = a * scale
    return result(y, (inputs,), (t,), lambda g: (g * scale,), "dropout")
