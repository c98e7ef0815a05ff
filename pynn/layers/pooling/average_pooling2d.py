"""AveragePooling2D: the mean of each window over its valid positions (padding is not counted, as in Keras)."""
from pynn.layers.pooling.base_pooling import BasePooling


class AveragePooling2D(BasePooling):
    """2-D average pooling: the mean of each window over its valid positions (padding is not counted, as in Keras).

    Args:
        pool_size: window size, an integer or a tuple of 2 (required, as in Keras 3).
        strides: step between windows; None (default) means pool_size.
        padding: 'valid' (only whole windows) or 'same' (out = ceil(in / stride), padding split with the smaller
            half before).
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels). Output shape: (batch, pooled_height, pooled_width, channels).

    Example:
        layer = pynn.layers.AveragePooling2D(2)
        y = layer(np.zeros((8, 28, 28, 3), np.float32))     # (8, 14, 14, 3)
    """

    mode = "average"
    rank = 2

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
