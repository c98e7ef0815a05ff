"""GRU: gated recurrent unit over a whole sequence in one kernel call."""
from pynn.layers.rnn_base import RNNBase


class GRU(RNNBase):
    """Gated Recurrent Unit (Cho et al., 2014), Keras's formulation.

        z, r = recurrent_activation(x W_{z,r} + b_{z,r} + h_{t-1} U_{z,r} + b'_{z,r})
        reset_after=True (default):  h~ = activation(x W_h + b_h + r * (h_{t-1} U_h + b'_h))
        reset_after=False:           h~ = activation(x W_h + b_h + (r * h_{t-1}) U_h)
        h_t = z * h_{t-1} + (1 - z) * h~

    Args: as LSTM (without unit_forget_bias), plus reset_after (True). recurrent_dropout multiplies h_{t-1}
    in the recurrent product by one mask per call, as Keras's implementation=1 does (Keras 3's default
    implementation=2 ignores a GRU's recurrent_dropout); the state carried to z * h_{t-1} is never dropped.
    Weights (Keras's layout, gate order z, r, h): kernel (features, 3 units), recurrent_kernel
    (units, 3 units), bias (2, 3 units) = [input bias; recurrent bias] with reset_after, else (3 units,).
    Input / output shapes: as LSTM; with return_state, [output, h].

    Example:
        y = pynn.layers.GRU(16)(np.zeros((4, 10, 3), np.float32))   # (4, 16)
    """

    cell = "gru"
    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, reset_after=True,
                 **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)
        self.reset_after = bool(reset_after)

    def _reset_after(self):
        return self.reset_after

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
