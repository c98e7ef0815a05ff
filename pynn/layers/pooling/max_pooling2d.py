"""MaxPooling2D: the maximum of each window (padded positions are ignored)."""
from pynn.layers.pooling.base_pooling import BasePooling


class MaxPooling2D(BasePooling):
    """2-D max pooling: the maximum of each window (padded positions are ignored).

    Args:
        pool_size: window size, an integer or a tuple of 2 (default (2, 2)).
        strides: step between windows; None (default) means pool_size.
        padding: 'valid' (only whole windows) or 'same' (out = ceil(in / stride), padding split with the smaller
            half before).
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels). Output shape: (batch, pooled_height, pooled_width, channels).

    Example:
        layer = pynn.layers.MaxPooling2D()
        y = layer(np.zeros((8, 28, 28, 3), np.float32))     # (8, 14, 14, 3)
    """

    mode = "max"
    rank = 2

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
