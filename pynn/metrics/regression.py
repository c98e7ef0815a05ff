"""Regression metrics: MeanSquaredError and MeanAbsoluteError (weighted means of the per-sample errors)."""
import numpy as np

from pynn.metrics.metric import MeanMetricWrapper, _squeeze_or_expand


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _squeeze_or_expand(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
    return np.mean(np.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _squeeze_or_expand(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
    return np.mean(np.abs(y_pred - y_true), axis=-1)


class MeanSquaredError(MeanMetricWrapper):
    """Weighted mean over samples of mean((y_pred - y_true)^2, axis=-1)."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Weighted mean over samples of mean(|y_pred - y_true|, axis=-1)."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)
