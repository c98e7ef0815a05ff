"""TimeDistributed: applies a layer to every timestep of a sequence."""
import numpy as np

from pynn.layers.layer import Layer


class TimeDistributed(Layer):
    """Runs `layer` on each slice x[:, t] with the same weights: the batch and time axes are merged into one
    (batch * timesteps) axis for a single call of the inner layer, then split again.

    Args:
        layer: a Layer (e.g. Dense) that takes inputs (batch, ...).

    Input shape: (batch, timesteps, ...). Output shape: (batch, timesteps) + the inner layer's output shape.
    Weights: the inner layer's.

    Example:
        y = pynn.layers.TimeDistributed(pynn.layers.Dense(4))(np.zeros((2, 7, 3), np.float32))  # (2, 7, 4)
    """

    supports_masking = True
    variable_axes = (1,)  # any number of timesteps

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: expected a pynn.layers.Layer, got {type(layer).__name__}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}': expected an input of shape (batch, timesteps, ...), "
                             f"got {tuple(input_shape)}")
        self.layer.build_for((None,) + tuple(input_shape[2:]))
        self._weights = self.layer._weights

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    @property
    def trainable_weights(self):
        return self.layer.trainable_weights if self.trainable else []

    def forward(self, x, training=False):
        if x.ndim < 3:
            raise ValueError(f"Layer '{self.name}' expects an input of shape (batch, timesteps, ...), got shape "
                             f"{x.shape}")
        self.layer.check_input_shape((None,) + x.shape[2:])
        y, ctx = self.layer.forward(np.ascontiguousarray(x.reshape((-1,) + x.shape[2:])), training)
        return y.reshape(x.shape[:2] + y.shape[1:]), (ctx, x.shape)

    def backward(self, ctx, dy):
        inner, x_shape = ctx
        dx = self.layer.backward(inner, np.ascontiguousarray(dy.reshape((-1,) + dy.shape[2:])))
        return dx.reshape(x_shape)

    def backward_weights(self, ctx, dy):
        inner, _ = ctx
        self.layer.backward_weights(inner, np.ascontiguousarray(dy.reshape((-1,) + dy.shape[2:])))

    def get_config(self):
        from pynn.saving import serialize_keras_object
        return {**super().get_config(), "layer": serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from pynn import layers
        from pynn.saving import deserialize_keras_object
        config = dict(config)
        layer = deserialize_keras_object(config.pop("layer"), custom_objects, module_objects=vars(layers))
        return cls(layer, **config)
