"""Probabilistic losses: BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
KLDivergence, Poisson (Keras 3's formulas; eps = 1e-7).

From probabilities (from_logits=False) the cross-entropies follow Keras exactly: categorical ones renormalise
y_pred by its sum over the class axis, clip to [eps, 1 - eps] and take the log; binary clips to
[eps, 1 - eps]. The clip's gradient is 0 outside the interval, as in TensorFlow and PyTorch.

Fused path (value_and_gradient_from_logits with "softmax" / "sigmoid"): the loss of the activation's output
computed from the logits by one C++ kernel, gradient (p - y) * weight / count. It equals the probability path
wherever every probability lies in [1e-7, 1 - 1e-7]; outside it the fused path does not clip (a probability
of 1e-9 gives -log(1e-9) = 20.7, where Keras gives -log(1e-7) = 16.1 and a zero gradient).
"""
import numpy as np

from pynn import _C, kernels
from pynn.losses.loss import EPSILON, Loss

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_LABELS = (np.dtype(np.int32), np.dtype(np.int64))


def _clipped_log_and_gradient(q):
    """log(clip(q, eps, 1 - eps)) and d/dq (1/q inside the interval, 0 outside)."""
    clipped = np.clip(q, EPSILON, 1 - EPSILON)
    inside = (q >= EPSILON) & (q <= 1 - EPSILON)
    return np.log(clipped), np.where(inside, 1 / clipped, 0.0)


def binary_from_probabilities(y_true, y_pred):
    """Keras's elementwise binary cross-entropy of probabilities and its gradient: c = clip(p, eps, 1 - eps)
    (one clip, as Keras), bce = -(y log c + (1 - y) log(1 - c)), d/dp = -y / c + (1 - y) / (1 - c) where
    eps <= p <= 1 - eps, else 0."""
    c = np.clip(y_pred, EPSILON, 1 - EPSILON)
    inside = (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)
    bce = -(y_true * np.log(c) + (1 - y_true) * np.log(1 - c))
    return bce, np.where(inside, -y_true / c + (1 - y_true) / (1 - c), 0.0)


def _categorical_from_probabilities(y_true, y_pred):
    """Keras's categorical_crossentropy(from_logits=False) over the last axis and its gradient.

    With S = sum(p), q = p / S, g_j = -y_j / q_j (0 where clipped): loss = -sum_j y_j log(clip(q_j)),
    d/dp_k = (g_k - sum_j g_j q_j) / S.
    """
    total = np.sum(y_pred, axis=-1, keepdims=True)
    q = y_pred / total
    log_q, dlog = _clipped_log_and_gradient(q)
    g = -y_true * dlog
    grad = (g - np.sum(g * q, axis=-1, keepdims=True)) / total
    return -np.sum(y_true * log_q, axis=-1), grad.astype(y_pred.dtype)


class BinaryCrossentropy(Loss):
    """loss = mean(-(y log c + (1 - y) log(1 - c)), axis=-1), c = clip(y_pred, eps, 1 - eps); from logits:
    mean(max(z, 0) - z y + log1p(exp(-|z|))). Label smoothing: y = y (1 - ls) + 0.5 ls.

    Args:
        from_logits: y_pred holds logits (sigmoid fused into the loss).
        label_smoothing: in [0, 1].
        axis: the axis to average over (-1).
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy"):
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def _smooth(self, y_true):
        if self.label_smoothing:
            return y_true * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        return y_true

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        y_true = np.moveaxis(self._smooth(y_true), self.axis, -1)
        y_pred = np.moveaxis(y_pred, self.axis, -1)
        if self.from_logits:
            values, grad = kernels.sigmoid_binary_cross_entropy(np.ascontiguousarray(y_pred), y_true)
        else:
            values, grad = binary_from_probabilities(y_true, y_pred)
            values = np.mean(values, axis=-1)
            grad = (grad / y_pred.shape[-1]).astype(y_pred.dtype)
        return values, np.moveaxis(grad, -1, self.axis)

    def supports_fused(self, activation):
        return activation == "sigmoid" and not self.from_logits and self.axis in (-1, None)

    def _call_and_gradient_from_logits(self, y_true, logits, scale=1.0):
        return kernels.sigmoid_binary_cross_entropy(np.ascontiguousarray(logits), self._smooth(y_true), scale=scale)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class CategoricalCrossentropy(Loss):
    """loss = -sum(y * log(clip(p / sum(p), eps, 1 - eps)), axis); from logits: -sum(y * log_softmax(z)).
    Label smoothing: y = y (1 - ls) + ls / num_classes.

    Args:
        from_logits: y_pred holds logits (softmax fused into the loss).
        label_smoothing: in [0, 1].
        axis: the class axis (-1).
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy"):
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def _smooth(self, y_true):
        if self.label_smoothing:
            num_classes = y_true.shape[-1]  # Keras uses the last axis whatever `axis` is
            return y_true * (1 - self.label_smoothing) + self.label_smoothing / num_classes
        return y_true

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        y_true = np.moveaxis(self._smooth(y_true), self.axis, -1)
        y_pred = np.moveaxis(y_pred, self.axis, -1)
        if self.from_logits:
            values, grad = kernels.softmax_cross_entropy(np.ascontiguousarray(y_pred), y_true)
        else:
            values, grad = _categorical_from_probabilities(y_true, y_pred)
        return values, np.moveaxis(grad, -1, self.axis)

    def supports_fused(self, activation):
        return activation == "softmax" and not self.from_logits and self.axis == -1

    def _call_and_gradient_from_logits(self, y_true, logits, scale=1.0):
        return kernels.softmax_cross_entropy(np.ascontiguousarray(logits), self._smooth(y_true), scale=scale)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(Loss):
    """CategoricalCrossentropy with integer labels: loss = -log(clip(p[label] / sum(p), eps, 1 - eps));
    from logits: logsumexp(z) - z[label].

    Args:
        from_logits: y_pred holds logits (softmax fused into the loss).
        ignore_class: a label whose samples add 0 to the loss and are left out of the count (Keras's mask).
    Input shape: y_true (...) or (..., 1) of integers in [0, classes); y_pred (..., classes).
    """

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)
        self.ignore_class = ignore_class

    def _prepare(self, y_true, y_pred, kernel_checks_labels=False):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype not in (np.float32, np.float64):
            y_pred = y_pred.astype(np.float32)
        labels = np.asarray(y_true)
        if y_pred.ndim < 1:
            raise ValueError(f"{self.name}: y_pred must have a class axis, received shape {y_pred.shape}")
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
            labels = labels[..., 0]
        if labels.shape != y_pred.shape[:-1]:
            raise ValueError(f"{self.name}: expected y_true of shape {y_pred.shape[:-1]} or "
                             f"{y_pred.shape[:-1] + (1,)} (y_pred is {y_pred.shape}), received {np.shape(y_true)}")
        if labels.dtype.kind == "f" and np.any(labels != np.round(labels)):
            raise ValueError(f"{self.name}: y_true must hold integer class labels")
        if labels.dtype.kind not in "biuf":
            raise ValueError(f"{self.name}: y_true must hold integer class labels, got dtype {labels.dtype}")
        if labels.dtype not in (np.int32, np.int64):
            labels = labels.astype(np.int64)
        if kernel_checks_labels and self.ignore_class is None:
            return labels, y_pred
        checked = labels if self.ignore_class is None else labels[labels != self.ignore_class]
        classes = y_pred.shape[-1]
        if checked.size and (checked.min() < 0 or checked.max() >= classes):
            bad = (labels < 0) | (labels >= classes)
            if self.ignore_class is not None:
                bad &= labels != self.ignore_class
            first = int(np.flatnonzero(bad)[0])
            sample = first // max(labels.size // max(len(labels), 1), 1) if labels.ndim else 0
            raise ValueError(f"{self.name}: label {labels.reshape(-1)[first]} (sample {sample}) is out of range; "
                             f"expected labels in [0, {classes}) for y_pred of shape {y_pred.shape}")
        return labels, y_pred

    def _mask(self, labels, y_pred):
        return None if self.ignore_class is None else labels != self.ignore_class

    def _valid(self, labels):
        if self.ignore_class is None:
            return labels, None
        valid = labels != self.ignore_class
        return np.where(valid, labels, 0), valid

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        labels, valid = self._valid(y_true)
        if self.from_logits:
            values, grad = kernels.sparse_softmax_cross_entropy(np.ascontiguousarray(y_pred), labels)
        else:
            one_hot = (labels[..., None] == np.arange(y_pred.shape[-1])).astype(y_pred.dtype)
            values, grad = _categorical_from_probabilities(one_hot, y_pred)
        return self._zero_ignored(values, grad, valid)

    @staticmethod
    def _zero_ignored(values, grad, valid):
        if valid is not None:
            values = np.where(valid, values, 0).astype(values.dtype)
            grad = np.where(valid[..., None], grad, 0).astype(grad.dtype)
        return values, grad

    def supports_fused(self, activation):
        return activation == "softmax" and not self.from_logits

    def value_and_gradient_from_logits(self, y_true, logits, activation, sample_weight=None):
        if (sample_weight is None and self.ignore_class is None and type(logits) is np.ndarray
                and type(y_true) is np.ndarray and logits.ndim == 2 and y_true.shape == logits.shape[:1]
                and logits.shape[0] and logits.dtype in _FLOATS and y_true.dtype in _LABELS
                and logits.flags.c_contiguous and y_true.flags.c_contiguous and self.supports_fused(activation)
                and self.reduction in ("sum_over_batch_size", "mean")):
            # The training step's case (what the general path below does, without its checks and
            # reshapes); the kernel checks the labels' range and scales the gradient by 1 / count.
            count = logits.shape[0]
            values, grad = np.empty(count, logits.dtype), np.empty_like(logits)
            try:
                _C.sparse_softmax_cross_entropy(logits, y_true, values, grad, None, 1.0 / count)
            except ValueError as error:
                raise ValueError(f"{self.name}: {error} (y_pred of shape {logits.shape})") from None
            total = logits.dtype.type(_C.reduce_sum(values))
            return logits.dtype.type(float(total) / count), grad
        return super().value_and_gradient_from_logits(y_true, logits, activation, sample_weight)

    def _call_and_gradient_from_logits(self, y_true, logits, scale=1.0):
        labels, valid = self._valid(y_true)
        try:
            values, grad = kernels.sparse_softmax_cross_entropy(np.ascontiguousarray(logits), labels, scale=scale)
        except ValueError as error:  # the kernel's label check: say which loss and the shapes
            raise ValueError(f"{self.name}: {error} (y_pred of shape {logits.shape})") from None
        return self._zero_ignored(values, grad, valid)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}


class KLDivergence(Loss):
    """loss = sum(t * log(t / c), axis=-1) with t = clip(y_true, eps, 1), c = clip(y_pred, eps, 1);
    d/dy_pred = -t / c inside the clip, 0 outside."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        t = np.clip(y_true, EPSILON, 1)
        c = np.clip(y_pred, EPSILON, 1)
        grad = np.where((y_pred >= EPSILON) & (y_pred <= 1), -t / c, 0.0).astype(y_pred.dtype)
        return np.sum(t * np.log(t / c), axis=-1), grad


class Poisson(Loss):
    """loss = mean(y_pred - y_true * log(y_pred + eps), axis=-1); d/dy_pred = (1 - y_true / (y_pred + eps)) / d."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        return self.call_and_gradient(y_true, y_pred)[0]

    def call_and_gradient(self, y_true, y_pred):
        values = np.mean(y_pred - y_true * np.log(y_pred + EPSILON), axis=-1)
        grad = ((1 - y_true / (y_pred + EPSILON)) / y_pred.shape[-1]).astype(y_pred.dtype)
        return values, grad
