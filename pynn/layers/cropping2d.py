"""Cropping2D: remove rows and columns from the borders of each image."""
import numpy as np

from pynn.layers.image_utils import check_image_rank, normalize_data_format, normalize_pairs, spatial_axes
from pynn.layers.layer import Layer


class Cropping2D(Layer):
    """Crops the height and width of images.

    Args:
        cropping: int (all four sides), (symmetric_height, symmetric_width) or ((top, bottom), (left, right)).
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels). Output shape: (batch, height - top - bottom,
    width - left - right, channels) (channels first likewise).

    Example:
        y = pynn.layers.Cropping2D(((2, 2), (4, 4)))(np.ones((2, 28, 28, 3), np.float32))   # (2, 24, 20, 3)
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = normalize_pairs(cropping, "cropping", self.name)
        self.data_format = normalize_data_format(data_format, self.name)

    def compute_output_shape(self, input_shape):
        check_image_rank(self, input_shape)
        shape = list(input_shape)
        for axis, (before, after) in zip(spatial_axes(self.data_format), self.cropping):
            if shape[axis] is not None:
                if before + after >= shape[axis]:
                    raise ValueError(f"Layer '{self.name}': cropping {self.cropping} leaves nothing of an input of "
                                     f"shape {tuple(input_shape)}")
                shape[axis] -= before + after
        return tuple(shape)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def _window(self, shape):
        index = [slice(None)] * 4
        for axis, (before, after) in zip(spatial_axes(self.data_format), self.cropping):
            index[axis] = slice(before, shape[axis] - after)
        return tuple(index)

    def forward(self, x, training=False):
        self.compute_output_shape(x.shape)
        return np.ascontiguousarray(x[self._window(x.shape)]), x.shape

    def backward(self, ctx, dy):
        dx = np.zeros(ctx, dy.dtype)
        dx[self._window(ctx)] = dy
        return dx

    def backward_weights(self, ctx, dy):
        """No weights."""

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}
