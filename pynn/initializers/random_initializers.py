"""Random initializers: RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling and its named presets
(Glorot, He, Lecun), Orthogonal. Draws come from pynn.kernels (Philox keyed by (seed, offset=0)).

VarianceScaling(scale, mode, distribution), with n = fan_in, fan_out or (fan_in + fan_out) / 2 by mode
(at least 1) and s = scale / n:
    truncated_normal    truncated normal, stddev = sqrt(s) / 0.87962566103423978 (so the result has variance s)
    untruncated_normal  normal, stddev = sqrt(s)
    uniform             uniform in [-sqrt(3 s), sqrt(3 s)]

    GlorotUniform = VarianceScaling(1, "fan_avg", "uniform")    GlorotNormal = (1, "fan_avg", "truncated_normal")
    HeUniform     = VarianceScaling(2, "fan_in", "uniform")     HeNormal     = (2, "fan_in", "truncated_normal")
    LecunUniform  = VarianceScaling(1, "fan_in", "uniform")     LecunNormal  = (1, "fan_in", "truncated_normal")
"""
import math

import numpy as np

from pynn import kernels, random_state
from pynn.initializers.constant_initializers import Initializer
from pynn.kernels.random import _shape

__all__ = ["compute_fans", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling", "GlorotUniform",
           "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal"]

# the standard deviation of a unit normal truncated to [-2, 2]
TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def compute_fans(shape):
    """(fan_in, fan_out) as Keras computes them.

    () -> (1, 1); (n,) -> (n, n); (in, out) -> (in, out); (..., in, out) -> (in * r, out * r) with r the product
    of the leading (receptive field) dimensions, e.g. a conv kernel (kh, kw, cin, cout) has r = kh * kw.
    """
    shape = _shape(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"random initializers: expected dtype float32 or float64, got {dtype}")
    return dtype


class RandomInitializer(Initializer):
    """Base of the random initializers: holds the seed (the one given, or one from pynn's global stream)."""

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= seed < 2 ** 64):
            raise ValueError(f"seed: expected None or an integer in [0, 2**64), got {seed!r}")
        self._init_seed = None if seed is None else int(seed)
        self.seed = random_state.next_seed() if seed is None else int(seed)

    def get_config(self):
        return {"seed": self._init_seed}


class RandomNormal(RandomInitializer):
    """Normal numbers with the given mean and stddev."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape, dtype="float32"):
        return kernels.random_normal(shape, self.seed, 0, mean=self.mean, stddev=self.stddev, dtype=_float_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    """Normal numbers with values beyond 2 stddev from the mean redrawn (the result's std is 0.88 * stddev)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape, dtype="float32"):
        return kernels.truncated_normal(shape, self.seed, 0, mean=self.mean, stddev=self.stddev,
                                    dtype=_float_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    """Uniform numbers in [minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = minval
        self.maxval = maxval

    def __call__(self, shape, dtype="float32"):
        return kernels.random_uniform(shape, self.seed, 0, low=self.minval, high=self.maxval, dtype=_float_dtype(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class VarianceScaling(RandomInitializer):
    """Random numbers with variance scale / n, n chosen from the fans by mode (see the module docstring)."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if not scale > 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale!r}")
        distribution = distribution.lower()
        if distribution == "normal":  # Keras's old name
            distribution = "truncated_normal"
        if mode not in self.MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self.MODES}, got {mode!r}")
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of {self.DISTRIBUTIONS}, "
                             f"got {distribution!r}")
        super().__init__(seed)
        self.scale = scale
        self.mode = mode
        self.distribution = distribution

    def __call__(self, shape, dtype="float32"):
        dtype = _float_dtype(dtype)
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / TRUNCATED_NORMAL_STDDEV
            return kernels.truncated_normal(shape, self.seed, 0, mean=0.0, stddev=stddev, dtype=dtype)
        if self.distribution == "untruncated_normal":
            return kernels.random_normal(shape, self.seed, 0, mean=0.0, stddev=math.sqrt(scale), dtype=dtype)
        limit = math.sqrt(3.0 * scale)
        return kernels.random_uniform(shape, self.seed, 0, low=-limit, high=limit, dtype=dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


class GlorotUniform(VarianceScaling):
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, seed=None):
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed)

    def get_config(self):
        return {"seed": self._init_seed}


class GlorotNormal(VarianceScaling):
    """Truncated normal, stddev = sqrt(2 / (fan_in + fan_out)) / 0.87962566."""

    def __init__(self, seed=None):
        super().__init__(scale=1.0, mode="fan_avg", distribution="truncated_normal", seed=seed)

    def get_config(self):
        return {"seed": self._init_seed}


class HeUniform(VarianceScaling):
    """Uniform in [-limit, limit], limit = sqrt(6 / fan_in)."""

    def __init__(self, seed=None):
        super().__init__(scale=2.0, mode="fan_in", distribution="uniform", seed=seed)

    def get_config(self):
        return {"seed": self._init_seed}


class HeNormal(VarianceScaling):
    """Truncated normal, stddev = sqrt(2 / fan_in) / 0.87962566."""

    def __init__(self, seed=None):
        super().__init__(scale=2.0, mode="fan_in", distribution="truncated_normal", seed=seed)

    def get_config(self):
        return {"seed": self._init_seed}


class LecunUniform(VarianceScaling):
    """Uniform in [-limit, limit], limit = sqrt(3 / fan_in)."""

    def __init__(self, seed=None):
        super().__init__(scale=1.0, mode="fan_in", distribution="uniform", seed=seed)

    def get_config(self):
        return {"seed": self._init_seed}


class LecunNormal(VarianceScaling):
    """Truncated normal, stddev = sqrt(1 / fan_in) / 0.87962566."""

    def __init__(self, seed=None):
        super().__init__(scale=1.0, mode="fan_in", distribution="truncated_normal", seed=seed)

    def get_config(self):
        return {"seed": self._init_seed}


class Orthogonal(RandomInitializer):
    """gain times a random orthogonal matrix, as Keras builds it.

    The shape is flattened to (rows, cols) = (prod(shape[:-1]), shape[-1]); a normal matrix of shape
    (max(rows, cols), min(rows, cols)) is QR-factored, q's columns multiplied by sign(diag(r)) so the result is
    uniform over orthogonal matrices, and q transposed when rows < cols. Then W^T W = gain^2 I (rows >= cols)
    or W W^T = gain^2 I (rows < cols).
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        dtype = _float_dtype(dtype)
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: expected a shape of at least 2 dimensions, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = kernels.random_normal((max(rows, cols), min(rows, cols)), self.seed, 0, dtype=np.float64)
        q = _orthonormal_factor(a)
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(dtype)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


def _orthonormal_factor(a, block=32):
    """Q of a = Q R with diag(R) > 0 (what numpy.linalg.qr gives after its columns are multiplied by
    sign(diag(r))), for a of shape (rows, cols), rows >= cols: block Gram-Schmidt with every projection done
    twice ("twice is enough"), on pynn's GEMM. numpy.linalg.qr would wake OpenBLAS's thread pool, whose
    threads then spin for about 0.1 s on the cores that the first training steps need."""
    rows, cols = a.shape
    qt = np.empty((cols, rows), a.dtype)     # Q^T: the basis so far is a block of whole rows
    for j0 in range(0, cols, block):
        vs = np.ascontiguousarray(a[:, j0:j0 + block].T)
        for _ in range(2 if j0 else 0):      # against the finished blocks
            vs -= kernels.matmul(kernels.gemm(vs, qt[:j0], trans_b=True), qt[:j0])
        for i, v in enumerate(vs):            # within the block, one vector at a time
            done = qt[j0:j0 + i]
            for _ in range(2 if i else 0):
                v -= np.sum(np.sum(done * v, axis=1)[:, None] * done, axis=0)
            qt[j0 + i] = v / np.sqrt(np.sum(v * v))
    return qt.T
