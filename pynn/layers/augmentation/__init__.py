"""Random augmentation layers, active only in training: flips and affine resampling."""
from pynn.layers.augmentation.random_flip import RandomFlip
from pynn.layers.augmentation.random_rotation import RandomRotation
from pynn.layers.augmentation.random_translation import RandomTranslation
from pynn.layers.augmentation.random_zoom import RandomZoom

__all__ = ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom"]
