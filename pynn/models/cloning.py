"""clone_model and model_from_json: a model's architecture made again, with fresh weights."""
import json

from pynn.saving.serialization_lib import deserialize_keras_object, serialize_keras_object


def model_from_json(json_string, custom_objects=None):
    """The model that `model.to_json()` described, with newly initialised weights (classes are looked up as
    load_model does: pynn's own, registered ones, custom_objects; no code runs)."""
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_from_json: not a JSON model description ({e})") from None
    return deserialize_keras_object(config, custom_objects)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture as `model` and newly initialised weights (not shared).

    Args:
        model: a Sequential or functional model.
        input_tensors: not supported yet (ValueError when given).
        clone_function: for a Sequential model, a function layer -> new layer applied to each layer
            (default: the layer made again from its config); e.g. to change an argument or share a layer.
    """
    from pynn.models.sequential import Sequential
    if input_tensors is not None:
        raise ValueError("clone_model: input_tensors is not supported; clone the model and call it on them")
    if clone_function is None:
        return deserialize_keras_object(serialize_keras_object(model))
    if not isinstance(model, Sequential):
        raise ValueError("clone_model: clone_function is supported for Sequential models only")
    clone = Sequential(name=model.name)
    if getattr(model, "_input_layer", None) is not None:
        from pynn.layers.input_layer import InputLayer
        first = model._input_layer
        clone.add(InputLayer(shape=first.shape, dtype=first.dtype, name=first.name))
    for layer in model.layers:
        clone.add(clone_function(layer))
    return clone
