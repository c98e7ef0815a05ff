"""LSTM: long short-term memory over a whole sequence in one kernel call."""
import numpy as np

from pynn import initializers
from pynn.layers.rnn_base import RNNBase


class LSTM(RNNBase):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997), Keras's formulation.

        i, f, o = recurrent_activation(x W_{i,f,o} + h_{t-1} U_{i,f,o} + b_{i,f,o})
        c~ = activation(x W_c + h_{t-1} U_c + b_c)
        c_t = f * c_{t-1} + i * c~;   h_t = o * activation(c_t)

    Args:
        units: size of the state.
        activation ("tanh"), recurrent_activation ("sigmoid"), use_bias (True).
        kernel_initializer ("glorot_uniform"), recurrent_initializer ("orthogonal"), bias_initializer ("zeros").
        unit_forget_bias: start the forget gate's bias at 1 (Keras's default True).
        kernel_/recurrent_/bias_regularizer, activity_regularizer, kernel_/recurrent_/bias_constraint.
        dropout, recurrent_dropout: fractions dropped from the inputs / from h_{t-1} in the recurrent
            product, one mask per call shared by every step (Keras 3); seed.
        return_sequences, return_state, go_backwards, stateful (reset_states()), unroll (accepted, ignored).

    Input shape: (batch, timesteps, features); timesteps may differ from call to call.
    Output shape: (batch, timesteps, units) with return_sequences, else (batch, units); with return_state,
    [output, h, c].
    Weights (Keras's layout, gate order i, f, c, o): kernel (features, 4 units), recurrent_kernel
    (units, 4 units), bias (4 units,).

    Example:
        layer = pynn.layers.LSTM(32, return_sequences=True)
        y = layer(np.zeros((8, 20, 5), np.float32))     # (8, 20, 32)
    """

    cell = "lstm"
    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = initializers.get(self.bias_initializer), self.units

        def init(shape, dtype="float32"):
            return np.concatenate([np.asarray(base((units,), dtype=dtype)), np.ones(units, dtype),
                                   np.asarray(base((2 * units,), dtype=dtype))]).astype(dtype)
        return init

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
