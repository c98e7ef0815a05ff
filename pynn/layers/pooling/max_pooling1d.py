"""MaxPooling1D: the maximum of each window (padded positions are ignored)."""
from pynn.layers.pooling.base_pooling import BasePooling


class MaxPooling1D(BasePooling):
    """1-D max pooling: the maximum of each window (padded positions are ignored).

    Args:
        pool_size: window size, an integer or a tuple of 1 (default 2).
        strides: step between windows; None (default) means pool_size.
        padding: 'valid' (only whole windows) or 'same' (out = ceil(in / stride), padding split with the smaller
            half before).
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, steps, channels). Output shape: (batch, pooled_steps, channels).

    Example:
        layer = pynn.layers.MaxPooling1D()
        y = layer(np.zeros((8, 10, 3), np.float32))         # (8, 5, 3)
    """

    mode = "max"
    rank = 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
