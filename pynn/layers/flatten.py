"""Flatten: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...), in C (H, W, C) order as Keras."""
import math

from pynn.layers.layer import Layer


class Flatten(Layer):
    """Flattens every dimension but the batch one (row-major, so NHWC images flatten in H, W, C order).

    Input shape: (batch, ...). Output shape: (batch, product of the rest).
    """

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, ctx, dy):
        return dy.reshape(ctx)
