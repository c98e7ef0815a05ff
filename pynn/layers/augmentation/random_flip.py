"""RandomFlip: flip each image horizontally and / or vertically with probability 1/2, in training."""
import numpy as np

from pynn.layers.augmentation.base_augmentation import BaseAugmentation

MODES = ("horizontal", "vertical", "horizontal_and_vertical")


class RandomFlip(BaseAugmentation):
    """Flips each image with probability 1/2 in training; the identity at inference.

    As in Keras 3, one draw per image decides: 'horizontal_and_vertical' flips an image both ways or not at all.

    Args:
        mode: 'horizontal' (left-right), 'vertical' (up-down) or 'horizontal_and_vertical' (default).
        seed: an integer for a reproducible sequence of flips, or None.
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels). Output shape: the same.

    Example:
        layer = pynn.layers.RandomFlip("horizontal", seed=1)
        y = layer(x, training=True)
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in MODES:
            raise ValueError(f"Layer '{self.name}': mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    def _flip(self, images, flips):
        out = images.copy()
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            out[flips] = out[flips][:, :, ::-1]
        if self.mode in ("vertical", "horizontal_and_vertical"):
            out[flips] = out[flips][:, ::-1]
        return out

    def augment(self, images):
        flips = self.uniform(1, images.shape[0], 0.0, 1.0)[0] <= 0.5
        return self._flip(images, flips), flips

    def augment_backward(self, flips, dy):
        return self._flip(dy, flips)  # a flip is its own inverse and its own transpose

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
