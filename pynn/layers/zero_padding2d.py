"""ZeroPadding2D: add rows and columns of zeros around each image."""
import numpy as np

from pynn.layers.image_utils import check_image_rank, normalize_data_format, normalize_pairs, spatial_axes
from pynn.layers.layer import Layer


class ZeroPadding2D(Layer):
    """Pads the height and width of images with zeros.

    Args:
        padding: int (all four sides), (symmetric_height, symmetric_width) or ((top, bottom), (left, right)).
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels). Output shape: (batch, height + top + bottom,
    width + left + right, channels) (channels first likewise).

    Example:
        y = pynn.layers.ZeroPadding2D(((1, 0), (2, 2)))(np.ones((1, 3, 3, 1), np.float32))   # (1, 4, 7, 1)
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = normalize_pairs(padding, "padding", self.name)
        self.data_format = normalize_data_format(data_format, self.name)

    def compute_output_shape(self, input_shape):
        check_image_rank(self, input_shape)
        shape = list(input_shape)
        for axis, (before, after) in zip(spatial_axes(self.data_format), self.padding):
            if shape[axis] is not None:
                shape[axis] += before + after
        return tuple(shape)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def _window(self, ndim=4):
        """The slices of the padded output that hold the input."""
        index = [slice(None)] * ndim
        for axis, (before, after) in zip(spatial_axes(self.data_format), self.padding):
            index[axis] = slice(before, -after if after else None)
        return tuple(index)

    def forward(self, x, training=False):
        y = np.zeros(self.compute_output_shape(x.shape), x.dtype)
        y[self._window()] = x
        return y, None

    def backward(self, ctx, dy):
        return np.ascontiguousarray(dy[self._window()])

    def backward_weights(self, ctx, dy):
        """No weights."""

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}
