"""Intersection-over-union metrics (Keras 3's iou_metrics): IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU.

A confusion matrix cm (rows: true class, columns: predicted class) is accumulated over the batches; then for
each target class c:

    iou_c = cm[c, c] / (sum(cm[:, c]) + sum(cm[c, :]) - cm[c, c] + 1e-7)

and the result is sum(iou_c over classes whose denominator is > 0) / (their number + 1e-7).

As in Keras: labels and predictions are cast to integers (truncated) unless given one-hot (sparse_y_true /
sparse_y_pred False: argmax over axis); pairs with a value outside [0, num_classes), or whose true label is
ignore_class, are left out; the default dtype is integer, so sample weights are truncated to integers too
(pass dtype="float32" to keep fractional weights).
"""
import numpy as np

from pynn.metrics.metric import Metric

EPSILON = 1e-7


class _IoUBase(Metric):
    _direction = "up"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        self.num_classes = int(num_classes)
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        super().__init__(name=name, dtype=dtype or "int32")

    def _integer(self):
        return np.dtype(self.dtype).kind in "iub"

    def reset_state(self):
        self.total_cm = np.zeros((self.num_classes, self.num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if not self.sparse_y_true:
            y_true = np.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = np.argmax(y_pred, axis=self.axis)
        cast = np.int64 if self._integer() else np.float64
        y_true = y_true.astype(cast).reshape(-1)
        y_pred = y_pred.astype(cast).reshape(-1)
        weights = np.asarray(1 if sample_weight is None else sample_weight).astype(cast).reshape(-1)
        weights = np.broadcast_to(weights, y_true.shape)
        valid = (y_true >= 0) & (y_true < self.num_classes) & (y_pred >= 0) & (y_pred < self.num_classes)
        if self.ignore_class is not None:
            valid &= y_true != self.ignore_class
        rows, columns = y_true[valid].astype(np.int64), y_pred[valid].astype(np.int64)
        cm = np.zeros(self.num_classes * self.num_classes)
        np.add.at(cm, rows * self.num_classes + columns, weights[valid].astype(np.float64))
        self.total_cm = self.total_cm + cm.reshape(self.num_classes, self.num_classes)
        return self

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class IoU(_IoUBase):
    """The mean IoU over target_class_ids (see the module docstring).

    Args:
        num_classes: the number of classes (the confusion matrix is num_classes x num_classes).
        target_class_ids: the classes averaged over.
        ignore_class: a label left out of the counts (None: none).
        sparse_y_true / sparse_y_pred: False for one-hot inputs (argmax over axis).
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which is [0, {num_classes}).")
        self.target_class_ids = list(target_class_ids)
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def result(self):
        cm = self.total_cm
        true_positives = np.diag(cm)
        denominator = np.sum(cm, axis=0) + np.sum(cm, axis=1) - true_positives
        ids = np.asarray(self.target_class_ids, dtype=np.int64)
        true_positives, denominator = true_positives[ids], denominator[ids]
        valid = denominator > 1e-9
        iou = np.where(valid, true_positives / (denominator + EPSILON), 0.0)
        return float(np.sum(iou) / (np.sum(valid) + EPSILON))

    def get_config(self):
        return {**super().get_config(), "target_class_ids": self.target_class_ids}


class MeanIoU(IoU):
    """IoU averaged over all num_classes classes (semantic segmentation's mean IoU)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class BinaryIoU(IoU):
    """IoU of two classes from probabilities: a prediction is class 1 when y_pred >= threshold."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        predicted = (np.asarray(y_pred, dtype=np.float32) >= self.threshold).astype(np.int64)
        return super().update_state(y_true, predicted, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class OneHotIoU(IoU):
    """IoU with one-hot y_true (and, unless sparse_y_pred, class scores as y_pred), argmax over axis."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """MeanIoU with one-hot y_true (and, unless sparse_y_pred, class scores as y_pred)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config
