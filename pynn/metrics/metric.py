"""Metric base classes: Metric (the streaming contract), Mean, Sum and MeanMetricWrapper (Keras 3's
reduction_metrics)."""
import numpy as np


class Metric:
    """A streaming metric: update_state per batch, result() at any time, reset_state() per epoch.

    Subclasses implement update_state(y_true, y_pred, sample_weight=None), result() -> float and
    reset_state(); state is kept in float64 so the result is an exact sum over batches.

    Example:
        >>> class MaxAbsoluteError(Metric):
        ...     def reset_state(self): self.value = 0.0
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         self.value = max(self.value, float(np.max(np.abs(np.subtract(y_pred, y_true)))))
        ...     def result(self): return self.value
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or "".join("_" + c.lower() if c.isupper() and i else c.lower()
                                    for i, c in enumerate(type(self).__name__))
        self.dtype = dtype
        self.reset_state()

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras's stateless-looking call: update_state, then result()."""
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} result={self.result()!r}>"


def _squeeze_or_expand(x1, x2):
    """Keras's squeeze_or_expand_to_same_rank (see pynn.losses.loss)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1:
            x2 = x2[:, None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1:
            x1 = x1[:, None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def reduce_to_samplewise_values(values, sample_weight, reduce_fn=np.mean):
    """Keras's reduce_to_samplewise_values: (values per sample, weights per sample). Values with more axes
    than the weights are first reduced (reduce_fn: np.mean for Mean, np.sum for Sum) down to the weights'
    rank, multiplied by the weights, then reduced to one value per sample."""
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        values, sample_weight = _squeeze_or_expand(values, sample_weight)
        if values.ndim > sample_weight.ndim:
            values = reduce_fn(values, axis=tuple(range(sample_weight.ndim, values.ndim)))
        sample_weight = np.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if sample_weight.ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, sample_weight.ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Mean(Metric):
    """The weighted mean of the values seen: total = sum(values * w), count = sum(w); result total / count
    (0 when count is 0). Multi-axis values are first averaged per sample, as Keras does."""

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight)
        self.total += float(np.sum(values))
        if sample_weight is not None:
            self.count += float(np.sum(sample_weight))
        else:
            self.count += values.shape[0] if values.ndim >= 1 else 1
        return self

    def result(self):
        return self.total / self.count if self.count else 0.0


class Sum(Metric):
    """The weighted sum of the values seen: total += sum(values * w) (multi-axis values are summed per sample,
    as Keras does)."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, reduce_fn=np.sum)
        self.total += float(np.sum(values))
        return self

    def result(self):
        return self.total


class MeanMetricWrapper(Mean):
    """Mean of fn(y_true, y_pred, **kwargs), a per-sample function (accuracy, squared error, ...).

    Saved configs name fn: pynn's loss and metric functions (pynn.losses.log_cosh, ...) by name, any other
    function through pynn.saving.register_keras_serializable.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(np.asarray(y_true), np.asarray(y_pred), **self._fn_kwargs)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}
        if type(self) is MeanMetricWrapper:  # subclasses fix their function
            config["fn"] = _serialize_fn(self._fn)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = _deserialize_fn(config["fn"])
        return cls(**config)


def _builtin_functions():
    from pynn import losses
    from pynn.metrics import accuracy
    table = dict(losses.FUNCTIONS)
    table.update({fn.__name__: fn for fn in (accuracy.binary_accuracy, accuracy.categorical_accuracy,
                                             accuracy.sparse_categorical_accuracy,
                                             accuracy.top_k_categorical_accuracy,
                                             accuracy.sparse_top_k_categorical_accuracy)})
    return table


def _serialize_fn(fn):
    name = getattr(fn, "__name__", None)
    if fn is not None and _builtin_functions().get(name) is fn:
        return {"module": "pynn.metrics", "class_name": "function", "config": name, "registered_name": "function"}
    from pynn.saving import serialization_lib
    return serialization_lib.serialize_keras_object(fn)


def _deserialize_fn(config):
    if isinstance(config, dict) and config.get("class_name") == "function" and config.get("module") in (
            "pynn.metrics", "pynn.losses") and config.get("config") in _builtin_functions():
        return _builtin_functions()[config["config"]]
    if callable(config):
        return config
    from pynn.saving import serialization_lib
    return serialization_lib.deserialize_keras_object(config)
