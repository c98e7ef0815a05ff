"""Sequential: a plain stack of layers."""
import numpy as np

from pynn.layers import InputLayer, Layer
from pynn.models.model import Model


class Sequential(Model):
    """A linear stack of layers: each layer's output is the next one's input.

    Args:
        layers: a list of layers (the first may be `Input(shape=...)` or carry `input_shape=`).
        name: the model's name.

    Example:
        model = pynn.models.Sequential([
            pynn.layers.Input(shape=(784,)),
            pynn.layers.Dense(128, activation="relu"),
            pynn.layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=5)
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name or "sequential")
        self._layers = []
        self.input_shape = None
        self.dtype = np.dtype("float32")
        self.trainable = trainable
        self.input_gradient = False  # fit needs no gradient for the data; a model nested in another does
        self._plan = None            # the layers' inference functions, made at the first predict
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def add(self, layer):
        """Append a layer (or an Input declaring the input shape)."""
        if not isinstance(layer, Layer):
            raise ValueError(f"Sequential.add: expected a pynn.layers.Layer, got {type(layer).__name__}")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"Sequential.add: a layer named '{layer.name}' is already in the model")
        if not self._layers and layer._declared_input_shape is not None:
            self.dtype = layer.dtype
            self._layers.append(layer)
            self.build_for((None,) + layer._declared_input_shape)
            return
        if isinstance(layer, InputLayer):
            raise ValueError("Sequential.add: Input may only be the first layer")
        self._layers.append(layer)
        self._plan = None
        if self.input_shape is not None:  # already built: build the new layer on the current output shape
            layer.build_for(self.output_shape)
            self.output_shape = layer.compute_output_shape(self.output_shape)

    def build_for(self, input_shape):
        """Build every layer for inputs of this shape, or check it against the built shape."""
        input_shape = tuple(input_shape)
        if self.input_shape is not None:
            first = self.layers[0] if self.layers else None
            if len(input_shape) != len(self.input_shape) or any(
                    w is not None and w != g for w, g in zip(self.input_shape[1:], input_shape[1:])):
                where = f"layer '{first.name}'" if first is not None else "the model"
                raise ValueError(f"Input 0 of {where} is incompatible: expected shape {self.input_shape}, "
                                 f"got {input_shape}")
            return
        shape = (None,) + input_shape[1:]
        self.input_shape = shape
        for layer in self.layers:
            layer.build_for(shape)
            shape = layer.compute_output_shape(shape)
        self.output_shape = shape

    def build(self, input_shape=None):
        self.build_for(input_shape if input_shape is not None else (None,) + self._layers[0]._declared_input_shape)

    def forward(self, x, training=False, logits=False):
        """Run every layer; logits=True stops before the last layer's activation (fused into the loss)."""
        layers = self.layers
        if self.input_shape is None:
            self.build_for(x.shape)
        ctxs, regularized = [], {}
        activity = 0.0
        mask = None
        for i, layer in enumerate(layers):
            x_in = x
            if mask is not None and layer.uses_mask:
                x, ctx = layer.forward(x, training, mask=mask)
            elif logits and i == len(layers) - 1:
                x, ctx = layer.forward(x, training, logits=True)
            else:
                x, ctx = layer.forward(x, training)
            if mask is not None or layer.produces_mask:
                mask = layer.compute_mask(x_in, mask)
            if layer.activity_regularizer is not None:
                activity += layer.activity_regularizer(x)
                regularized[i] = x
            ctxs.append(ctx)
        return x, {"layers": ctxs, "activity_loss": activity, "regularized_outputs": regularized}

    def _predict_batch(self, x):
        if self.input_shape is None or x.shape[1:] != self.input_shape[1:]:
            self.build_for(x.shape)  # builds, or checks a shape with free (None) dimensions
        plan = self._plan
        if plan is None:
            if any(getattr(layer, "produces_mask", False) for layer in self.layers):
                plan = self._plan = [lambda x: self.forward(x, training=False)[0]]  # masks flow in forward
            else:
                plan = self._plan = [f for f in (layer.inference() for layer in self.layers) if f is not None]
        for run in plan:
            x = run(x)
        return x

    def __getstate__(self):
        # The inference plan holds closures (not picklable); it is rebuilt at the next predict.
        state = self.__dict__.copy()
        state["_plan"] = None
        return state

    def backward(self, ctx, dy):
        layers = self.layers
        for i in range(len(layers) - 1, -1, -1):
            if i in ctx["regularized_outputs"]:
                dy = dy + layers[i].activity_regularizer.gradient(ctx["regularized_outputs"][i])
            if i == 0 and not self.input_gradient:
                layers[0].backward_weights(ctx["layers"][0], dy)
                return None
            dy = layers[i].backward(ctx["layers"][i], dy)
        return dy

    def get_config(self):
        from pynn.saving import sequential_config
        return sequential_config.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from pynn.saving import sequential_config
        return sequential_config.from_config(cls, config, custom_objects)

    def summary(self, print_fn=print):
        """Print the layers, their output shapes and parameter counts."""
        rows = [("Layer (type)", "Output Shape", "Param #")]
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape) if shape is not None else None
            rows.append((f"{layer.name} ({type(layer).__name__})", str(shape if shape else "?"),
                         f"{layer.count_params():,}"))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "-" * sum(widths)
        total = self.count_params()
        trainable = sum(w.value.size for w in self.trainable_weights)
        out = [f'Model: "{self.name}"', line, "".join(c.ljust(w) for c, w in zip(rows[0], widths)), "=" * len(line)]
        out += ["".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
        out += ["=" * len(line), f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {total - trainable:,}", line]
        print_fn("\n".join(out))
