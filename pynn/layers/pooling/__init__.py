"""Pooling layers: max / average over windows (1-D, 2-D) and over whole inputs (global)."""
from pynn.layers.pooling.average_pooling1d import AveragePooling1D
from pynn.layers.pooling.average_pooling2d import AveragePooling2D
from pynn.layers.pooling.global_average_pooling1d import GlobalAveragePooling1D
from pynn.layers.pooling.global_average_pooling2d import GlobalAveragePooling2D
from pynn.layers.pooling.global_max_pooling1d import GlobalMaxPooling1D
from pynn.layers.pooling.global_max_pooling2d import GlobalMaxPooling2D
from pynn.layers.pooling.max_pooling1d import MaxPooling1D
from pynn.layers.pooling.max_pooling2d import MaxPooling2D

__all__ = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D"]
