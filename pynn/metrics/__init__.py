"""pynn.metrics: Keras 3's streaming metrics (update_state / result / reset_state), accumulated in float64.

Layout: metric.py (Metric, Mean, MeanMetricWrapper), accuracy.py, regression.py, confusion.py (Precision,
Recall, AUC).

Example:
    >>> m = pynn.metrics.get("accuracy")
    >>> m.update_state(labels, probabilities); m.result()
"""
import inspect

from pynn.metrics.accuracy import (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from pynn.metrics.confusion import AUC, Precision, Recall
from pynn.metrics.metric import Mean, MeanMetricWrapper, Metric
from pynn.metrics.regression import MeanAbsoluteError, MeanSquaredError

ALL_METRICS = (Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
               TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
               Precision, Recall, AUC)

NAMES = {
    "accuracy": Accuracy, "acc": Accuracy,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "precision": Precision, "recall": Recall, "auc": AUC, "mean": Mean,
}
NAMES.update({cls.__name__: cls for cls in ALL_METRICS})


def get(identifier):
    """A Metric from a name ('accuracy', 'auc', 'AUC', ...), a Metric (returned as is), a Metric class, a
    config dict {"class_name": ..., "config": {...}} or a function fn(y_true, y_pred) -> per-sample values
    (wrapped in a MeanMetricWrapper). The name 'accuracy' / 'acc' keeps its string as the metric's name."""
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier not in NAMES:
            raise ValueError(f"Unknown metric {identifier!r}. Valid names: {', '.join(sorted(NAMES))}")
        cls = NAMES[identifier]
        return cls(name=identifier) if identifier in ("accuracy", "acc") else cls()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        from pynn.saving.object_registration import get_registered_object
        custom = get_registered_object(name) if isinstance(name, str) else None
        if inspect.isclass(custom) and issubclass(custom, Metric):
            return custom.from_config(identifier.get("config") or {})
        if name not in NAMES:
            raise ValueError(f"Unknown metric class_name {name!r}. Valid names: {', '.join(sorted(NAMES))}")
        return NAMES[name].from_config(identifier.get("config", {}))
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise ValueError(f"Could not interpret metric identifier {identifier!r}")


__all__ = ["Metric", "MeanMetricWrapper", "get", *[cls.__name__ for cls in ALL_METRICS]]
