"""Activation: applies an activation function as a layer."""
from pynn import activations
from pynn.layers.layer import Layer


class Activation(Layer):
    """y = activation(x), elementwise (or over the last axis for softmax / log_softmax).

    Args:
        activation: a name ("relu", "softmax", ...) or a pynn.activations function.

    Input shape: any. Output shape: the same.
    """

    supports_masking = True  # the mask of a sequence passes through unchanged

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training=False, logits=False):
        if logits:
            return x, None
        y = self.activation.forward(x)
        return y, (None if self.activation.uses_output else x, y)

    def backward(self, ctx, dy):
        if ctx is None:  # the model fused this activation into the loss
            return dy
        x, y = ctx
        return self.activation.backward(dy, x=x, y=y)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.get_config()}
