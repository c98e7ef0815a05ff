"""pynn.losses: Keras 3's loss classes, each with an exact gradient (see Loss for the contract).

Layout: loss.py (the base class and the reduction), regression.py (squared / absolute / log / Huber errors,
Hinge, CosineSimilarity), probabilistic.py (cross-entropies, KLDivergence, Poisson).

Example:
    >>> loss = pynn.losses.get("sparse_categorical_crossentropy")
    >>> value, dlogits = loss.value_and_gradient_from_logits(labels, logits, "softmax")
"""
import inspect

from pynn.losses.loss import Loss
from pynn.losses.probabilistic import (
    BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, Poisson, SparseCategoricalCrossentropy,
)
from pynn.losses.regression import (
    CosineSimilarity, Hinge, Huber, MeanAbsoluteError, MeanSquaredError, MeanSquaredLogarithmicError,
)

ALL_LOSSES = (MeanSquaredError, MeanAbsoluteError, MeanSquaredLogarithmicError, Huber, Hinge, CosineSimilarity,
              BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, Poisson)

# Keras's function names and their short aliases, mapped to the class that computes them.
NAMES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber,
    "hinge": Hinge,
    "cosine_similarity": CosineSimilarity,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson,
}
NAMES.update({cls.__name__: cls for cls in ALL_LOSSES})


class LossFunctionWrapper(Loss):
    """A plain function fn(y_true, y_pred) -> per-sample values used as a Loss (gradient by central
    differences unless fn is a Loss's call)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        return {**super().get_config(), "fn": self.fn}


def get(identifier):
    """A Loss from a name ('mse', 'categorical_crossentropy', 'CategoricalCrossentropy', ...), a Loss
    instance (returned as is), a Loss class, a config dict {"class_name": ..., "config": {...}}, or a
    callable fn(y_true, y_pred) -> per-sample values (wrapped). None gives None."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in NAMES:
            raise ValueError(f"Unknown loss {identifier!r}. Valid names: {', '.join(sorted(NAMES))}")
        return NAMES[identifier]()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        custom = _registered(name, Loss)
        if custom is not None:
            return custom.from_config(identifier.get("config") or {})
        if name not in NAMES:
            raise ValueError(f"Unknown loss class_name {name!r}. Valid names: {', '.join(sorted(NAMES))}")
        return NAMES[name].from_config(identifier.get("config", {}))
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier {identifier!r}: expected a name, a Loss, a dict or "
                     f"a callable")


def serialize(loss):
    """{"class_name": ..., "config": ...} for get() / from_config()."""
    from pynn.saving.object_registration import get_registered_name
    return {"class_name": get_registered_name(type(loss)), "config": loss.get_config()}


def _registered(name, base):
    """A subclass of base registered under `name` with pynn.saving.register_keras_serializable, or None."""
    from pynn.saving.object_registration import get_registered_object
    custom = get_registered_object(name) if isinstance(name, str) else None
    return custom if inspect.isclass(custom) and issubclass(custom, base) else None


__all__ = ["Loss", "LossFunctionWrapper", "get", "serialize", *[cls.__name__ for cls in ALL_LOSSES]]
