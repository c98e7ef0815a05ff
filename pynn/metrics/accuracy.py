"""Accuracy metrics (Keras 3's accuracy_metrics): the per-sample match functions and their Mean wrappers."""
import numpy as np

from pynn.metrics.metric import MeanMetricWrapper, _squeeze_or_expand


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """mean(y_true == (y_pred > threshold), axis=-1)."""
    y_true, y_pred = _squeeze_or_expand(np.asarray(y_true), np.asarray(y_pred))
    predicted = (y_pred > threshold).astype(y_true.dtype)
    return np.mean(y_true == predicted, axis=-1)


def categorical_accuracy(y_true, y_pred):
    """argmax(y_true, -1) == argmax(y_pred, -1)."""
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """y_true == argmax(y_pred, -1); y_true of shape (...) or (..., 1)."""
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float64)


def _count_sparse_matches(metric, y_true, y_pred, sample_weight):
    """Sparse categorical accuracy's update in the training loop's case (one label per row, no weights):
    the same sum, counted directly. Returns False, doing nothing, in any other case."""
    if (sample_weight is None and type(y_true) is np.ndarray and type(y_pred) is np.ndarray
            and y_pred.ndim == 2 and y_true.shape == y_pred.shape[:1]):
        metric.total += float(np.count_nonzero(y_true == y_pred.argmax(axis=1)))
        metric.count += y_true.shape[0]
        return True
    return False


def _in_top_k(labels, y_pred, k):
    """TensorFlow's in_top_k: the target's score is above the k-th largest (ties count as in)."""
    y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    labels = labels.reshape(-1).astype(np.int64)
    target = y_pred[np.arange(len(labels)), labels]
    return (np.sum(y_pred > target[:, None], axis=-1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    labels = np.argmax(y_true, axis=-1)
    return _in_top_k(labels, y_pred, k).reshape(labels.shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_true = np.asarray(y_true)
    return _in_top_k(y_true, y_pred, k).reshape(y_true.shape)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the 0 / 1 label."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold is not None and not 0 < threshold < 1:
            raise ValueError(f"BinaryAccuracy: threshold must be in (0, 1), received {threshold}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals argmax of the one-hot y_true."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals the integer label."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not _count_sparse_matches(self, y_true, y_pred, sample_weight):
            super().update_state(y_true, y_pred, sample_weight)
        return self


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the k highest predictions."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target is among the k highest predictions."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class Accuracy(MeanMetricWrapper):
    """The string 'accuracy' of compile(): resolved at the first update_state from the shapes, as Keras's
    compile does: y_pred's last axis 1 -> binary accuracy; y_true of lower rank than y_pred, or y_true's last
    axis 1 -> sparse categorical accuracy; otherwise categorical accuracy. The name stays "accuracy"."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(None, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self._fn is None:
            y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
            if y_pred.ndim >= 1 and y_pred.shape[-1] == 1:
                self._fn = binary_accuracy
            elif y_true.ndim < y_pred.ndim or (y_true.ndim >= 1 and y_true.shape[-1] == 1):
                self._fn = sparse_categorical_accuracy
            else:
                self._fn = categorical_accuracy
        sparse = self._fn is sparse_categorical_accuracy
        if not (sparse and _count_sparse_matches(self, y_true, y_pred, sample_weight)):
            super().update_state(y_true, y_pred, sample_weight)
        return self

    @property
    def resolved(self):
        """The function chosen at the first update (None before it)."""
        return self._fn
