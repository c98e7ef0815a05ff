"""RandomZoom: zoom each image in or out by a random factor about its centre, in training."""
import numpy as np

from pynn.layers.augmentation.base_augmentation import BaseAffineAugmentation, factor_range


class RandomZoom(BaseAffineAugmentation):
    """Zooms each image by 1 + a factor drawn per image, in training (positive values zoom out, as in Keras).

    The input position sampled by output pixel x is zoom * x + (size - 1) / 2 * (1 - zoom) on each axis. The
    identity at inference.

    Args:
        height_factor: f gives [-|f|, |f|], (lower, upper) that range; within [-1, 1].
        width_factor: likewise, or None (default) to zoom both axes by the height zoom (aspect ratio kept).
        fill_mode: 'reflect' (default), 'wrap', 'constant' or 'nearest'. fill_value: for 'constant' (0).
        interpolation: 'bilinear' (default) or 'nearest'. seed: an integer or None.
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels). Output shape: the same.

    Example:
        layer = pynn.layers.RandomZoom(0.1)
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self.height_range = factor_range(height_factor, "height_factor", self.name)
        self.width_range = None if width_factor is None else factor_range(width_factor, "width_factor", self.name)

    def transforms(self, batch, height, width):
        zoom_y = 1.0 + self.uniform(1, batch, *self.height_range)[0]
        zoom_x = zoom_y if self.width_range is None else 1.0 + self.uniform(1, batch, *self.width_range)[0]
        t = np.zeros((batch, 8))
        t[:, 0], t[:, 2] = zoom_x, (width - 1) / 2.0 * (1.0 - zoom_x)
        t[:, 4], t[:, 5] = zoom_y, (height - 1) / 2.0 * (1.0 - zoom_y)
        return t

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}
