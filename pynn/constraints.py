"""Weight constraints (Keras 3): a projection applied to a weight after each optimizer step, `w = c(w)`.

With norms = sqrt(sum(w^2, axis, keepdims=True)) and epsilon = 1e-7 (Keras's backend epsilon):

    MaxNorm(max_value=2, axis=0)    w * clip(norms, 0, max_value) / (epsilon + norms)
    NonNeg()                        w * (w >= 0)
    UnitNorm(axis=0)                w / (epsilon + norms)
    MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0)
                                    w * (rate * clip(norms, min_value, max_value) + (1 - rate) * norms)
                                      / (epsilon + norms)

The lowercase names max_norm, non_neg, unit_norm and min_max_norm are the same classes, as in Keras 3.

For a Dense kernel (in, out), axis=0 constrains each unit's incoming weight vector; for a Conv2D kernel
(kh, kw, cin, out) use axis=[0, 1, 2].

Example:
    >>> c = get("max_norm")
    >>> kernel[...] = c(kernel)
"""
import numpy as np

from pynn import _registry

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg", "unit_norm",
           "min_max_norm", "get", "serialize", "EPSILON"]

EPSILON = 1e-7


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=_axis(axis), keepdims=True))


class Constraint:
    """Base class: `c(w)` returns the projected weight (a new array of w's dtype); get_config() its arguments."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Scale each slice along axis down to norm max_value when its norm exceeds it."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = np.asarray(w)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Zero the negative entries."""

    def __call__(self, w):
        w = np.asarray(w)
        return (w * (w >= 0)).astype(w.dtype, copy=False)


class UnitNorm(Constraint):
    """Scale each slice along axis to unit norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = np.asarray(w)
        return (w / (EPSILON + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's norm toward [min_value, max_value]; rate 1 clips at once, rate < 1 moves part way."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = np.asarray(w)
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


# Keras 3's lowercase names: aliases of the classes.
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_CLASSES = _registry.by_name(MaxNorm, NonNeg, UnitNorm, MinMaxNorm)


def serialize(constraint):
    """{'class_name': ..., 'config': ...}, which get() turns back into the constraint."""
    from pynn.saving.object_registration import get_registered_name
    return {"class_name": get_registered_name(type(constraint)), "config": constraint.get_config()}


def get(identifier):
    """A constraint from None, an instance, a callable, a name ('max_norm', 'NonNeg', ...) or a config dict."""
    return _registry.get("constraints", identifier, _CLASSES)
