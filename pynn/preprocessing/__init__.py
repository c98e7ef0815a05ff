"""Keras 3's keras.preprocessing: the `image` and `sequence` modules and the dataset makers."""
from pynn.preprocessing import image, sequence
from pynn.utils.image_dataset_utils import image_dataset_from_directory
from pynn.utils.text_dataset_utils import text_dataset_from_directory
from pynn.utils.timeseries_dataset_utils import timeseries_dataset_from_array

__all__ = ["image", "sequence", "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
