"""RandomContrast: scale each image's deviations from its mean by a random factor, in training."""
import numbers

import numpy as np

from pynn.layers.augmentation.base_augmentation import BaseAugmentation


def check_value_range(value_range, layer_name):
    """A pair of numbers (low, high) with low < high."""
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value_range):
        raise ValueError(f"Layer '{layer_name}': value_range must be a pair of numbers (low, high), got "
                         f"{value_range!r}")
    return value_range


def clip_with_mask(values, value_range):
    """values clipped in place to value_range, and where they were within it (where the gradient passes)."""
    low, high = value_range
    inside = (values >= low) & (values <= high)
    np.clip(values, low, high, out=values)
    return values, inside


class RandomContrast(BaseAugmentation):
    """Adjusts the contrast of each image by a random factor c in training; the identity at inference.

    Each channel of each image becomes (x - mean) * c + mean, its mean taken over the image's pixels, then
    clipped to value_range. c is drawn per image, uniformly from [1 - lower, 1 + upper].

    As in Keras 3, a single number f gives (lower, upper) = (0, f): contrast is only ever raised, c in [1, 1 + f].
    A pair (lower, upper) gives c in [1 - lower, 1 + upper], both within [0, 1].

    Args:
        factor: f in [0, 1], or a pair (lower, upper) in [0, 1].
        value_range: (low, high), the range of the pixel values, which outputs are clipped to (default (0, 255)).
        seed: an integer, or None. data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels) (channels first likewise). Output shape: the same.

    Example:
        layer = pynn.layers.RandomContrast(0.2, value_range=(0, 1), seed=1)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        message = f"Layer '{self.name}': factor must be a number or a pair of numbers in [0, 1], got {factor!r}"
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or not all(isinstance(f, numbers.Real) and 0 <= f <= 1 for f in factor):
                raise ValueError(message)
            lower, upper = sorted(float(f) for f in factor)
        elif isinstance(factor, numbers.Real) and not isinstance(factor, bool) and 0 <= factor <= 1:
            lower, upper = 0.0, float(factor)
        else:
            raise ValueError(message)
        self.factor = (lower, upper)
        self.value_range = check_value_range(value_range, self.name)
        if not value_range[0] < value_range[1]:
            raise ValueError(f"Layer '{self.name}': value_range must be (low, high) with low < high, got "
                             f"{value_range!r}")

    def augment(self, images):
        n = images.shape[0]
        contrast = self.uniform(1, n, 1.0 - self.factor[0], 1.0 + self.factor[1])[0]
        contrast = contrast.astype(images.dtype).reshape(n, 1, 1, 1)
        mean = images.mean(axis=(1, 2), keepdims=True)
        y = images - mean
        y *= contrast
        y += mean
        y, inside = clip_with_mask(y, self.value_range)
        return y, (contrast, inside)

    def augment_backward(self, ctx, dy):
        contrast, inside = ctx
        g = np.where(inside, dy, dy.dtype.type(0))
        return contrast * g + (1 - contrast) * g.mean(axis=(1, 2), keepdims=True)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}
