"""Preprocessing layers, applied in training and inference alike: Rescaling, Resizing, CenterCrop, Normalization."""
from pynn.layers.preprocessing.normalization import Normalization
from pynn.layers.preprocessing.rescaling import Rescaling
from pynn.layers.preprocessing.resizing import CenterCrop, Resizing

__all__ = ["Rescaling", "Resizing", "CenterCrop", "Normalization"]
