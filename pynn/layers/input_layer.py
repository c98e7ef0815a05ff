"""Input: declares the shape of a model's input."""
import numpy as np

from pynn.layers.layer import Layer
from pynn.layers.node import KerasTensor, Node


class InputLayer(Layer):
    """The layer behind `Input(...)`: it fixes the per-sample input shape and makes the symbolic tensor a
    functional model starts from (`.output`). In a Sequential model it may come first to declare the shape.

    Args:
        shape: the shape of one sample, e.g. (784,) or (28, 28, 1); None for a dimension of any size.
        batch_size: optional fixed batch size (informational).
        dtype: float32 (the default) or float64; an integer type for indices (an Embedding's input), which
            then stay integers on the way in.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.dtype = np.dtype(dtype or "float32")
        if self.dtype.kind not in "fiu" or self.dtype not in (np.float32, np.float64) and self.dtype.kind == "f":
            raise ValueError(f"Input '{self.name}': dtype must be float32, float64 or an integer type (indices for "
                             f"an Embedding), got {self.dtype}")
        if shape is None:
            raise ValueError("Input: shape is required, e.g. Input(shape=(784,))")
        if isinstance(shape, int):
            shape = (shape,)
        self.shape = tuple(shape)
        self.batch_size = batch_size
        self._declared_input_shape = self.shape
        self.built = True
        self.input_shape = (None,) + self.shape
        tensor = KerasTensor((None,) + self.shape, self.dtype, name=self.name, history=(self, 0, 0))
        self._inbound_nodes.append(Node(self, [], [tensor], False, False))   # layer.output is this tensor

    def forward(self, x, training=False):
        return x, None

    def backward(self, ctx, dy):
        return dy

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name, "shape": self.shape, "batch_size": self.batch_size}


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """A symbolic input of per-sample `shape`: the start of a functional model
    (`x = Input(shape=(784,)); y = Dense(10)(x); Model(x, y)`), or the first entry of a Sequential list."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name).output
