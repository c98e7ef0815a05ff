"""SimpleRNN: the fully connected recurrent layer over a whole sequence in one kernel call."""
from pynn.layers.rnn_base import RNNBase


class SimpleRNN(RNNBase):
    """h_t = activation(x_t W + h_{t-1} U + b), Keras's SimpleRNN.

    Args: units, activation ("tanh"; "relu" and the other elementwise activations work too), use_bias, the
    initializers / regularizers / constraints of LSTM, dropout, recurrent_dropout, seed, return_sequences,
    return_state, go_backwards, stateful, unroll (accepted, ignored).
    Weights: kernel (features, units), recurrent_kernel (units, units), bias (units,).
    Input / output shapes: as LSTM; with return_state, [output, h].

    Example:
        y = pynn.layers.SimpleRNN(8, return_sequences=True)(np.zeros((2, 5, 3), np.float32))  # (2, 5, 8)
    """

    cell = "simple"
    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        if "recurrent_activation" in kwargs:
            raise ValueError(f"SimpleRNN: unknown keyword argument(s) ['recurrent_activation']")
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config
