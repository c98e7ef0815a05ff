"""Metric base classes: Metric (the streaming contract), Mean and MeanMetricWrapper (Keras 3's reduction_metrics)."""
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


def reduce_to_samplewise_values(values, sample_weight):
    """Keras's reduce_to_samplewise_values with reduce_fn=mean: (values per sample, weights per sample)."""
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        values, sample_weight = _squeeze_or_expand(values, sample_weight)
        if values.ndim > sample_weight.ndim:
            values = np.mean(values, axis=tuple(range(sample_weight.ndim, values.ndim)))
        sample_weight = np.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if values.ndim > 1:
            sample_weight = np.mean(sample_weight, axis=tuple(range(1, sample_weight.ndim)))
    if values.ndim > 1:
        values = np.mean(values, axis=tuple(range(1, values.ndim)))
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


class MeanMetricWrapper(Mean):
    """Mean of fn(y_true, y_pred, **kwargs), a per-sample function (accuracy, squared error, ...)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(np.asarray(y_true), np.asarray(y_pred), **self._fn_kwargs)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}
