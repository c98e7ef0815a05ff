"""Sequential: a plain stack of layers, run as a straight functional graph."""
import numpy as np

from pynn.layers import InputLayer, Layer
from pynn.layers.node import KerasTensor
from pynn.models.functional import Functional, _fusable_activation
from pynn.models.model import Model


class Sequential(Functional):
    """A linear stack of layers: each layer's output is the next one's input.

    Args:
        layers: a list of layers (the first may be `Input(shape=...)` or carry `input_shape=`).
        name: the model's name.

    Once the input shape is known (from an Input, a first layer's `input_shape=`, or the first data seen)
    the stack is a straight functional graph, run by the same engine as `pynn.Model(inputs, outputs)`.

    Example:
        model = pynn.models.Sequential([
            pynn.layers.Input(shape=(784,)),
            pynn.layers.Dense(128, activation="relu"),
            pynn.layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=5)
    """

    _straight = True

    def __init__(self, layers=None, name=None, trainable=True):
        Model.__init__(self, name=name, trainable=trainable)
        self._dtype = None
        self._layers = []
        self._input_layer = None
        self.input_shape = self.output_shape = None
        self.takes_list = False
        self.output_names = []
        self._plan = None
        self._checked_shape = None   # Functional._predict_batch builds (build_for) at the first shape it sees
        self.built = False
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._layers)

    @property
    def output_names(self):
        if self._layers:
            return [self._layers[-1].name]
        return ["output"]

    @output_names.setter
    def output_names(self, value):
        pass  # always the last layer's name

    def add(self, layer):
        """Append a layer (or an Input declaring the input shape)."""
        if isinstance(layer, KerasTensor):
            if layer._keras_history is None or not isinstance(layer._keras_history[0], InputLayer):
                raise ValueError("Sequential.add: a symbolic tensor is accepted only from pynn.Input(...)")
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError(f"Sequential.add: expected a pynn.layers.Layer, got {type(layer).__name__}")
        existing = self._layers + ([self._input_layer] if self._input_layer is not None else [])
        if any(other.name == layer.name for other in existing):
            raise ValueError(f"Sequential.add: a layer named '{layer.name}' is already in the model")
        if isinstance(layer, InputLayer):
            if existing:
                raise ValueError("Sequential.add: Input may only be the first layer")
            self._input_layer = layer
            return
        if not existing and layer._declared_input_shape is not None:
            self._input_layer = InputLayer(shape=layer._declared_input_shape, dtype=layer.dtype)
        self._layers.append(layer)
        if self._input_layer is not None:
            try:
                self._build_graph()
            except Exception:
                self._layers.pop()
                if self._layers:
                    self._build_graph()
                raise

    def pop(self, rebuild=True):
        """Remove the last layer and return it (the graph is rebuilt from the remaining layers)."""
        if not self._layers:
            raise TypeError(f"Sequential '{self.name}': there are no layers to pop")
        layer = self._layers.pop()
        if rebuild and self._layers and self._input_layer is not None:
            self._build_graph()
        elif not self._layers:
            self.built = False
        self._plan = self._chain_step = None
        self._checked_shape = None
        return layer

    def _build_graph(self):
        x = self._input_layer.output
        for layer in self._layers:
            x = layer(x)
        chosen = self._dtype
        self._init_graph(self._input_layer.output, x)
        self._dtype = chosen

    def build_for(self, input_shape):
        """Build every layer for inputs of this shape, or check it against the built shape."""
        input_shape = tuple(input_shape)
        if not self.built:
            if not self._layers:
                raise ValueError(f"Sequential '{self.name}' has no layers to build")
            if self._input_layer is None:
                first = self._layers[0]
                shape = tuple(None if i in first.variable_axes else d for i, d in enumerate(input_shape))
                self._input_layer = InputLayer(shape=shape[1:], dtype=first.dtype)
            self._build_graph()
        want = self.input_shape
        if len(input_shape) != len(want) or any(w is not None and w != g for w, g in zip(want[1:], input_shape[1:])):
            where = f"layer '{self._layers[0].name}'" if self._layers else "the model"
            raise ValueError(f"Input 0 of {where} is incompatible: expected shape {want}, got {input_shape}")

    def build(self, input_shape=None):
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(f"Sequential '{self.name}': build needs an input shape")
            input_shape = self._input_layer.output.shape
        self.build_for(input_shape)

    def forward(self, x, training=False, logits=()):
        if not self.built:
            self.build_for(x.shape)
        return super().forward(x, training, logits)

    def _output_activation(self, k):
        if self.built:
            return super()._output_activation(k)
        return _fusable_activation(self._layers[-1]) if self._layers else None

    @property
    def dtype(self):
        """The dtype inputs are converted to: the Input's, else the first layer's (assignable)."""
        if getattr(self, "_dtype", None) is not None:
            return self._dtype
        if getattr(self, "_input_layer", None) is not None and self._input_layer.dtype.kind == "f":
            return self._input_layer.dtype
        layers = getattr(self, "_layers", None)
        return layers[0].dtype if layers else np.dtype("float32")

    def index_inputs(self):
        if self.built:
            return super().index_inputs()
        return [bool(self._layers) and getattr(self._layers[0], "takes_indices", False)]

    @dtype.setter
    def dtype(self, value):
        self._dtype = None if value is None else np.dtype(value)

    def get_config(self):
        from pynn.saving import sequential_config
        return sequential_config.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from pynn.saving import sequential_config
        return sequential_config.from_config(cls, config, custom_objects)

    def summary(self, print_fn=print, line_length=None):
        """Print the layers, their output shapes and parameter counts."""
        if self.built:
            return super().summary(print_fn)
        rows = [("Layer (type)", "Output Shape", "Param #")]
        rows += [(f"{layer.name} ({type(layer).__name__})", "?", "0 (unbuilt)") for layer in self._layers]
        from pynn.models.functional import _print_table
        _print_table(self.name, rows, self, print_fn)
