"""pynn.saving: custom-object registration, serialization, and the model / weights file formats.

- object_registration.py: register_keras_serializable, custom_object_scope, get_registered_name / _object.
- serialization_lib.py: serialize_keras_object / deserialize_keras_object (resolves only pynn's own classes and
  registered ones; never imports, evaluates or unpickles anything named in a file).
- saving_lib.py: model.save(path) / load_model(path), the `.keras` zip format (see its docstring).
- legacy_h5.py: the same for `.h5` / `.hdf5`, in Keras's legacy HDF5 layout (optional h5py); keras_compat.py:
  Keras's configs to pynn's and back, and Keras's order of a model's layers and weights.
- weights_io.py: save_weights / load_weights in `.weights.h5` (Keras 3's layout, optional h5py) and
  `.weights.npz`; reading a Keras `.keras` file's weights.
- layer_matching.py: which weights of a pynn file go to which layer (by name, else by position and class),
  checked before any is assigned.
- file_reading.py: reading zip members, JSON and `.npy` arrays of a file defensively (ValueError naming it).
- file_utils.py: atomic_write (temporary file, fsync, rename; keeps the mode, follows symlinks, removes the
  temporaries of killed saves) and the walk over a model's layers.
"""
from pynn.saving.object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                             get_registered_name, get_registered_object,
                                             register_keras_serializable)
from pynn.saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from pynn.saving.saving_lib import load_model, save_model
from pynn.saving.state_restore import restore_model_state
from pynn.saving.weights_io import load_weights, save_weights

__all__ = ["CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
           "get_registered_object", "register_keras_serializable", "serialize_keras_object",
           "deserialize_keras_object", "save_model", "load_model", "save_weights", "load_weights",
           "restore_model_state"]
