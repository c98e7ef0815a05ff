"""Small helpers with Keras's names: to_categorical, normalize, set_random_seed, and Keras's aliases of the
custom-object registry (pynn.saving): register_keras_serializable, get_custom_objects, custom_object_scope.
Data helpers: pad_sequences, split_dataset, timeseries_dataset_from_array, image_dataset_from_directory,
text_dataset_from_directory, load_img / img_to_array / array_to_img / save_img (Pillow), plot_model /
model_to_dot (pydot + Graphviz)."""
from pynn.utils.numerical_utils import normalize, to_categorical
from pynn.utils.py_dataset import PyDataset, Sequence
from pynn.utils.rng_utils import set_random_seed
from pynn.saving.object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                             get_registered_name, get_registered_object,
                                             register_keras_serializable)
from pynn.saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from pynn.utils.sequence_utils import pad_sequences
from pynn.utils.dataset_utils import split_dataset
from pynn.utils.timeseries_dataset_utils import timeseries_dataset_from_array
from pynn.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from pynn.utils.image_dataset_utils import image_dataset_from_directory
from pynn.utils.text_dataset_utils import text_dataset_from_directory
from pynn.utils.model_visualization import model_to_dot, plot_model

__all__ = ["PyDataset", "Sequence", "to_categorical", "normalize", "set_random_seed",
           "register_keras_serializable", "get_custom_objects", "custom_object_scope", "CustomObjectScope",
           "get_registered_name", "get_registered_object",
           "serialize_keras_object", "deserialize_keras_object",
           "pad_sequences", "split_dataset", "timeseries_dataset_from_array", "image_dataset_from_directory",
           "text_dataset_from_directory", "array_to_img", "img_to_array", "load_img", "save_img", "model_to_dot",
           "plot_model"]
