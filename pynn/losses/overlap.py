"""Overlap losses for segmentation: Dice and Tversky (Keras 3's formulas, eps = 1e-7), with exact gradients.

Both sum over ``axis``: None (the default, as in Keras) sums over every axis, so the loss is one number for the
whole batch; a sample weight then scales it (Keras multiplies the scalar by the weights before reducing).
Pass axis=(1, 2, 3) (every axis but the batch) for one value per sample.
"""
import numpy as np

from pynn.losses.loss import EPSILON, Loss


def _axes(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


class Tversky(Loss):
    """With t = y_true, p = y_pred and sums over ``axis``:

        I = sum(t p), FP = sum((1 - p) t), FN = sum(p (1 - t))   (Keras's names, kept as Keras defines them)
        D = I + alpha FP + beta FN + eps,   loss = 1 - I / D

    d loss / dp = -(t D - I dD/dp) / D^2, dD/dp = t - alpha t + beta (1 - t).
    With alpha = beta = 0.5 it equals Dice up to eps.

    Args:
        alpha: the weight of FP (0.5).
        beta: the weight of FN (0.5).
        axis: an int or tuple of axes summed over; None sums over all of them.
    """

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None):
        super().__init__(reduction=reduction, name=name)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.axis = axis

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        axis = _axes(self.axis)
        t, p = y_true, y_pred
        intersection = np.sum(t * p, axis=axis, keepdims=True)
        fp = np.sum((1 - p) * t, axis=axis, keepdims=True)
        fn = np.sum(p * (1 - t), axis=axis, keepdims=True)
        denominator = intersection + fp * self.alpha + fn * self.beta + EPSILON
        values = 1 - intersection / denominator
        d_denominator = t - self.alpha * t + self.beta * (1 - t)
        grad = -(t * denominator - intersection * d_denominator) / np.square(denominator)
        return _drop_axes(values, axis).astype(p.dtype, copy=False), grad.astype(p.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta, "axis": self.axis}


class Dice(Loss):
    """With t = y_true, p = y_pred and sums over ``axis``:

        loss = 1 - 2 I / D,   I = sum(t p),   D = sum(t) + sum(p) + eps

    d loss / dp = -2 (t D - I) / D^2.

    Args:
        axis: an int or tuple of axes summed over; None (default) sums over all of them.
    """

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None):
        super().__init__(reduction=reduction, name=name)
        self.axis = axis

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        axis = _axes(self.axis)
        t, p = y_true, y_pred
        intersection = np.sum(t * p, axis=axis, keepdims=True)
        denominator = np.sum(t, axis=axis, keepdims=True) + np.sum(p, axis=axis, keepdims=True) + EPSILON
        values = 1 - 2 * intersection / denominator
        grad = -2 * (t * denominator - intersection) / np.square(denominator)
        return _drop_axes(values, axis).astype(p.dtype, copy=False), grad.astype(p.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _drop_axes(values, axis):
    """Remove the kept (size-1) summed axes: a scalar for axis None."""
    if axis is None:
        return values.reshape(())
    return np.squeeze(values, axis=axis)
