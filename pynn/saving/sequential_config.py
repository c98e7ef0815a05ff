"""Sequential's get_config / from_config (Keras 3's format), kept here so that sequential.py only delegates.

    {"name": "sequential", "trainable": true, "dtype": "float32",
     "layers": [serialized InputLayer (when the model has one), serialized layers...],
     "build_input_shape": [null, 784]}          (null when the model is not built)
"""
import numpy as np

from pynn.saving.serialization_lib import deserialize_keras_object, serialize_keras_object


def get_config(model):
    layers = list(model.layers)
    if getattr(model, "_input_layer", None) is not None:
        layers = [model._input_layer] + layers
    shape = model.input_shape
    return {"name": model.name, "trainable": bool(getattr(model, "trainable", True)),
            "dtype": np.dtype(getattr(model, "dtype", "float32")).name,
            "layers": [serialize_keras_object(layer) for layer in layers],
            "build_input_shape": None if shape is None else list(shape)}


def from_config(cls, config, custom_objects=None):
    from pynn import layers as layers_module
    config = dict(config)
    unknown = set(config) - {"name", "trainable", "dtype", "layers", "build_input_shape"}
    if unknown:
        raise ValueError(f"{cls.__name__}.from_config: unknown keys {sorted(unknown)}")
    if not isinstance(config.get("layers", []), list):
        raise ValueError(f"{cls.__name__}.from_config: 'layers' must be a list")
    model = cls(name=config.get("name"), trainable=config.get("trainable", True))
    if config.get("dtype"):
        model.dtype = np.dtype(config["dtype"])
    for layer_config in config.get("layers", []):
        layer = deserialize_keras_object(layer_config, custom_objects, module_objects=vars(layers_module))
        if not hasattr(layer, "forward") or not hasattr(layer, "weights"):
            raise ValueError(f"{cls.__name__}.from_config: {type(layer).__name__} is not a layer")
        model.add(layer)
    shape = config.get("build_input_shape")
    if shape is not None and model.input_shape is None and model.layers:
        model.build_for(tuple(shape))
    return model
