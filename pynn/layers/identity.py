"""Identity: returns its input unchanged (Keras 3), a placeholder where a layer is expected."""
from pynn.layers.layer import Layer


class Identity(Layer):
    """y = x. No arguments but the common ones (name, dtype, ...); no weights. The mask, if any, passes through.

    Example:
        block = pynn.layers.Identity() if skip else pynn.layers.Dense(64)
    """

    supports_masking = True

    def forward(self, x, training=False):
        return x, None

    def backward(self, ctx, dy):
        return dy

    def backward_weights(self, ctx, dy):
        """No weights."""

    def inference(self):
        return None   # the identity: predict() skips it
