"""Weight regularizers (Keras 3): a penalty added to the loss, and its gradient for the optimizer step.

    L1(l1)       penalty = l1 * sum|w|                 gradient = l1 * sign(w)
    L2(l2)       penalty = l2 * sum w^2  (no 1/2)      gradient = 2 * l2 * w
    L1L2(l1, l2) the sum of both

Example:
    >>> reg = get("l2")          # L2(l2=0.01)
    >>> loss = data_loss + reg(w)
    >>> w_grad += reg.gradient(w)
"""
import math

import numpy as np

from pynn import _registry

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get", "serialize"]


def _factor(value, name):
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a non-negative finite number, got {value}")
    return value


class Regularizer:
    """Base class: `reg(w)` is the penalty (a float), `reg.gradient(w)` its derivative with respect to w.

    A subclass implements both, and get_config() returning its constructor arguments.
    """

    def __call__(self, w):
        raise NotImplementedError

    def gradient(self, w):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """penalty = l1 * sum|w| + l2 * sum w^2; gradient = l1 * sign(w) + 2 * l2 * w."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def __call__(self, w):
        w = np.asarray(w)
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(np.sum(np.abs(w), dtype=np.float64))
        if self.l2:
            penalty += self.l2 * float(np.sum(np.square(w, dtype=np.float64)))
        return penalty

    def gradient(self, w):
        w = np.asarray(w)
        dtype = w.dtype if w.dtype.kind == "f" else np.float32
        grad = np.zeros(w.shape, dtype)
        if self.l1:
            grad += dtype.type(self.l1) * np.sign(w).astype(dtype)
        if self.l2:
            grad += dtype.type(2.0 * self.l2) * w.astype(dtype)
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """penalty = l1 * sum|w|; gradient = l1 * sign(w) (0 at w = 0)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """penalty = l2 * sum w^2 (no 1/2, as Keras); gradient = 2 * l2 * w."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


_CLASSES = _registry.by_name(L1, L2, L1L2)


def serialize(regularizer):
    """{'class_name': ..., 'config': ...}, which get() turns back into the regularizer."""
    from pynn.saving.object_registration import get_registered_name
    return {"class_name": get_registered_name(type(regularizer)), "config": regularizer.get_config()}


def get(identifier):
    """A regularizer from None, an instance, a callable, a name ('l1', 'l2', 'l1_l2', 'L1L2') or a config dict."""
    return _registry.get("regularizers", identifier, _CLASSES)
