"""Input: declares the shape of a model's input."""
from pynn.layers.layer import Layer


class InputLayer(Layer):
    """The placeholder a Sequential model starts from: it fixes the per-sample input shape.

    Args:
        shape: the shape of one sample, e.g. (784,) or (28, 28, 1).
        batch_size: optional fixed batch size (informational).
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if shape is None:
            raise ValueError("Input: shape is required, e.g. Input(shape=(784,))")
        self.shape = tuple(shape)
        self.batch_size = batch_size
        self._declared_input_shape = self.shape

    def forward(self, x, training=False):
        return x, None

    def backward(self, ctx, dy):
        return dy

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name, "shape": self.shape, "batch_size": self.batch_size}


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """Declare a model input of per-sample `shape`: `Sequential([Input(shape=(784,)), Dense(10)])`."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)
