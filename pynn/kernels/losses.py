"""Loss kernels: per-sample loss values and the gradient with respect to the model's output (csrc/losses/).

Every function takes the model output of shape (..., d) and returns ``(loss, grad)``: ``loss`` has shape
(...) (Keras reduces each loss over the last axis: cross-entropy sums over the classes, the others average
over d); ``grad`` has the output's shape and is d loss / d output, times ``scale`` and times ``row_scale``
(shape (...)) when given, so that a caller reducing with sum_over_batch_size passes
``row_scale = sample_weight`` and ``scale = 1 / batch``. With ``grad=False`` only the loss is computed
(grad is then None). The per-sample loss is never scaled (sample weights are applied by the caller).

As in Keras, targets are cast to the output's dtype; integer labels of any integer dtype are accepted.
Outputs may be supplied (``loss_out``, ``grad_out``) to avoid allocation.
"""
import numpy as np

from pynn import _C


def _check_output(z, name):
    if not isinstance(z, np.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(z).__name__}")
    if z.dtype not in (np.float32, np.float64):
        raise ValueError(f"{name}: expected dtype float32 or float64, got {z.dtype}")
    if z.ndim < 1:
        raise ValueError(f"{name}: expected an array of at least 1 dimension, got shape {z.shape}")


def _targets(y, z, name="targets"):
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {y.dtype}")
    if y.shape != z.shape:
        raise ValueError(f"{name}: expected shape {z.shape} (the shape of the model output), got {y.shape}")
    return np.ascontiguousarray(y, dtype=z.dtype)


def _row_scale(row_scale, z):
    if row_scale is None:
        return None
    return np.ascontiguousarray(row_scale, dtype=z.dtype)


def _outputs(z, grad, loss_out, grad_out):
    loss = np.empty(z.shape[:-1], dtype=z.dtype) if loss_out is None else loss_out
    g = None
    if grad:
        g = np.empty_like(z, order="C") if grad_out is None else grad_out
    return loss, g


def softmax_cross_entropy(logits, targets, row_scale=None, scale=1.0, grad=True, loss_out=None, grad_out=None):
    """Categorical cross-entropy from logits (softmax fused): Keras's
    ``CategoricalCrossentropy(from_logits=True)`` before its batch reduction.

    loss = sum_j y_j * (logsumexp(z) - z_j); grad = softmax(z) * sum(y) - y (= p - y for one-hot or
    probability targets). logits, targets: (..., classes).
    """
    _check_output(logits, "logits")
    y = _targets(targets, logits)
    loss, g = _outputs(logits, grad, loss_out, grad_out)
    _C.softmax_cross_entropy(logits, y, loss, g, _row_scale(row_scale, logits), float(scale))
    return loss, g


def sparse_softmax_cross_entropy(logits, labels, row_scale=None, scale=1.0, grad=True, loss_out=None,
                                 grad_out=None):
    """Sparse categorical cross-entropy from logits (softmax fused): Keras's
    ``SparseCategoricalCrossentropy(from_logits=True)`` before its batch reduction.

    loss = logsumexp(z) - z[label]; grad = softmax(z) - onehot(label). logits: (..., classes); labels:
    integers of shape (...) or (..., 1) in [0, classes) (ValueError naming the label otherwise).
    """
    _check_output(logits, "logits")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels: expected an integer dtype, got {labels.dtype}")
    if labels.dtype not in (np.int32, np.int64):
        if labels.size and labels.dtype == np.uint64 and labels.max() > np.iinfo(np.int64).max:
            raise ValueError(f"labels: label {labels.max()} does not fit int64")
        labels = labels.astype(np.int64)
    labels = np.ascontiguousarray(labels)
    loss, g = _outputs(logits, grad, loss_out, grad_out)
    _C.sparse_softmax_cross_entropy(logits, labels, loss, g, _row_scale(row_scale, logits), float(scale))
    return loss, g


def sigmoid_binary_cross_entropy(logits, targets, row_scale=None, scale=1.0, grad=True, loss_out=None,
                                 grad_out=None):
    """Binary cross-entropy from logits (sigmoid fused), averaged over the last axis: Keras's
    ``BinaryCrossentropy(from_logits=True)`` before its batch reduction.

    loss = mean(max(z, 0) - z * y + log1p(exp(-|z|))); grad = (sigmoid(z) - y) / d.
    """
    _check_output(logits, "logits")
    y = _targets(targets, logits)
    loss, g = _outputs(logits, grad, loss_out, grad_out)
    _C.sigmoid_binary_cross_entropy(logits, y, loss, g, _row_scale(row_scale, logits), float(scale))
    return loss, g


def mean_squared_error(predictions, targets, row_scale=None, scale=1.0, grad=True, loss_out=None, grad_out=None):
    """loss = mean((p - y)^2) over the last axis; grad = 2 (p - y) / d."""
    _check_output(predictions, "predictions")
    y = _targets(targets, predictions)
    loss, g = _outputs(predictions, grad, loss_out, grad_out)
    _C.mean_squared_error(predictions, y, loss, g, _row_scale(row_scale, predictions), float(scale))
    return loss, g


def mean_absolute_error(predictions, targets, row_scale=None, scale=1.0, grad=True, loss_out=None,
                        grad_out=None):
    """loss = mean(|p - y|) over the last axis; grad = sign(p - y) / d (0 where p == y)."""
    _check_output(predictions, "predictions")
    y = _targets(targets, predictions)
    loss, g = _outputs(predictions, grad, loss_out, grad_out)
    _C.mean_absolute_error(predictions, y, loss, g, _row_scale(row_scale, predictions), float(scale))
    return loss, g


def huber(predictions, targets, delta=1.0, row_scale=None, scale=1.0, grad=True, loss_out=None, grad_out=None):
    """Keras's Huber loss, averaged over the last axis, with e = p - y:
    loss = mean(0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2); grad = clip(e, -delta, delta) / d.
    """
    _check_output(predictions, "predictions")
    y = _targets(targets, predictions)
    loss, g = _outputs(predictions, grad, loss_out, grad_out)
    _C.huber(predictions, y, loss, g, _row_scale(row_scale, predictions), float(scale), float(delta))
    return loss, g
