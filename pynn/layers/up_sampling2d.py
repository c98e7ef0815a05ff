"""UpSampling2D: repeat (nearest) or linearly interpolate (bilinear) rows and columns of each image."""
import numpy as np

from pynn.layers.image_utils import check_image_rank, normalize_data_format, normalize_tuple, spatial_axes
from pynn.layers.layer import Layer


def bilinear_matrix(in_size, scale, dtype):
    """The (in_size * scale, in_size) matrix of half-pixel linear interpolation, clamped at the borders (Keras's
    resize with antialias=False; torch's interpolate(mode='bilinear', align_corners=False))."""
    out_size = in_size * scale
    source = (np.arange(out_size) + 0.5) / scale - 0.5
    lower = np.floor(source)
    frac = source - lower
    lo = np.clip(lower, 0, in_size - 1).astype(np.int64)
    hi = np.clip(lower + 1, 0, in_size - 1).astype(np.int64)
    matrix = np.zeros((out_size, in_size))
    np.add.at(matrix, (np.arange(out_size), lo), 1 - frac)
    np.add.at(matrix, (np.arange(out_size), hi), frac)
    return matrix.astype(dtype)


class UpSampling2D(Layer):
    """Upsamples images by integer factors.

    'nearest' repeats every row `size[0]` times and every column `size[1]` times; 'bilinear' interpolates with
    half-pixel centres (the output pixel i samples the input at (i + 0.5) / size - 0.5, clamped at the borders).

    Args:
        size: int or (rows, columns) factors (default (2, 2)).
        data_format: 'channels_last' (default) or 'channels_first'.
        interpolation: 'nearest' (default) or 'bilinear'.

    Input shape: (batch, height, width, channels). Output shape: (batch, height * size[0], width * size[1],
    channels) (channels first likewise).

    Example:
        y = pynn.layers.UpSampling2D(2)(np.ones((4, 7, 7, 8), np.float32))   # (4, 14, 14, 8)
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, 2, "size", self.name)
        self.data_format = normalize_data_format(data_format, self.name)
        self.interpolation = str(interpolation).lower()
        if self.interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"Layer '{self.name}': interpolation must be 'nearest' or 'bilinear', got "
                             f"{interpolation!r}")

    def compute_output_shape(self, input_shape):
        check_image_rank(self, input_shape)
        shape = list(input_shape)
        for axis, factor in zip(spatial_axes(self.data_format), self.size):
            if shape[axis] is not None:
                shape[axis] *= factor
        return tuple(shape)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def _nhwc(self, x):
        return x if self.data_format == "channels_last" else np.moveaxis(x, 1, -1)

    def _from_nhwc(self, x):
        return x if self.data_format == "channels_last" else np.moveaxis(x, -1, 1)

    def forward(self, x, training=False):
        images = self._nhwc(x)
        if self.interpolation == "nearest":
            y = np.repeat(np.repeat(images, self.size[0], axis=1), self.size[1], axis=2)
        else:
            rows = bilinear_matrix(images.shape[1], self.size[0], x.dtype)
            cols = bilinear_matrix(images.shape[2], self.size[1], x.dtype)
            y = np.einsum("ph,nhwc,qw->npqc", rows, images, cols, optimize=True)
        return np.ascontiguousarray(self._from_nhwc(y)), x.shape

    def backward(self, ctx, dy):
        g = self._nhwc(dy)
        n, out_h, out_w, c = g.shape
        sh, sw = self.size
        if self.interpolation == "nearest":
            dx = g.reshape(n, out_h // sh, sh, out_w // sw, sw, c).sum(axis=(2, 4))
        else:
            rows = bilinear_matrix(out_h // sh, sh, dy.dtype)
            cols = bilinear_matrix(out_w // sw, sw, dy.dtype)
            dx = np.einsum("ph,npqc,qw->nhwc", rows, g, cols, optimize=True)
        return np.ascontiguousarray(self._from_nhwc(dx))

    def backward_weights(self, ctx, dy):
        """No weights."""

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}
