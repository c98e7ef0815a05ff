"""Bidirectional: runs a recurrent layer forwards and backwards in time and merges the two outputs."""
import numpy as np

from pynn.layers.node import is_symbolic, symbolic_call
from pynn.layers.layer import Layer, _has_tensor, _recording


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

    With a layer that has return_state=True the call returns [output(s), *forward states, *backward states]
    (LSTM: forward h, c, backward h, c), and `initial_state=` takes the states in the same order.

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
            sub.zero_output_for_mask = sub.return_sequences
        if self.forward_layer.return_state != self.backward_layer.return_state:
            raise ValueError("Bidirectional: layer and backward_layer must agree on return_state")
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self.stateful = layer.stateful
        self._initial_weights = weights

    def build(self, input_shape):
        self.forward_layer.build_for(input_shape)
        self.backward_layer.build_for(input_shape)
        self._refresh_weights()
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)

    def _refresh_weights(self):
        """The two layers' weights, again after they replaced some (quantize / dequantize)."""
        self._weights = self.forward_layer._weights + self.backward_layer._weights

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:   # [output, *forward states, *backward states], as Keras
            shape, states = shape[0], list(shape[1:])
            states += list(self.backward_layer.compute_output_shape(input_shape)[1:])
        if self.merge_mode == "concat":
            out = [tuple(shape[:-1]) + (2 * shape[-1],)]
        elif self.merge_mode is None:
            out = [shape, shape]
        else:
            out = [shape]
        out += states
        return out if len(out) > 1 else out[0]

    def check_initial_state_shapes(self, shapes):
        n = self.forward_layer._num_states()
        if len(shapes) != 2 * n:
            raise ValueError(f"Layer '{self.name}': expected {2 * n} initial state tensors (the forward layer's, "
                             f"then the backward layer's), got {len(shapes)}")
        self.forward_layer.check_initial_state_shapes(shapes[:n])
        self.backward_layer.check_initial_state_shapes(shapes[n:])

    def compute_mask(self, x, mask):
        """The mask of the output: the input's with return_sequences, else None. A call that returns a list
        (merge_mode=None, or return_state) gets one mask per output, as in Keras: the forward and backward
        sequences both carry the input's mask, the states none."""
        output = mask if self.return_sequences else None
        masks = [output, output] if self.merge_mode is None else [output]
        if self.return_state:
            masks += [None] * (2 * self.forward_layer._num_states())
        return masks if len(masks) > 1 else masks[0]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return self.forward_layer.trainable_weights + self.backward_layer.trainable_weights

    def reset_states(self):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def forward(self, x, training=False, mask=None, initial_state=None):
        n = self.forward_layer._num_states()
        if initial_state is not None:
            initial_state = list(initial_state)
            if len(initial_state) != 2 * n:
                raise ValueError(f"Layer '{self.name}': expected {2 * n} initial state arrays (the forward "
                                 f"layer's, then the backward layer's), got {len(initial_state)}")
        fwd_state = None if initial_state is None else initial_state[:n]
        bwd_state = None if initial_state is None else initial_state[n:]
        yf, cf = self.forward_layer.forward(x, training, mask=mask, initial_state=fwd_state)
        yb, cb = self.backward_layer.forward(x, training, mask=mask, initial_state=bwd_state)
        states = []
        if self.return_state:
            (yf, *sf), (yb, *sb) = yf, yb
            states = sf + sb
        if self.return_sequences:
            yb = yb[:, ::-1]
        ctx = (cf, cb, yf, yb)
        if self.merge_mode == "concat":
            out = [np.concatenate([yf, yb], axis=-1)]
        elif self.merge_mode == "sum":
            out = [yf + yb]
        elif self.merge_mode == "ave":
            out = [(yf + yb) * 0.5]
        elif self.merge_mode == "mul":
            out = [yf * yb]
        else:
            out = [yf, np.ascontiguousarray(yb)]
        out += states
        return (out if len(out) > 1 else out[0]), ctx

    def _split(self, ctx, dy):
        """The gradients of the forward and backward layers' outputs (lists with their states when
        return_state) from the gradient(s) of this layer's outputs."""
        dstates_f = dstates_b = []
        if self.return_state:
            n = self.forward_layer._num_states()
            k = 2 if self.merge_mode is None else 1
            dy, dstates = (dy[:k] if k == 2 else dy[0]), list(dy[k:])
            dstates_f, dstates_b = dstates[:n], dstates[n:]
        dyf, dyb = self._split_output(ctx, dy)
        if self.return_state:
            return [dyf] + dstates_f, [dyb] + dstates_b
        return dyf, dyb

    def _split_output(self, ctx, dy):
        _, _, yf, yb = ctx
        if dy is None or (isinstance(dy, list) and all(d is None for d in dy)):
            return np.zeros_like(yf), np.zeros_like(yf)
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
            dyf, dyb = (np.zeros_like(yf) if d is None else d for d in dy)
        if self.return_sequences:
            dyb = dyb[:, ::-1]
        return np.ascontiguousarray(dyf, dtype=self.dtype), np.ascontiguousarray(dyb, dtype=self.dtype)

    def backward(self, ctx, dy):
        dyf, dyb = self._split(ctx, dy)
        gf = self.forward_layer.backward(ctx[0], dyf)
        gb = self.backward_layer.backward(ctx[1], dyb)
        if isinstance(gf, list):   # initial states were given: [dx, *forward states, *backward states]
            return [gf[0] + gb[0]] + gf[1:] + gb[1:]
        return gf + gb

    def backward_weights(self, ctx, dy):
        dyf, dyb = self._split(ctx, dy)
        self.forward_layer.backward_weights(ctx[0], dyf)
        self.backward_layer.backward_weights(ctx[1], dyb)

    def __call__(self, x, training=None, mask=None, initial_state=None, **kwargs):
        if is_symbolic(x):
            return symbolic_call(self, x, training=training, initial_state=initial_state, **kwargs)
        if _has_tensor(x) or _recording():      # inside call() or a GradientTape: one graph node
            from pynn.layers import call_support
            return call_support.record_builtin(self, x, training, mask=mask, initial_state=initial_state)
        training = bool(training)
        x = np.ascontiguousarray(x, dtype=self.dtype)
        self.build_for(x.shape)
        return self.forward(x, training, mask=mask, initial_state=initial_state)[0]

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
