"""Confusion counts and operating points (Keras 3's confusion_metrics): TruePositives, FalsePositives,
TrueNegatives, FalseNegatives, and SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall,
RecallAtPrecision.

Counts are weighted sums over the batches (float64), computed by confusion.confusion_counts: a prediction is
positive at threshold t when y_pred > t, a label when it is non-zero.
"""
import numpy as np

from pynn.metrics.confusion import confusion_counts
from pynn.metrics.metric import Metric


def _thresholds(thresholds, name):
    values = np.atleast_1d(np.asarray(0.5 if thresholds is None else thresholds, dtype=np.float64))
    if np.any((values < 0) | (values > 1)):
        raise ValueError(f"{name}: thresholds must be in [0, 1], received {thresholds}")
    return values


class _ConfusionCount(Metric):
    _index = None  # which of (tp, fp, tn, fn)

    def __init__(self, thresholds=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        self.thresholds = _thresholds(thresholds, type(self).__name__)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.accumulator = np.zeros(len(self.thresholds))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = confusion_counts(y_true, y_pred, self.thresholds, sample_weight=sample_weight)
        self.accumulator = self.accumulator + counts[self._index]
        return self

    def result(self):
        """The weighted count: a number for one threshold, an array for several."""
        return float(self.accumulator[0]) if len(self.thresholds) == 1 else self.accumulator.copy()

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """Weighted count of y_true != 0 and y_pred > threshold (default 0.5; a list gives one count each)."""
    _index = 0


class FalsePositives(_ConfusionCount):
    """Weighted count of y_true == 0 and y_pred > threshold."""
    _index = 1


class TrueNegatives(_ConfusionCount):
    """Weighted count of y_true == 0 and y_pred <= threshold."""
    _index = 2


class FalseNegatives(_ConfusionCount):
    """Weighted count of y_true != 0 and y_pred <= threshold."""
    _index = 3


class _OperatingPoint(Metric):
    """Counts at num_thresholds evenly spaced thresholds [0, 1/(n-1), ..., 1] (0.5 alone for n = 1); the
    result is the largest `dependent` rate over the thresholds whose `constrained` rate is >= value (0 if
    none). Keras's bucketed counting: predictions clipped to [0, 1], a prediction of exactly 0 counts at none."""

    _direction = "up"

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if num_thresholds <= 0:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 0. Received: "
                             f"num_thresholds={num_thresholds}")
        self.value = value
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds, self._evenly = np.array([0.5]), False
        else:
            interior = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds, self._evenly = np.array([0.0] + interior + [1.0]), True
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, tn, fn = confusion_counts(y_true, y_pred, self.thresholds, class_id=self.class_id,
                                          sample_weight=sample_weight, evenly=self._evenly)
        self.true_positives = self.true_positives + tp
        self.false_positives = self.false_positives + fp
        self.true_negatives = self.true_negatives + tn
        self.false_negatives = self.false_negatives + fn
        return self

    def _rates(self):
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        return {"recall": _divide_no_nan(tp, tp + fn), "specificity": _divide_no_nan(tn, tn + fp),
                "precision": _divide_no_nan(tp, tp + fp)}

    def _max_under_constraint(self, constrained, dependent):
        return float(np.max(np.where(constrained >= self.value, dependent, 0.0), initial=0.0))

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id, "num_thresholds": self.num_thresholds}


def _check_rate(value, name):
    if value < 0 or value > 1:
        raise ValueError(f"Argument `{name}` must be in the range [0, 1]. Received: {name}={value}")


class SensitivityAtSpecificity(_OperatingPoint):
    """The best sensitivity (recall) among thresholds whose specificity tn / (tn + fp) is >= specificity."""

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate(specificity, "specificity")
        self.specificity = specificity
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._max_under_constraint(rates["specificity"], rates["recall"])

    def get_config(self):
        return {**super().get_config(), "specificity": self.specificity}


class SpecificityAtSensitivity(_OperatingPoint):
    """The best specificity among thresholds whose sensitivity (recall) is >= sensitivity."""

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate(sensitivity, "sensitivity")
        self.sensitivity = sensitivity
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._max_under_constraint(rates["recall"], rates["specificity"])

    def get_config(self):
        return {**super().get_config(), "sensitivity": self.sensitivity}


class PrecisionAtRecall(_OperatingPoint):
    """The best precision tp / (tp + fp) among thresholds whose recall tp / (tp + fn) is >= recall."""

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate(recall, "recall")
        self.recall = recall
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._max_under_constraint(rates["recall"], rates["precision"])

    def get_config(self):
        return {**super().get_config(), "recall": self.recall}


class RecallAtPrecision(_OperatingPoint):
    """The best recall among thresholds whose precision is >= precision."""

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate(precision, "precision")
        self.precision = precision
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._max_under_constraint(rates["precision"], rates["recall"])

    def get_config(self):
        return {**super().get_config(), "precision": self.precision}


def _divide_no_nan(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1), 0.0)
