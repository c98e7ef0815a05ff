"""Weight regularizers (Keras 3): a penalty added to the loss, and its gradient for the optimizer step.

    L1(l1)       penalty = l1 * sum|w|                 gradient = l1 * sign(w)
    L2(l2)       penalty = l2 * sum w^2  (no 1/2)      gradient = 2 * l2 * w
    L1L2(l1, l2) the sum of both
    OrthogonalRegularizer(factor, mode)
                 penalty = factor * mean over pairs i < j of |u_i . u_j|, u_i the L2-normalised rows
                 (mode="rows") or columns (mode="columns") of a 2-D weight

The lowercase names l1, l2, l1_l2 and orthogonal_regularizer are the same classes, as in Keras 3.

Example:
    >>> reg = get("l2")          # L2(l2=0.01)
    >>> loss = data_loss + reg(w)
    >>> w_grad += reg.gradient(w)
"""
import math

import numpy as np

from pynn import _registry

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "get", "serialize"]


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
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

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
        super().__init__(l1=0.01 if l1 is None else l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """penalty = l2 * sum w^2 (no 1/2, as Keras); gradient = 2 * l2 * w."""

    def __init__(self, l2=0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (mode="rows") or columns (mode="columns") of a 2-D weight towards orthogonality.

    With u_i = w_i / max(||w_i||, 1e-7) the normalised vectors, P = U U^T and n vectors:
        penalty = factor * 0.5 * sum_{i != j} |P_ij| / (n (n - 1) / 2)
        d penalty / dU = c (S + S^T) U, S = sign(P) off the diagonal, c = factor / (n (n - 1));
        d penalty / dw_i = (g_i - (g_i . u_i) u_i) / ||w_i|| (g_i / 1e-7 for a vector shorter than 1e-7).
    n = 1 gives NaN, as in Keras (no pairs).
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(f'Invalid value for argument `mode`. Expected one of {{"rows", "columns"}}. '
                             f"Received: mode={mode}")
        self.mode = mode

    def _vectors(self, w):
        w = np.asarray(w)
        if w.ndim != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={w.shape}")
        return w.astype(np.float64) if self.mode == "rows" else w.T.astype(np.float64)

    def _terms(self, w):
        vectors = self._vectors(w)
        norms = np.sqrt(np.sum(np.square(vectors), axis=1, keepdims=True))
        units = vectors / np.maximum(norms, 1e-7)
        product = units @ units.T
        np.fill_diagonal(product, 0.0)
        n = vectors.shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = self.factor * 0.5 / (n * (n - 1.0) / 2.0)
        return norms, units, product, scale

    def __call__(self, w):
        _, _, product, scale = self._terms(w)
        with np.errstate(invalid="ignore"):
            return float(scale * np.sum(np.abs(product)))

    def gradient(self, w):
        w = np.asarray(w)
        dtype = w.dtype if w.dtype.kind == "f" else np.dtype(np.float32)
        norms, units, product, scale = self._terms(w)
        with np.errstate(invalid="ignore"):
            g = 2 * scale * (np.sign(product) @ units)  # S symmetric: (S + S^T) U = 2 S U
        grad = np.where(norms > 1e-7, (g - np.sum(g * units, axis=1, keepdims=True) * units)
                        / np.maximum(norms, 1e-7), g / 1e-7)
        return (grad if self.mode == "rows" else grad.T).astype(dtype)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras 3's lowercase names: aliases of the classes.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_CLASSES = _registry.by_name(L1, L2, L1L2, OrthogonalRegularizer)


def serialize(regularizer):
    """{'class_name': ..., 'config': ...}, which get() turns back into the regularizer."""
    from pynn.saving.object_registration import get_registered_name
    return {"class_name": get_registered_name(type(regularizer)), "config": regularizer.get_config()}


def get(identifier):
    """A regularizer from None, an instance, a callable, a name ('l1', 'l2', 'l1_l2', 'L1L2') or a config dict."""
    return _registry.get("regularizers", identifier, _CLASSES)
