"""Confusion-matrix metrics (Keras 3's confusion_metrics): Precision, Recall, AUC (the counts and the
operating-point metrics are in counts.py).

Counts are weighted sums over the batches (float64). A prediction is positive at threshold t when
y_pred > t; a label is positive when it is non-zero.
"""
import numpy as np

from pynn.metrics.metric import Metric, _squeeze_or_expand

NEG_INF = -1e10
EPSILON = 1e-7


def _weights_like(sample_weight, y_pred):
    if sample_weight is None:
        return np.ones(y_pred.shape)
    weights = np.asarray(sample_weight, dtype=np.float64)
    weights = weights.reshape(weights.shape + (1,) * (y_pred.ndim - weights.ndim))
    return np.broadcast_to(weights, y_pred.shape)


def evenly_spaced(thresholds):
    """Keras's is_evenly_distributed_thresholds: 3 or more thresholds within 1e-7 of i / (n - 1)."""
    n = len(thresholds)
    return n >= 3 and bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON))


def confusion_counts(y_true, y_pred, thresholds, top_k=None, class_id=None, sample_weight=None, evenly=None):
    """Keras's update_confusion_matrix_variables: tp, fp, tn, fn per threshold (a prediction is positive when
    y_pred > threshold). Evenly spaced thresholds take Keras's bucketed path, as Keras does: predictions clipped
    to [0, 1], bucket ceil(p (n - 1)) - 1 (below 0: in no bucket, unless the end thresholds carry the +-1e-7
    margin, as AUC's do), counts by reverse cumulative sums. evenly: force (True / False) the path; None
    decides from the thresholds."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    y_pred, y_true = _squeeze_or_expand(y_pred, y_true)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have one shape; expected {y_pred.shape}, received {y_true.shape}")
    weights = _weights_like(sample_weight, y_pred)
    if top_k is not None:
        order = np.argsort(-y_pred, axis=-1, kind="stable")[..., :top_k]
        keep = np.zeros(y_pred.shape, dtype=bool)
        np.put_along_axis(keep, order, True, axis=-1)
        y_pred = np.where(keep, y_pred, NEG_INF)
    if class_id is not None:
        y_true, y_pred, weights = y_true[..., class_id], y_pred[..., class_id], weights[..., class_id]
    label = (y_true != 0).reshape(-1)
    weights = weights.reshape(-1)
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if evenly_spaced(thresholds) if evenly is None else evenly:
        n = len(thresholds)
        buckets = np.ceil(np.clip(y_pred.reshape(-1), 0.0, 1.0) * (n - 1)).astype(np.int64) - 1
        if thresholds[0] < 0 or thresholds[-1] > 1:
            buckets = np.maximum(buckets, 0)
        inside = buckets >= 0
        positive = np.bincount(buckets[inside], (label * weights)[inside], n)
        negative = np.bincount(buckets[inside], (~label * weights)[inside], n)
        tp, fp = np.cumsum(positive[::-1])[::-1], np.cumsum(negative[::-1])[::-1]
    else:
        predicted = y_pred.reshape(1, -1) > thresholds.reshape(-1, 1)
        tp = predicted @ (label * weights)
        fp = predicted @ (~label * weights)
    fn = np.sum(label * weights) - tp
    tn = np.sum(~label * weights) - fp
    return tp, fp, tn, fn


class _ThresholdMetric(Metric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = np.atleast_1d(np.asarray(default if thresholds is None else thresholds, np.float64))
        if np.any((self.thresholds < 0) | (self.thresholds > 1)) and thresholds is not None:
            raise ValueError(f"{type(self).__name__}: thresholds must be in [0, 1], received {thresholds}")
        self._scalar = len(self.thresholds) == 1  # Keras: one threshold gives a number, even from a list
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, tn, fn = confusion_counts(y_true, y_pred, self.thresholds, self.top_k, self.class_id, sample_weight)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn
        return self

    def _output(self, numerator, denominator):
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(denominator != 0, numerator / np.where(denominator != 0, denominator, 1), 0.0)
        return float(value[0]) if self._scalar else value

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_ThresholdMetric):
    """tp / (tp + fp) at each threshold (default 0.5; with top_k, the top k predictions are the positives).

    Args:
        thresholds: a float or list of floats in [0, 1] (a list gives an array result).
        top_k: count only the k highest predictions per sample as positive.
        class_id: restrict to one class of a multi-class output.
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self):
        return self._output(self.true_positives, self.true_positives + self.false_positives)


class Recall(_ThresholdMetric):
    """tp / (tp + fn) at each threshold; arguments as Precision."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self):
        return self._output(self.true_positives, self.true_positives + self.false_negatives)


class AUC(Metric):
    """Area under the ROC or PR curve, approximated over num_thresholds thresholds as Keras does.

    Thresholds: [-1e-7, 1/(n-1), 2/(n-1), ..., (n-2)/(n-1), 1 + 1e-7]. Predictions are clipped to [0, 1] and
    bucketed (Keras's evenly-spaced fast path): bucket = max(ceil(p (n-1)) - 1, 0), counts are reverse
    cumulative sums of the bucket weights. result: sum over i of (x_i - x_{i+1}) * (y_i + y_{i+1}) / 2
    (ROC: x = false-positive rate, y = recall; PR: x = recall, y = precision), "minoring" / "majoring" take
    the min / max of the two heights; PR with "interpolation" uses Davis & Goadrich's interpolation.

    Args:
        num_thresholds: > 1 (200).
        curve: "ROC" or "PR".
        summation_method: "interpolation", "minoring" or "majoring".
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc",
                 dtype=None):
        if num_thresholds <= 1:
            raise ValueError(f"AUC: num_thresholds must be > 1, received {num_thresholds}")
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', received {curve!r}")
        if summation_method.lower() not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: summation_method must be 'interpolation', 'minoring' or 'majoring', "
                             f"received {summation_method!r}")
        self.num_thresholds = num_thresholds
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        interior = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.thresholds = np.array([0.0 - EPSILON] + interior + [1.0 + EPSILON])
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        n = self.num_thresholds
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true, dtype=np.float64)
        y_pred = np.asarray(y_pred, dtype=np.float64)
        y_pred, y_true = _squeeze_or_expand(y_pred, y_true)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"AUC: y_true and y_pred must have one shape; expected {y_pred.shape}, received "
                             f"{y_true.shape}")
        weights = _weights_like(sample_weight, y_pred).reshape(-1)
        label = (y_true != 0).reshape(-1).astype(np.float64)
        predictions = np.clip(y_pred.reshape(-1), 0.0, 1.0)
        buckets = np.maximum(np.ceil(predictions * (self.num_thresholds - 1)) - 1, 0).astype(np.int64)
        positive = np.bincount(buckets, label * weights, self.num_thresholds)
        negative = np.bincount(buckets, (1 - label) * weights, self.num_thresholds)
        tp = np.cumsum(positive[::-1])[::-1]
        fp = np.cumsum(negative[::-1])[::-1]
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += positive.sum() - tp
        self.true_negatives += negative.sum() - fp
        return self

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        precision_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - precision_slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        safe_p_ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increment = _divide_no_nan(precision_slope * (dtp + intercept * np.log(safe_p_ratio)),
                                   np.maximum(tp[1:] + fn[1:], 0))
        return float(np.sum(increment))

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method}


def _divide_no_nan(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1), 0.0)
