"""pynn.losses: Keras 3's loss classes, each with an exact gradient (see Loss for the contract).

Layout: loss.py (the base class and the reduction), regression.py (squared / absolute / percentage / log /
Huber / log-cosh errors, the hinges, CosineSimilarity), probabilistic.py (cross-entropies, KLDivergence,
Poisson), focal.py (the focal cross-entropies), overlap.py (Dice, Tversky), functions.py (Keras's lowercase
per-sample functions: mean_squared_error, binary_crossentropy, ...).

Example:
    >>> loss = pynn.losses.get("sparse_categorical_crossentropy")
    >>> value, dlogits = loss.value_and_gradient_from_logits(labels, logits, "softmax")
"""
import inspect

from pynn.losses.focal import BinaryFocalCrossentropy, CategoricalFocalCrossentropy
from pynn.losses.functions import (
    FUNCTIONS, MAE, MAPE, MSE, MSLE, binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
    categorical_focal_crossentropy, categorical_hinge, cosine_similarity, dice, hinge, huber, kl_divergence, kld,
    KLD, kullback_leibler_divergence, log_cosh, logcosh, mae, mape, mean_absolute_error,
    mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error, mse, msle, poisson,
    sparse_categorical_crossentropy, squared_hinge, tversky,
)
from pynn.losses.loss import Loss
from pynn.losses.overlap import Dice, Tversky
from pynn.losses.probabilistic import (
    BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, Poisson, SparseCategoricalCrossentropy,
)
from pynn.losses.regression import (
    CategoricalHinge, CosineSimilarity, Hinge, Huber, LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredError, MeanSquaredLogarithmicError, SquaredHinge,
)

ALL_LOSSES = (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Huber,
              LogCosh, Hinge, SquaredHinge, CategoricalHinge, CosineSimilarity, BinaryCrossentropy,
              BinaryFocalCrossentropy, CategoricalCrossentropy, CategoricalFocalCrossentropy,
              SparseCategoricalCrossentropy, KLDivergence, Poisson, Dice, Tversky)

# Keras's function names and their short aliases (keras.losses.get accepts these), mapped to the class that
# computes them; "huber_loss" and "kullback_leibler_divergence" are tf.keras's names, kept.
NAMES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber,
    "log_cosh": LogCosh,
    "hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "cosine_similarity": CosineSimilarity,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson,
    "dice": Dice, "tversky": Tversky,
}
NAMES.update({cls.__name__: cls for cls in ALL_LOSSES})


class LossFunctionWrapper(Loss):
    """A plain function fn(y_true, y_pred, **kwargs) -> per-sample values used as a Loss (Keras's
    LossFunctionWrapper). For pynn's own loss functions (pynn.losses.huber, ...) the matching class computes
    the value and its exact gradient; for any other function the gradient is taken by central differences."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", "loss"))
        self.fn = fn
        self._fn_kwargs = kwargs
        self._exact = _exact_loss(fn, kwargs)

    def _prepare(self, y_true, y_pred, kernel_checks_labels=False):
        if self._exact is not None:
            return self._exact._prepare(y_true, y_pred)
        return super()._prepare(y_true, y_pred)

    def _mask(self, y_true, y_pred):
        return None if self._exact is None else self._exact._mask(y_true, y_pred)

    def call(self, y_true, y_pred):
        if self._exact is not None:
            return self._exact.call(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def call_and_gradient(self, y_true, y_pred):
        if self._exact is not None:
            return self._exact.call_and_gradient(y_true, y_pred)
        return super().call_and_gradient(y_true, y_pred)

    def get_config(self):
        return {**super().get_config(), "fn": self.fn, **self._fn_kwargs}


def _exact_loss(fn, kwargs):
    """The loss class instance that computes pynn.losses' function fn with these options, or None."""
    if FUNCTIONS.get(getattr(fn, "__name__", None)) is not fn:
        return None
    kwargs = dict(kwargs)
    if fn is sparse_categorical_crossentropy and kwargs.get("axis", -1) == -1:
        kwargs.pop("axis", None)
    try:
        return NAMES[fn.__name__](**kwargs)
    except TypeError:
        return None


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
    if FUNCTIONS.get(getattr(identifier, "__name__", None)) is identifier:
        return NAMES[identifier.__name__]()  # pynn.losses.huber -> Huber(): the same values, exact gradients
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


__all__ = ["Loss", "LossFunctionWrapper", "get", "serialize", *[cls.__name__ for cls in ALL_LOSSES],
           "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
           "mean_squared_logarithmic_error", "huber", "log_cosh", "hinge", "squared_hinge", "categorical_hinge",
           "cosine_similarity", "kl_divergence", "poisson", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "binary_focal_crossentropy", "categorical_focal_crossentropy", "dice",
           "tversky", "mse", "mae", "mape", "msle", "kld", "logcosh", "MSE", "MAE", "MAPE", "MSLE", "KLD",
           "kullback_leibler_divergence"]
