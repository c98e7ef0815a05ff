"""Whether a monitored metric improves upward or downward (Keras's metric `_direction`)."""
import warnings

_UP = {"accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
       "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
       "f1_score", "fbeta_score", "r2_score", "iou", "mean_iou"}


def check_mode(mode, owner):
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner} mode {mode} is unknown, fallback to auto mode.", stacklevel=3)
        return "auto"
    return mode


def improves_upward(monitor, mode, model=None):
    """True when larger values of `monitor` are better: mode "max", or in "auto" a metric whose direction is
    "up" (the model's metric of that name if it has a `_direction`, else a known accuracy-like name).

    Raises ValueError in "auto" mode for a metric whose direction is unknown, as Keras 3 does.
    """
    if mode in ("min", "max"):
        return mode == "max"
    metric_name = monitor[4:] if monitor.startswith("val_") else monitor
    if metric_name == "loss":
        return False
    for metric in getattr(model, "metrics", None) or ():
        if getattr(metric, "name", None) == metric_name and hasattr(metric, "_direction"):
            return metric._direction == "up"
    if metric_name in _UP:
        return True
    if metric_name.endswith(("loss", "error", "crossentropy", "hinge", "divergence")) or metric_name in {
            "mse", "mae", "mape", "msle", "logcosh", "poisson", "cosine_similarity"}:
        return metric_name == "cosine_similarity"
    raise ValueError(f"Callback received monitor={monitor}, but pynn isn't able to automatically determine "
                     "whether that metric should be maximized or minimized. Pass `mode='max'` in order to "
                     "monitor based on the highest metric value, or pass `mode='min'` in order to use the "
                     "lowest value.")
