"""The 1-D shape layers on sequences (batch, steps, features): UpSampling1D, ZeroPadding1D, Cropping1D.

As in Keras 3 none of them carries a mask on (its steps no longer line up with the input's).
"""
import numpy as np

from pynn.layers.image_utils import normalize_data_format
from pynn.layers.layer import Layer


def _pair(value, name, layer_name):
    """Keras's padding / cropping argument: an int or a pair of ints, all >= 0, as a pair."""
    values = (value, value) if np.ndim(value) == 0 else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in values):
        raise ValueError(f"Layer '{layer_name}': {name} must be an integer or a tuple of 2 integers, all >= 0, got "
                         f"{value!r}")
    return tuple(int(v) for v in values)


class _Sequence1D(Layer):
    """Shared: inputs of rank 3, any number of steps, no weights."""

    variable_axes = (1,)   # any number of steps
    layout = "(batch, steps, features)"

    def _check_rank(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Layer '{self.name}': expected an input of rank 3 {self.layout}, got shape "
                             f"{tuple(input_shape)}")

    def build_for(self, input_shape):
        self._check_rank(input_shape)    # before build_for frees the steps axis: the message shows the real shape
        super().build_for(input_shape)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def backward_weights(self, ctx, dy):
        """No weights."""


class UpSampling1D(_Sequence1D):
    """Repeats each step `size` times along the steps axis.

    Args:
        size: a positive integer (default 2).

    Input shape: (batch, steps, features). Output shape: (batch, steps * size, features).

    Example:
        y = pynn.layers.UpSampling1D(2)(np.arange(6.0).reshape(1, 3, 2))   # steps 0, 0, 1, 1, 2, 2
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
            raise ValueError(f"Layer '{self.name}': size must be a positive integer, got {size!r}")
        self.size = int(size)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else steps * self.size, input_shape[2])

    def forward(self, x, training=False):
        return np.repeat(x, self.size, axis=1), None

    def backward(self, ctx, dy):
        n, steps, features = dy.shape
        return np.ascontiguousarray(dy.reshape(n, steps // self.size, self.size, features).sum(axis=2))

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class ZeroPadding1D(_Sequence1D):
    """Adds zeros at the start and the end of the steps axis.

    Args:
        padding: int (both ends) or (start, end) (default 1).
        data_format: 'channels_last' (default: (batch, steps, features)) or 'channels_first' ((batch, features,
            steps); the steps axis is then the last).

    Output shape: the steps axis grown by start + end.

    Example:
        y = pynn.layers.ZeroPadding1D((1, 2))(np.ones((2, 3, 4), np.float32))   # (2, 6, 4)
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair(padding, "padding", self.name)
        self.data_format = normalize_data_format(data_format, self.name)
        if self.data_format == "channels_first":
            self.variable_axes, self.layout = (2,), "(batch, features, steps)"

    def _axis(self):
        return 1 if self.data_format == "channels_last" else 2

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        shape = list(input_shape)
        if shape[self._axis()] is not None:
            shape[self._axis()] += sum(self.padding)
        return tuple(shape)

    def _window(self, steps):
        index = [slice(None)] * 3
        index[self._axis()] = slice(self.padding[0], self.padding[0] + steps)
        return tuple(index)

    def forward(self, x, training=False):
        y = np.zeros(self.compute_output_shape(x.shape), x.dtype)
        y[self._window(x.shape[self._axis()])] = x
        return y, x.shape[self._axis()]

    def backward(self, steps, dy):
        return np.ascontiguousarray(dy[self._window(steps)])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping1D(_Sequence1D):
    """Removes steps from the start and the end of the steps axis.

    Args:
        cropping: int (both ends) or (start, end) (default (1, 1)).

    Input shape: (batch, steps, features), steps > start + end. Output shape: (batch, steps - start - end,
    features).

    Example:
        y = pynn.layers.Cropping1D((2, 1))(np.ones((2, 10, 4), np.float32))   # (2, 7, 4)
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair(cropping, "cropping", self.name)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        steps = input_shape[1]
        if steps is not None and sum(self.cropping) >= steps:
            raise ValueError(f"Layer '{self.name}': cropping {self.cropping} must leave at least one step of an "
                             f"input of shape {tuple(input_shape)}")
        return (input_shape[0], None if steps is None else steps - sum(self.cropping), input_shape[2])

    def forward(self, x, training=False):
        self.compute_output_shape(x.shape)
        start, end = self.cropping
        return np.ascontiguousarray(x[:, start:x.shape[1] - end]), x.shape

    def backward(self, shape, dy):
        start, end = self.cropping
        dx = np.zeros(shape, dy.dtype)
        dx[:, start:shape[1] - end] = dy
        return dx

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}
