"""Regression metrics (Keras 3's regression_metrics): weighted means of the per-sample errors (MeanSquaredError,
MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError),
RootMeanSquaredError and R2Score."""
import warnings

import numpy as np

from pynn import losses
from pynn.metrics.metric import Mean, MeanMetricWrapper, Metric, _squeeze_or_expand


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _squeeze_or_expand(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
    return np.mean(np.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _squeeze_or_expand(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
    return np.mean(np.abs(y_pred - y_true), axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """sum(l2_normalize(y_true) * l2_normalize(y_pred), axis) (the metric: +1 for equal directions)."""
    return -losses.cosine_similarity(y_true, y_pred, axis=axis)


class MeanSquaredError(MeanMetricWrapper):
    """Weighted mean over samples of mean((y_pred - y_true)^2, axis=-1)."""

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Weighted mean over samples of mean(|y_pred - y_true|, axis=-1)."""

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Weighted mean over samples of 100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7), axis=-1)."""

    _direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Weighted mean over samples of mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1)."""

    _direction = "down"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses.mean_squared_logarithmic_error, name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    """Weighted mean over samples of sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)."""

    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}  # as Keras (axis is not saved)


class LogCoshError(MeanMetricWrapper):
    """Weighted mean over samples of mean(log(cosh(y_pred - y_true)), axis=-1). Keras names it "logcosh"."""

    _direction = "down"

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(losses.log_cosh, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """sqrt(weighted mean of (y_pred - y_true)^2): each sample's squared errors are averaged over its
    axes, weighted, and averaged over samples, as Keras's Mean does; the square root is taken at result()."""

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _squeeze_or_expand(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
        return super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        return float(np.sqrt(super().result()))


class R2Score(Metric):
    """The coefficient of determination over everything seen, per output column (Keras 3's R2Score).

    For 2-D inputs (batch, outputs), with weights w (per sample or per entry), per column:
        mean = sum(w y) / sum(w),  total = sum(w y^2) - sum(w y) * mean,  residual = sum(w (y - p)^2)
        r2 = 1 - residual / total (0 where that is infinite)
    class_aggregation: "uniform_average" (mean of the columns, default), "variance_weighted_average" (weighted
    by total) or None (the array). num_regressors p > 0 adjusts: 1 - (1 - r2)(n - 1) / (n - p - 1), with n the
    number of entries seen (Keras counts y_true's size), falling back to r2 (with a warning) when n - 1 <= p.
    """

    _direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError(f"R2Score: class_aggregation must be None, 'uniform_average' or "
                             f"'variance_weighted_average', received {class_aggregation!r}")
        if num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be >= 0, received {num_regressors}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.num_samples = 0
        self.sum = self.squared_sum = self.total_mse = self.count = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _squeeze_or_expand(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise ValueError(f"R2Score expects 2D inputs with shape (batch_size, output_dim). Received input "
                             f"shapes: y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}.")
        if self.sum is None:
            self.sum, self.squared_sum, self.total_mse, self.count = (np.zeros(y_pred.shape[-1]) for _ in range(4))
        weights = np.asarray(1.0 if sample_weight is None else sample_weight, dtype=np.float64)
        if weights.ndim == 1:
            weights = weights[:, None]
        weights = np.broadcast_to(weights, y_true.shape)
        weighted = y_true * weights
        self.sum = self.sum + np.sum(weighted, axis=0)
        self.squared_sum = self.squared_sum + np.sum(y_true * weighted, axis=0)
        self.total_mse = self.total_mse + np.sum(np.square(y_true - y_pred) * weights, axis=0)
        self.count = self.count + np.sum(weights, axis=0)
        self.num_samples += y_true.size
        return self

    def result(self):
        if self.sum is None:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1 - self.total_mse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = float(np.mean(raw))
        elif self.class_aggregation == "variance_weighted_average":
            score = float(np.sum(total * raw) / np.sum(total))
        else:
            score = raw
        if self.num_regressors:
            n, p = self.num_samples, self.num_regressors
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                score = 1 - (1 - score) * (n - 1) / (n - p - 1)
        return score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
