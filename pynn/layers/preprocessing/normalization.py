"""Normalization: shift and scale features by a mean and variance, given or adapted to data."""
import math
import operator

import numpy as np

from pynn.layers.layer import Layer

EPSILON = 1e-7  # Keras's backend.epsilon(): the smallest standard deviation divided by


def _batch_input(batch):
    """The x of a batch that may be (x, y) or (x, y, sample_weight), as Keras's adapt takes it."""
    return batch[0] if isinstance(batch, tuple) else batch


class Normalization(Layer):
    """Normalizes each feature: y = (x - mean) / sqrt(variance), or x * sqrt(variance) + mean with invert=True.

    The standard deviation is taken as at least 1e-7 (Keras's epsilon). mean and variance are either given or
    computed from data by `adapt(data)`; adapted, they are the layer's non-trainable weights mean, variance and
    count (as in Keras: count stays 0), saved with the model. Both directions are differentiable.

    Args:
        axis: the axis or axes that keep their own mean and variance (default -1: one per feature); None for a
            single mean and variance over everything. The other axes are averaged over.
        mean, variance: numbers or arrays (broadcast against the kept axes, from the right), both or neither.
        invert: apply the inverse transformation (turn normalized values back into the original scale).

    Input shape: any, with known sizes on the kept axes (never the batch axis). Output shape: the same.

    Example:
        layer = pynn.layers.Normalization()
        layer.adapt(x_train)                     # an array, a PyDataset or any iterable of batches
        model = pynn.Sequential([pynn.Input((8,)), layer, pynn.layers.Dense(1)])
    """

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        try:
            axis = () if axis is None else (operator.index(axis),) if np.ndim(axis) == 0 else tuple(
                operator.index(a) for a in axis)
        except TypeError:
            raise ValueError(f"Layer '{self.name}': axis must be an integer, a tuple of integers or None, got "
                             f"{axis!r}") from None
        if (mean is None) != (variance is None):
            raise ValueError(f"Layer '{self.name}': give both mean and variance or neither, got mean={mean!r} and "
                             f"variance={variance!r}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"Layer '{self.name}': mean and variance must have the same shape, got "
                                 f"{np.shape(mean)} and {np.shape(variance)}")
            if np.ndim(mean) > len(axis):
                raise ValueError(f"Layer '{self.name}': mean has rank {np.ndim(mean)}, more than the {len(axis)} "
                                 f"axes of axis={axis}")
            if np.any(np.asarray(variance, dtype=np.float64) < 0):
                raise ValueError(f"Layer '{self.name}': variance must be >= 0, got {variance!r}")
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.mean = self.variance = self.count = None   # the weights, when adapted
        self._constants = None                           # (mean, variance) broadcastable, when given

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"Layer '{self.name}': axis {self.axis} is out of range for inputs of shape "
                             f"{tuple(input_shape)}")
        self._keep = tuple(sorted({a % ndim for a in self.axis}))
        if any(input_shape[a] is None for a in self._keep):
            raise ValueError(f"Layer '{self.name}': the kept axes {self.axis} must have known sizes (not the batch "
                             f"axis), got input shape {tuple(input_shape)}")
        self._reduce = tuple(a for a in range(ndim) if a not in self._keep)
        self._broadcast_shape = tuple(input_shape[a] if a in self._keep else 1 for a in range(ndim))
        shape = tuple(input_shape[a] for a in self._keep)
        if self.input_mean is None:
            self.mean = self.add_weight("mean", shape, "zeros", trainable=False)
            self.variance = self.add_weight("variance", shape, "ones", trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False, dtype="int64")
            return
        expanded = [1] * ndim
        for i, size in enumerate(reversed(np.shape(self.input_mean))):   # the given arrays' axes, from the right
            expanded[self._keep[-1 - i]] = size
        try:
            self._constants = tuple(
                np.ascontiguousarray(np.broadcast_to(np.reshape(np.asarray(v, dtype=self.dtype), expanded),
                                                     self._broadcast_shape))
                for v in (self.input_mean, self.input_variance))
        except ValueError:
            raise ValueError(f"Layer '{self.name}': mean of shape {np.shape(self.input_mean)} does not broadcast to "
                             f"the kept axes of an input of shape {tuple(input_shape)}") from None

    def check_input_shape(self, input_shape):
        """Only the rank and the kept axes' sizes are fixed."""
        want = self.input_shape
        if len(input_shape) != len(want) or any(input_shape[a] != want[a] for a in self._keep):
            raise ValueError(f"Layer '{self.name}': expected input of shape {want} (sizes fixed on axes {self._keep}),"
                             f" got {tuple(input_shape)}")

    # ------------------------------------------------------------------ computing
    def _statistics(self):
        """(mean, standard deviation) broadcastable against the input."""
        if self._constants is not None:
            mean, variance = self._constants
        else:
            mean = self.mean.value.reshape(self._broadcast_shape)
            variance = self.variance.value.reshape(self._broadcast_shape)
        return mean, np.maximum(np.sqrt(variance), variance.dtype.type(EPSILON))

    def forward(self, x, training=False):
        mean, std = self._statistics()
        if self.invert:
            y = x * std
            y += mean
        else:
            y = x - mean
            y /= std
        return y, std

    def backward(self, std, dy):
        return dy * std if self.invert else dy / std

    def backward_weights(self, ctx, dy):
        """No trainable weights: nothing to do as a model's first layer."""

    # ------------------------------------------------------------------ adapting
    def adapt(self, data):
        """Set mean and variance to those of `data` over the axes not kept (the biased variance).

        data: a NumPy array; a pynn.utils.PyDataset; or an iterable of batches (a list of arrays, a generator).
        Batches may be (x, y) or (x, y, sample_weight) tuples: x is used. Batches are combined exactly (Chan's
        parallel formula, in float64).
        """
        if self.input_mean is not None:
            raise ValueError(f"Layer '{self.name}': mean and variance were given; adapt() cannot change them")
        from pynn.utils import PyDataset
        if isinstance(data, np.ndarray):
            batches = iter([data])
        elif isinstance(data, PyDataset):
            batches = (data[i] for i in range(len(data)))
        elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
            batches = iter(data)
        else:
            raise ValueError(f"Layer '{self.name}': adapt() takes a NumPy array, a PyDataset or an iterable of "
                             f"batches, got {type(data).__name__}")
        total_mean = total_var = None
        total = 0
        for batch in batches:
            x = np.asarray(_batch_input(batch))
            if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
                raise ValueError(f"Layer '{self.name}': adapt() expects numeric batches, got dtype {x.dtype}")
            x = x.astype(np.float64)
            if not self.built:
                self.build_for(x.shape)
            else:
                self.check_input_shape(x.shape)
            count = math.prod(x.shape[a] for a in self._reduce)
            if count == 0:
                continue
            mean, var = x.mean(axis=self._reduce), x.var(axis=self._reduce)
            if total_mean is None:
                total_mean, total_var, total = mean, var, count
                continue
            new_total = total + count
            delta = mean - total_mean
            total_var = (total_var * total + var * count + delta ** 2 * (total * count / new_total)) / new_total
            total_mean = total_mean + delta * (count / new_total)
            total = new_total
        if total_mean is None:
            raise ValueError(f"Layer '{self.name}': adapt() got no data (no batches, or only empty ones)")
        self.mean.assign(total_mean)
        self.variance.assign(total_var)

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist() if self.input_mean is not None else None,
                "variance": np.array(self.input_variance).tolist() if self.input_variance is not None else None}
