"""Probabilistic and hinge metrics (Keras 3's probabilistic_metrics and hinge_metrics): the weighted mean over
samples of the loss function of the same name (pynn.losses.binary_crossentropy, ...)."""
import numpy as np

from pynn import losses
from pynn.metrics.metric import MeanMetricWrapper


class BinaryCrossentropy(MeanMetricWrapper):
    """Weighted mean of binary_crossentropy(y_true, y_pred, from_logits, label_smoothing)."""

    _direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(losses.binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """Weighted mean of categorical_crossentropy(y_true, y_pred, from_logits, label_smoothing, axis)."""

    _direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(losses.categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Weighted mean of sparse_categorical_crossentropy(y_true, y_pred, from_logits, ignore_class, axis).

    With ignore_class, those samples' values are 0; as in Keras they are left out of the mean (weight 0) only
    when sample_weight is given (Keras applies the loss's mask to the weights only then; unweighted, they count
    as zeros in the mean).
    """

    _direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(losses.sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is not None and sample_weight is not None:
            labels = np.asarray(y_true)
            if labels.ndim == np.ndim(y_pred) and labels.shape[-1] == 1:
                labels = labels[..., 0]
            mask = (labels != self.ignore_class).astype(np.float64)
            weights = np.asarray(sample_weight, dtype=np.float64)
            sample_weight = mask * weights.reshape(weights.shape + (1,) * (mask.ndim - weights.ndim))
        return super().update_state(y_true, y_pred, sample_weight)


class KLDivergence(MeanMetricWrapper):
    """Weighted mean of kl_divergence(y_true, y_pred) = sum(t log(t / c), -1), t, c clipped to [1e-7, 1]."""

    _direction = "down"

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(losses.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """Weighted mean of poisson(y_true, y_pred) = mean(y_pred - y_true log(y_pred + 1e-7), -1)."""

    _direction = "down"

    def __init__(self, name="poisson", dtype=None):
        super().__init__(losses.poisson, name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """Weighted mean of hinge(y_true, y_pred) = mean(max(1 - y_true y_pred, 0), -1)."""

    _direction = "down"

    def __init__(self, name="hinge", dtype=None):
        super().__init__(losses.hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """Weighted mean of squared_hinge(y_true, y_pred) = mean(max(1 - y_true y_pred, 0)^2, -1)."""

    _direction = "down"

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(losses.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """Weighted mean of categorical_hinge(y_true, y_pred) = max(max((1 - y) p) - sum(y p) + 1, 0)."""

    _direction = "down"

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(losses.categorical_hinge, name=name, dtype=dtype)
