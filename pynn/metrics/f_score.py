"""F-scores (Keras 3's f_score_metrics): FBetaScore and F1Score over everything seen, per class or pooled.

Inputs are 2-D, (batch, classes), one-hot or multi-label y_true. A prediction is positive when y_pred >
threshold, or, with threshold None, when it is the row's maximum (ties all count) and |y_pred| > 1e-9.
Per class (summed over the batch, each row weighted by sample_weight; pooled over classes for "micro"):

    precision = tp / (tp + fp + eps),  recall = tp / (tp + fn + eps)
    f = (1 + beta^2) precision recall / (beta^2 precision + recall + eps),   eps = 1e-7

average: None (the per-class array), "micro" (one pooled score), "macro" (the mean over classes) or
"weighted" (weighted by each class's weighted count of true labels).
"""
import numpy as np

from pynn.metrics.metric import Metric

EPSILON = 1e-7


class FBetaScore(Metric):
    """The F-beta score (see the module docstring).

    Args:
        average: None, "micro", "macro" or "weighted".
        beta: a float > 0 (recall counts beta times as much as precision).
        threshold: a float in (0, 1], or None for the row's maximum.
    """

    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"Invalid `average` argument value. Expected one of: {{None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError(f"Invalid `beta` argument value. It should be a Python float. Received: beta={beta} "
                             f"of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(f"Invalid `threshold` argument value. It should be a Python float. Received: "
                                 f"threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(f"Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                                 f"Received: threshold={threshold}")
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.true_positives = self.false_positives = self.false_negatives = self.intermediate_weights = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true, dtype=np.float64)
        y_pred = np.asarray(y_pred, dtype=np.float64)
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise ValueError(f"FBetaScore expects 2D inputs with shape (batch_size, output_dim). Received input "
                             f"shapes: y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}.")
        if self.threshold is None:
            top = np.max(y_pred, axis=-1, keepdims=True)
            predicted = (y_pred >= top) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(np.float64)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

        def weighted_sum(values):
            if weights is not None:
                values = values * np.expand_dims(weights, 1)
            return np.sum(values, axis=self.axis)

        counts = (weighted_sum(predicted * y_true), weighted_sum(predicted * (1 - y_true)),
                  weighted_sum((1 - predicted) * y_true), weighted_sum(y_true))
        if self.true_positives is None:
            self.true_positives, self.false_positives, self.false_negatives, self.intermediate_weights = counts
        else:
            self.true_positives = self.true_positives + counts[0]
            self.false_positives = self.false_positives + counts[1]
            self.false_negatives = self.false_negatives + counts[2]
            self.intermediate_weights = self.intermediate_weights + counts[3]
        return self

    def result(self):
        """A float for an average, the per-class array for average=None (0.0 before any update)."""
        if self.true_positives is None:
            return 0.0
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        score = precision * recall / (self.beta ** 2 * precision + recall + EPSILON) * (1 + self.beta ** 2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (np.sum(self.intermediate_weights) + EPSILON)
            return float(np.sum(score * weights))
        if self.average is not None:  # micro (already one number) or macro
            return float(np.mean(score))
        return np.asarray(score)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: 2 precision recall / (precision + recall)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
