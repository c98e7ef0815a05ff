"""pynn.metrics: Keras 3's streaming metrics (update_state / result / reset_state), accumulated in float64.

Layout: metric.py (Metric, Mean, Sum, MeanMetricWrapper), accuracy.py, regression.py (errors, R2Score),
probabilistic.py (cross-entropies, KLDivergence, Poisson, hinges), confusion.py (Precision, Recall, AUC),
counts.py (TruePositives ... and PrecisionAtRecall ...), f_score.py (F1Score, FBetaScore), iou.py (IoU,
MeanIoU ...).

Example:
    >>> m = pynn.metrics.get("accuracy")
    >>> m.update_state(labels, probabilities); m.result()
"""
import inspect
import re

from pynn.metrics.accuracy import (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy, top_k_categorical_accuracy,
)
from pynn.metrics.confusion import AUC, Precision, Recall
from pynn.metrics.counts import (
    FalseNegatives, FalsePositives, PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity,
    SpecificityAtSensitivity, TrueNegatives, TruePositives,
)
from pynn.metrics.f_score import F1Score, FBetaScore
from pynn.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from pynn.metrics.metric import Mean, MeanMetricWrapper, Metric, Sum
from pynn.metrics.probabilistic import (
    BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge, Hinge, KLDivergence, Poisson,
    SparseCategoricalCrossentropy, SquaredHinge,
)
from pynn.metrics.regression import (
    CosineSimilarity, LogCoshError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
    MeanSquaredLogarithmicError, R2Score, RootMeanSquaredError,
)

ALL_METRICS = (Mean, Sum, MeanMetricWrapper,
               MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
               MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, R2Score,
               AUC, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall, RecallAtPrecision,
               SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives, TruePositives,
               Hinge, SquaredHinge, CategoricalHinge,
               KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
               Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
               SparseTopKCategoricalAccuracy,
               F1Score, FBetaScore,
               IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU)


def _snake_case(name):
    """Keras's to_snake_case: 'MeanIoU' -> 'mean_io_u', 'AUC' -> 'auc', 'F1Score' -> 'f1_score'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# keras.metrics.get's names: each class under its own and its snake_case name, plus Keras's short aliases
# (and "acc", which Keras's compile accepts).
NAMES = {cls.__name__: cls for cls in ALL_METRICS}
NAMES.update({_snake_case(cls.__name__): cls for cls in ALL_METRICS})
NAMES.update({"acc": Accuracy, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "mse": MeanSquaredError,
              "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
              "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
              "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})


def get(identifier):
    """A Metric from a name ('accuracy', 'mse', 'f1_score', 'AUC', ...), a Metric (returned as is), a Metric
    class, a config dict {"class_name": ..., "config": {...}} or a function fn(y_true, y_pred) -> per-sample
    values (wrapped in a MeanMetricWrapper named after it).

    A metric made from a name has its class's default name, as in Keras 3 (get("mse").name is
    "mean_squared_error"); compile renames it to the string it was given, so metrics=["mse"] logs "mse" and
    ["RootMeanSquaredError"] logs "RootMeanSquaredError" (pynn.models.compile_utils.compiled_metrics).
    'accuracy' / 'acc' pick binary, sparse or categorical accuracy from the shapes at the first update. Names
    of metrics with required arguments ('mean_io_u', 'precision_at_recall', ...) raise TypeError, as in
    Keras."""
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier not in NAMES or NAMES[identifier] is MeanMetricWrapper:
            raise ValueError(f"Unknown metric {identifier!r}. Valid names: {', '.join(sorted(NAMES))}")
        return NAMES[identifier]()
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


__all__ = ["Metric", "get", *[cls.__name__ for cls in ALL_METRICS], "binary_accuracy", "categorical_accuracy",
           "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"]
