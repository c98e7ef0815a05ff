"""RandomTranslation: shift each image by a random fraction of its size, in training."""
import numpy as np

from pynn.layers.augmentation.base_augmentation import BaseAffineAugmentation, factor_range


class RandomTranslation(BaseAffineAugmentation):
    """Shifts each image by (height_shift * height, width_shift * width) pixels, the shifts drawn per image.

    Output pixel (y, x) reads the input at (y - dy, x - dx) (Keras's translation matrix). The identity at
    inference.

    Args:
        height_factor, width_factor: fractions of the height / width: f gives [-|f|, |f|], (lower, upper) that
            range; within [-1, 1].
        fill_mode: 'reflect' (default), 'wrap', 'constant' or 'nearest'. fill_value: for 'constant' (0).
        interpolation: 'bilinear' (default) or 'nearest'. seed: an integer or None.
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels). Output shape: the same.

    Example:
        layer = pynn.layers.RandomTranslation(0.1, 0.1)
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self.height_range = factor_range(height_factor, "height_factor", self.name)
        self.width_range = factor_range(width_factor, "width_factor", self.name)

    def transforms(self, batch, height, width):
        shift_y = self.uniform(1, batch, *self.height_range)[0] * height
        shift_x = self.uniform(1, batch, *self.width_range)[0] * width
        t = np.zeros((batch, 8))
        t[:, 0], t[:, 2], t[:, 4], t[:, 5] = 1.0, -shift_x, 1.0, -shift_y
        return t

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}
