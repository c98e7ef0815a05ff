"""ActivityRegularization: adds an L1 / L2 penalty on its input to the loss; the identity otherwise."""
from pynn import regularizers
from pynn.layers.layer import Layer


class ActivityRegularization(Layer):
    """The identity, with `l1 * sum|x| + l2 * sum x^2` added to the training loss (and its gradient)."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = float(l1), float(l2)

    def forward(self, x, training=False):
        return x, None

    def backward(self, ctx, dy):
        return dy

    def get_config(self):
        config = {k: v for k, v in super().get_config().items() if k != "activity_regularizer"}
        return {**config, "l1": self.l1, "l2": self.l2}
