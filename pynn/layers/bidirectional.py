"""Bidirectional: runs a recurrent layer forwards and backwards in time and merges the two outputs."""
import numpy as np

from pynn.layers.layer import Layer


class Bidirectional(Layer):
    """Two copies of a recurrent layer, one reading the sequence backwards, merged by `merge_mode`.

    The backward copy's sequence output is flipped back to forward time before merging. As in Keras, with
    return_sequences both copies output zeros at masked steps.

    Args:
        layer: an LSTM / GRU / SimpleRNN (its config is copied twice, as "forward_<name>" and
            "backward_<name>" with go_backwards flipped; the weights are fresh).
        merge_mode: "concat" (default), "sum", "mul", "ave", or None (the call returns [forward, backward]).
        backward_layer: optional explicit backward layer (go_backwards must differ from layer's).

    Input shape: (batch, timesteps, features). Output shape: the layer's, with the last axis doubled for
    "concat". Weights: the forward layer's, then the backward layer's.

    Example:
        y = pynn.layers.Bidirectional(pynn.layers.LSTM(8, return_sequences=True))(x)   # (batch, steps, 16)
    """

    uses_mask = True
    variable_axes = (1,)  # any number of timesteps
    supports_masking = True
    output_activation_fusable = False

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        from pynn.layers.rnn_base import RNNBase
        if not isinstance(layer, RNNBase):
            raise ValueError(f"Bidirectional: expected a recurrent layer (LSTM, GRU, SimpleRNN), got "
                             f"{type(layer).__name__}")
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(f"Bidirectional: merge_mode must be one of 'concat', 'sum', 'mul', 'ave', None; got "
                             f"{merge_mode!r}")
        super().__init__(**kwargs)
        config = layer.get_config()
        config.pop("input_shape", None)
        base = layer.name
        self.forward_layer = type(layer).from_config({**config, "name": "forward_" + base})
        if backward_layer is None:
            self.backward_layer = type(layer).from_config(
                {**config, "name": "backward_" + base, "go_backwards": not layer.go_backwards})
        else:
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError("Bidirectional: backward_layer must have a different go_backwards than layer")
            self.backward_layer = backward_layer
        for sub in (self.forward_layer, self.backward_layer):
            if sub.return_state:
                raise ValueError("Bidirectional: return_state is not supported yet")
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.stateful = layer.stateful
        self._initial_weights = weights

    def build(self, input_shape):
        self.forward_layer.build_for(input_shape)
        self.backward_layer.build_for(input_shape)
        self._weights = self.forward_layer._weights + self.backward_layer._weights
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return tuple(shape[:-1]) + (2 * shape[-1],)
        if self.merge_mode is None:
            return [shape, shape]
        return shape

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return self.forward_layer.trainable_weights + self.backward_layer.trainable_weights

    def reset_states(self):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def forward(self, x, training=False, mask=None):
        yf, cf = self.forward_layer.forward(x, training, mask=mask)
        yb, cb = self.backward_layer.forward(x, training, mask=mask)
        if self.return_sequences:
            yb = yb[:, ::-1]
        ctx = (cf, cb, yf, yb)
        if self.merge_mode == "concat":
            return np.concatenate([yf, yb], axis=-1), ctx
        if self.merge_mode == "sum":
            return yf + yb, ctx
        if self.merge_mode == "ave":
            return (yf + yb) * 0.5, ctx
        if self.merge_mode == "mul":
            return yf * yb, ctx
        return [yf, np.ascontiguousarray(yb)], ctx

    def _split(self, ctx, dy):
        _, _, yf, yb = ctx
        if self.merge_mode == "concat":
            u = yf.shape[-1]
            dyf, dyb = dy[..., :u], dy[..., u:]
        elif self.merge_mode == "sum":
            dyf = dyb = dy
        elif self.merge_mode == "ave":
            dyf = dyb = dy * 0.5
        elif self.merge_mode == "mul":
            dyf, dyb = dy * yb, dy * yf
        else:
            dyf, dyb = dy
        if self.return_sequences:
            dyb = dyb[:, ::-1]
        return np.ascontiguousarray(dyf, dtype=self.dtype), np.ascontiguousarray(dyb, dtype=self.dtype)

    def backward(self, ctx, dy):
        dyf, dyb = self._split(ctx, dy)
        return self.forward_layer.backward(ctx[0], dyf) + self.backward_layer.backward(ctx[1], dyb)

    def backward_weights(self, ctx, dy):
        dyf, dyb = self._split(ctx, dy)
        self.forward_layer.backward_weights(ctx[0], dyf)
        self.backward_layer.backward_weights(ctx[1], dyb)

    def __call__(self, x, training=False, mask=None):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        self.build_for(x.shape)
        return self.forward(x, training, mask=mask)[0]

    def get_config(self):
        from pynn.saving import serialize_keras_object
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_keras_object(self.forward_layer),
                "backward_layer": serialize_keras_object(self.backward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from pynn import layers
        from pynn.saving import deserialize_keras_object
        config = dict(config)
        def build(spec):
            return deserialize_keras_object(spec, custom_objects, module_objects=vars(layers))
        layer = build(config.pop("layer"))
        back = config.pop("backward_layer", None)
        layer.name = layer.name[len("forward_"):] if layer.name.startswith("forward_") else layer.name
        return cls(layer, backward_layer=build(back) if back else None, **config)
