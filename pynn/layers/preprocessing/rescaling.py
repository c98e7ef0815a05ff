"""Rescaling: y = x * scale + offset, in training and inference."""
import numpy as np

from pynn.layers.layer import Layer


class Rescaling(Layer):
    """Multiplies the inputs by `scale` and adds `offset` (e.g. scale=1/255 maps [0, 255] to [0, 1]).

    Args:
        scale: a number, or an array that broadcasts against the input (one value per channel: shape
            (channels,)).
        offset: likewise (default 0).

    Input shape: any. Output shape: the same.

    Example:
        layer = pynn.layers.Rescaling(1 / 127.5, offset=-1)     # [0, 255] -> [-1, 1]
    """

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self._scale = self._constant(scale, "scale")
        self._offset = self._constant(offset, "offset")

    def _constant(self, value, name):
        try:
            array = np.asarray(value, dtype=self.dtype)
        except (TypeError, ValueError):
            array = None
        if array is None or not np.all(np.isfinite(array)):
            raise ValueError(f"Layer '{self.name}': {name} must be a finite number or array of numbers, got {value!r}")
        return array

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        shape = tuple(1 if d is None else d for d in input_shape)
        for name, array in (("scale", self._scale), ("offset", self._offset)):
            try:
                fits = np.broadcast_shapes(shape, array.shape) == shape
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(f"Layer '{self.name}': {name} of shape {array.shape} does not broadcast to the input "
                                 f"shape {tuple(input_shape)}")
        return tuple(input_shape)

    def forward(self, x, training=False):
        y = x * self._scale
        y += self._offset
        return y, None

    def backward(self, ctx, dy):
        return dy * self._scale

    def backward_weights(self, ctx, dy):
        """No weights: nothing to do as a model's first layer."""

    def get_config(self):
        from pynn.saving import serialize_keras_object
        return {**super().get_config(), "scale": serialize_keras_object(self.scale),
                "offset": serialize_keras_object(self.offset)}

    @classmethod
    def from_config(cls, config):
        from pynn.saving import deserialize_keras_object
        config = dict(config)
        config["scale"] = deserialize_keras_object(config["scale"])
        config["offset"] = deserialize_keras_object(config["offset"])
        return cls(**config)
