"""Random augmentation layers, active only in training: flips, affine resampling, crops and colour."""
from pynn.layers.augmentation.random_brightness import RandomBrightness
from pynn.layers.augmentation.random_contrast import RandomContrast
from pynn.layers.augmentation.random_crop import RandomCrop
from pynn.layers.augmentation.random_flip import RandomFlip
from pynn.layers.augmentation.random_rotation import RandomRotation
from pynn.layers.augmentation.random_translation import RandomTranslation
from pynn.layers.augmentation.random_zoom import RandomZoom

__all__ = ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomCrop", "RandomContrast",
           "RandomBrightness"]
