"""RandomRotation: rotate each image by a random angle about its centre, in training."""
import math

import numpy as np

from pynn.layers.augmentation.base_augmentation import BaseAffineAugmentation, factor_range


class RandomRotation(BaseAffineAugmentation):
    """Rotates each image by an angle drawn uniformly from [lower, upper] * 2 pi, in training.

    The rotation is about the image centre ((width - 1) / 2, (height - 1) / 2); pixels from outside the image are
    filled by `fill_mode`. The identity at inference.

    Args:
        factor: a fraction of a full turn: f gives [-|f|, |f|], (lower, upper) that range; within [-1, 1].
        fill_mode: 'reflect' (default), 'wrap', 'constant' or 'nearest'. fill_value: for 'constant' (0).
        interpolation: 'bilinear' (default) or 'nearest'. seed: an integer or None.
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels). Output shape: the same.

    Example:
        layer = pynn.layers.RandomRotation(0.1)     # up to +-36 degrees
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor_range(factor, "factor", self.name)

    def transforms(self, batch, height, width):
        angle = self.uniform(1, batch, self.factor[0] * 2 * math.pi, self.factor[1] * 2 * math.pi)[0]
        cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
        cos, sin = np.cos(angle), np.sin(angle)
        t = np.zeros((batch, 8))
        t[:, 0], t[:, 1], t[:, 2] = cos, -sin, cx - cx * cos + cy * sin
        t[:, 3], t[:, 4], t[:, 5] = sin, cos, cy - cx * sin - cy * cos
        return t

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
