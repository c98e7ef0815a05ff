"""Small helpers with Keras's names: to_categorical, normalize, set_random_seed, and Keras's aliases of the
custom-object registry (pynn.saving): register_keras_serializable, get_custom_objects, custom_object_scope."""
from pynn.utils.numerical_utils import normalize, to_categorical
from pynn.utils.py_dataset import PyDataset, Sequence
from pynn.utils.rng_utils import set_random_seed
from pynn.saving.object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                             get_registered_name, get_registered_object,
                                             register_keras_serializable)
from pynn.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["PyDataset", "Sequence", "to_categorical", "normalize", "set_random_seed", "register_keras_serializable", "get_custom_objects",
           "custom_object_scope", "CustomObjectScope", "get_registered_name", "get_registered_object",
           "serialize_keras_object", "deserialize_keras_object"]
