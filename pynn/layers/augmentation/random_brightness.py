"""RandomBrightness: add a random offset to each image, in training."""
import numpy as np

from pynn.layers.augmentation.base_augmentation import BaseAugmentation, factor_range
from pynn.layers.augmentation.random_contrast import check_value_range, clip_with_mask


class RandomBrightness(BaseAugmentation):
    """Adds delta * (high - low) to every pixel of an image in training, clipped to value_range = (low, high);
    delta is drawn per image, uniformly from the factor's range. The identity at inference.

    Args:
        factor: f in [-1, 1] gives [-|f|, |f|]; a pair (lower, upper) that range, within [-1, 1].
        value_range: the range of the pixel values (default (0, 255)); kept sorted, as a list.
        seed: an integer, or None. data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels) (channels first likewise). Output shape: the same.

    Example:
        layer = pynn.layers.RandomBrightness(0.2, value_range=(0, 1), seed=1)   # +- 0.2 in [0, 1]
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "factor", self.name)
        self.value_range = sorted(check_value_range(value_range, self.name))

    def augment(self, images):
        n = images.shape[0]
        low, high = self.value_range
        delta = self.uniform(1, n, *self.factor)[0] * (high - low)
        y = images + delta.astype(images.dtype).reshape(n, 1, 1, 1)
        return clip_with_mask(y, self.value_range)

    def augment_backward(self, inside, dy):
        return np.where(inside, dy, dy.dtype.type(0))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}
