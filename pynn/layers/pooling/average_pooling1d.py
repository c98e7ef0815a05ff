"""AveragePooling1D: the mean of each window over its valid positions (padding is not counted, as in Keras)."""
from pynn.layers.pooling.base_pooling import BasePooling


class AveragePooling1D(BasePooling):
    """1-D average pooling: the mean of each window over its valid positions (padding is not counted, as in Keras).

    Args:
        pool_size: window size, an integer or a tuple of 1 (required, as in Keras 3).
        strides: step between windows; None (default) means pool_size.
        padding: 'valid' (only whole windows) or 'same' (out = ceil(in / stride), padding split with the smaller
            half before).
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, steps, channels). Output shape: (batch, pooled_steps, channels).

    Example:
        layer = pynn.layers.AveragePooling1D(2)
        y = layer(np.zeros((8, 10, 3), np.float32))         # (8, 5, 3)
    """

    mode = "average"
    rank = 1

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
