"""Regression and margin losses: MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
MeanSquaredLogarithmicError, Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge, CosineSimilarity.
Each averages over the last axis (CategoricalHinge takes a max / sum over it, CosineSimilarity sums over
``axis``), as in Keras 3."""
import numpy as np

from pynn import kernels
from pynn.losses.loss import EPSILON, Loss


class MeanSquaredError(Loss):
    """loss = mean((y_pred - y_true)^2, axis=-1); d/dy_pred = 2 (y_pred - y_true) / d. (C++ kernel.)"""

    def call(self, y_true, y_pred):
        return kernels.mean_squared_error(y_pred, y_true, grad=False)[0]

    def call_and_gradient(self, y_true, y_pred):
        return kernels.mean_squared_error(np.ascontiguousarray(y_pred), y_true)


class MeanAbsoluteError(Loss):
    """loss = mean(|y_pred - y_true|, axis=-1); d/dy_pred = sign(y_pred - y_true) / d. (C++ kernel.)"""

    def call(self, y_true, y_pred):
        return kernels.mean_absolute_error(y_pred, y_true, grad=False)[0]

    def call_and_gradient(self, y_true, y_pred):
        return kernels.mean_absolute_error(np.ascontiguousarray(y_pred), y_true)


class MeanAbsolutePercentageError(Loss):
    """loss = 100 * mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1), eps = 1e-7;
    d/dy_pred = 100 sign(y_pred - y_true) / (d max(|y_true|, eps))."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        scale = np.maximum(np.abs(y_true), EPSILON)
        error = y_pred - y_true
        grad = (100 * np.sign(error) / (y_pred.shape[-1] * scale)).astype(y_pred.dtype)
        return 100 * np.mean(np.abs(error) / scale, axis=-1), grad


class MeanSquaredLogarithmicError(Loss):
    """loss = mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1), eps = 1e-7.

    d/dy_pred = 2 e / (d (max(y_pred, eps) + 1)) where y_pred > eps, else 0.
    """

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        clipped = np.maximum(y_pred, EPSILON)
        error = np.log(clipped + 1) - np.log(np.maximum(y_true, EPSILON) + 1)
        d = y_pred.shape[-1]
        grad = np.where(y_pred > EPSILON, 2 * error / (d * (clipped + 1)), 0.0).astype(y_pred.dtype)
        return np.mean(np.square(error), axis=-1), grad


class Huber(Loss):
    """With e = y_pred - y_true: loss = mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, axis=-1);
    d/dy_pred = clip(e, -delta, delta) / d. (C++ kernel.)"""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(reduction=reduction, name=name)
        self.delta = float(delta)

    def call(self, y_true, y_pred):
        return kernels.huber(y_pred, y_true, delta=self.delta, grad=False)[0]

    def call_and_gradient(self, y_true, y_pred):
        return kernels.huber(np.ascontiguousarray(y_pred), y_true, delta=self.delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class LogCosh(Loss):
    """With e = y_pred - y_true: loss = mean(log(cosh(e)), axis=-1), computed as Keras does,
    e + softplus(-2 e) - log(2); d/dy_pred = tanh(e) / d."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        error = y_pred - y_true
        values = np.mean(error + np.logaddexp(0, -2 * error) - np.log(2.0), axis=-1)
        return values, (np.tanh(error) / y_pred.shape[-1]).astype(y_pred.dtype)


def hinge_labels(y_true):
    """Keras's convert_binary_labels_to_hinge: labels that are all 0 / 1 become -1 / 1; others stay."""
    return 2 * y_true - 1 if np.all((y_true == 0) | (y_true == 1)) else y_true


class Hinge(Loss):
    """loss = mean(max(1 - y_true * y_pred, 0), axis=-1); labels that are all 0 / 1 become -1 / 1 first.

    d/dy_pred = -y_true / d where 1 - y_true * y_pred > 0, else 0.
    """

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        y_true = hinge_labels(y_true)
        margin = 1 - y_true * y_pred
        grad = np.where(margin > 0, -y_true / y_pred.shape[-1], 0).astype(y_pred.dtype)
        return np.mean(np.maximum(margin, 0), axis=-1), grad


class SquaredHinge(Loss):
    """loss = mean(max(1 - y_true * y_pred, 0)^2, axis=-1) (0 / 1 labels become -1 / 1 first);
    d/dy_pred = -2 max(1 - y_true * y_pred, 0) y_true / d."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        y_true = hinge_labels(y_true)
        margin = np.maximum(1 - y_true * y_pred, 0)
        grad = (-2 * margin * y_true / y_pred.shape[-1]).astype(y_pred.dtype)
        return np.mean(np.square(margin), axis=-1), grad


class CategoricalHinge(Loss):
    """pos = sum(y_true * y_pred, -1), neg = max((1 - y_true) * y_pred, -1): loss = max(neg - pos + 1, 0).

    Where the loss is positive, d/dy_pred_j = (1 - y_true_j) [j = the first argmax of neg] - y_true_j; else 0.
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        pos = np.sum(y_true * y_pred, axis=-1)
        scores = (1 - y_true) * y_pred
        top = np.argmax(scores, axis=-1)[..., None]
        neg = np.take_along_axis(scores, top, axis=-1)[..., 0]
        values = np.maximum(neg - pos + 1, 0)
        grad = -y_true.copy()
        np.put_along_axis(grad, top, np.take_along_axis(grad + 1 - y_true, top, axis=-1), axis=-1)
        grad = np.where((values > 0)[..., None], grad, 0).astype(y_pred.dtype)
        return values, grad


class CosineSimilarity(Loss):
    """loss = -sum(l2_normalize(y_true) * l2_normalize(y_pred), axis), l2_normalize(x) = x / max(||x||, 1e-7).

    With u = y_pred / ||y_pred|| and t = l2_normalize(y_true): d/dy_pred = -(t - (t . u) u) / ||y_pred||
    (where ||y_pred|| > 1e-7; -t / 1e-7 below it).
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity"):
        super().__init__(reduction=reduction, name=name)
        self.axis = axis

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        y_true, y_pred = np.moveaxis(y_true, self.axis, -1), np.moveaxis(y_pred, self.axis, -1)
        norm_pred = np.sqrt(np.sum(np.square(y_pred), axis=-1, keepdims=True))
        norm_true = np.sqrt(np.sum(np.square(y_true), axis=-1, keepdims=True))
        t = y_true / np.maximum(norm_true, EPSILON)
        u = y_pred / np.maximum(norm_pred, EPSILON)
        dot = np.sum(t * u, axis=-1, keepdims=True)
        grad = np.where(norm_pred > EPSILON, -(t - dot * u) / np.maximum(norm_pred, EPSILON), -t / EPSILON)
        return -dot[..., 0], np.moveaxis(grad.astype(y_pred.dtype), -1, self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
