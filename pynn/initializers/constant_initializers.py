"""The Initializer base class and the deterministic initializers: Zeros, Ones, Constant, Identity."""
import numpy as np

from pynn.kernels.random import _shape

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "Identity"]


class Initializer:
    """Base class: `init(shape, dtype="float32")` returns a new array of that shape and dtype.

    A subclass implements __call__ and get_config() (its constructor arguments, so that
    `type(init)(**init.get_config())` rebuilds it).

    Example:
        >>> class Halves(Initializer):
        ...     def __call__(self, shape, dtype="float32"):
        ...         return np.full(shape, 0.5, dtype=dtype)
    """

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    """Every element equal to value."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return np.full(_shape(shape), self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype="float32"):
        return np.zeros(_shape(shape), dtype=dtype)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype="float32"):
        return np.ones(_shape(shape), dtype=dtype)


class Identity(Initializer):
    """gain times the identity matrix (2-D shapes only; a non-square shape gets ones on its main diagonal)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity: expected a 2-D shape, got {shape}")
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}
