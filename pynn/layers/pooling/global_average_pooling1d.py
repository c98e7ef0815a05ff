"""GlobalAveragePooling1D: the mean over every step, per channel."""
from pynn.layers.pooling.base_global_pooling import BaseGlobalPooling


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Global average pooling: the mean over every step, per channel.

    Args:
        data_format: 'channels_last' (default) or 'channels_first'.
        keepdims: keep the spatial axes with size 1.

    Input shape: (batch, steps, channels). Output shape: (batch, channels), or (batch, 1, channels) with keepdims.

    Example:
        layer = pynn.layers.GlobalAveragePooling1D()
        y = layer(np.zeros((8, 10, 16), np.float32))         # (8, 16)
    """

    mode = "average"
    rank = 1
