"""GlobalMaxPooling2D: the maximum over every pixel, per channel."""
from pynn.layers.pooling.base_global_pooling import BaseGlobalPooling


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Global max pooling: the maximum over every pixel, per channel.

    Args:
        data_format: 'channels_last' (default) or 'channels_first'.
        keepdims: keep the spatial axes with size 1.

    Input shape: (batch, height, width, channels). Output shape: (batch, channels), or (batch, 1, 1, channels) with keepdims.

    Example:
        layer = pynn.layers.GlobalMaxPooling2D()
        y = layer(np.zeros((8, 7, 7, 64), np.float32))       # (8, 64)
    """

    mode = "max"
    rank = 2
