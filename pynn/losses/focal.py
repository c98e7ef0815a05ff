"""Focal cross-entropies (Lin et al., 2018), Keras 3's formulas with eps = 1e-7: BinaryFocalCrossentropy and
CategoricalFocalCrossentropy, each with its exact gradient.

As in Keras, the probabilities are clipped to [eps, 1 - eps] inside the log only (the binary focal factor
uses the unclipped prediction; the categorical one the clipped, renormalised one). The clip's gradient is 0
outside the interval, as in TensorFlow and PyTorch.
"""
import numpy as np

from pynn.losses.loss import EPSILON, Loss
from pynn.losses.probabilistic import binary_from_probabilities


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def _softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _power_and_derivative(base, gamma):
    """base ** gamma and d/dbase (0 for gamma = 0, as the constant 1 has no slope)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        power = np.power(base, gamma)
        slope = gamma * np.power(base, gamma - 1) if gamma else np.zeros_like(base)
    return power, slope


class BinaryFocalCrossentropy(Loss):
    """With p = y_pred (sigmoid(y_pred) from logits), y the (smoothed) label and c = clip(p, eps, 1 - eps):

        bce = -(y log c + (1 - y) log(1 - c))
        a = 1 - p_t = 1 - (y p + (1 - y)(1 - p))     focal factor a ** gamma
        loss = mean(w * a ** gamma * bce, axis)      w = y alpha + (1 - y)(1 - alpha) with class balancing, else 1

    d/dp = w (gamma a^(gamma-1) (1 - 2y) bce + a^gamma dbce/dp), dbce/dp = -y / c + (1 - y) / (1 - c) inside the
    clip (0 outside); from logits times p (1 - p). Label smoothing: y = y (1 - ls) + 0.5 ls.

    Args:
        apply_class_balancing: weight class 1 by alpha and class 0 by 1 - alpha.
        alpha: the balancing factor (0.25).
        gamma: the focusing parameter (2.0); gamma = 0 is binary cross-entropy.
        from_logits: y_pred holds logits.
        label_smoothing: in [0, 1].
        axis: the axis averaged over (-1).
    """

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy"):
        super().__init__(reduction=reduction, name=name)
        self.apply_class_balancing = bool(apply_class_balancing)
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        dtype = y_pred.dtype
        y = np.moveaxis(y_true, self.axis, -1)
        z = np.moveaxis(y_pred, self.axis, -1)
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        p = _sigmoid(z) if self.from_logits else z
        bce, dbce = binary_from_probabilities(y, p)
        focal, dfocal = _power_and_derivative(1 - (y * p + (1 - y) * (1 - p)), self.gamma)
        weight = y * self.alpha + (1 - y) * (1 - self.alpha) if self.apply_class_balancing else 1.0
        values = np.mean(weight * focal * bce, axis=-1)
        grad = weight * (dfocal * (1 - 2 * y) * bce + focal * dbce) / p.shape[-1]
        if self.from_logits:
            grad = grad * p * (1 - p)
        return values.astype(dtype, copy=False), np.moveaxis(grad.astype(dtype, copy=False), -1, self.axis)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}


class CategoricalFocalCrossentropy(Loss):
    """With p = y_pred (softmax(y_pred) from logits), y the (smoothed) one-hot label, q = p / sum(p) and
    o = clip(q, eps, 1 - eps):

        loss = sum(alpha * (1 - o) ** gamma * (-y log o), axis)

    d/do_j = alpha_j y_j (gamma (1 - o_j)^(gamma-1) log o_j - (1 - o_j)^gamma / o_j) inside the clip (0 outside),
    taken back through q = p / sum(p) (and the softmax from logits). Label smoothing: y = y (1 - ls) + ls / C.

    Args:
        alpha: a weight for all classes, a float or one float per class (0.25).
        gamma: the focusing parameter (2.0); gamma = 0 is alpha times categorical cross-entropy.
        from_logits: y_pred holds logits.
        label_smoothing: in [0, 1].
        axis: the class axis (-1).
    """

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy"):
        super().__init__(reduction=reduction, name=name)
        self.alpha = [float(a) for a in alpha] if isinstance(alpha, (list, tuple, np.ndarray)) else float(alpha)
        self.gamma = float(gamma)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        dtype = y_pred.dtype
        if self.label_smoothing:  # Keras smooths with the last axis's size whatever `axis` is
            y_true = y_true * (1 - self.label_smoothing) + self.label_smoothing / y_true.shape[-1]
        y = np.moveaxis(y_true, self.axis, -1)
        z = np.moveaxis(y_pred, self.axis, -1)
        p = _softmax(z) if self.from_logits else z
        total = np.sum(p, axis=-1, keepdims=True)
        q = p / total
        o = np.clip(q, EPSILON, 1 - EPSILON)
        inside = (q >= EPSILON) & (q <= 1 - EPSILON)
        alpha = np.asarray(self.alpha, dtype=np.float64)
        modulating, dmodulating = _power_and_derivative(1 - o, self.gamma)
        log_o = np.log(o)
        values = np.sum(alpha * modulating * (-y * log_o), axis=-1)
        g = np.where(inside, alpha * y * (dmodulating * log_o - modulating / o), 0.0)  # d loss / d q
        grad = (g - np.sum(g * q, axis=-1, keepdims=True)) / total  # through q = p / sum(p)
        if self.from_logits:
            grad = p * (grad - np.sum(grad * p, axis=-1, keepdims=True))
        return values.astype(dtype, copy=False), np.moveaxis(grad.astype(dtype, copy=False), -1, self.axis)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "alpha": self.alpha, "gamma": self.gamma}
