"""Optimizers (Keras 3's rules on the fused C++ kernels) and learning-rate schedules."""
from pynn.optimizers import schedules
from pynn.optimizers.adadelta import Adadelta
from pynn.optimizers.adagrad import Adagrad
from pynn.optimizers.adam import Adam
from pynn.optimizers.adamax import Adamax
from pynn.optimizers.adamw import AdamW
from pynn.optimizers.base import Optimizer
from pynn.optimizers.nadam import Nadam
from pynn.optimizers.rmsprop import RMSprop
from pynn.optimizers.sgd import SGD

_OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Adamax, Nadam)}


def serialize(optimizer):
    """{"class_name": ..., "config": ...} for a built-in optimizer."""
    from pynn.saving.object_registration import get_registered_name
    return {"class_name": get_registered_name(type(optimizer)), "config": optimizer.get_config()}


def deserialize(config):
    """The optimizer that `serialize` described."""
    cls = _lookup(config.get("class_name"))
    return cls.from_config(config.get("config", {}))


def _lookup(name):
    from pynn.saving.object_registration import get_registered_object
    custom = get_registered_object(name) if isinstance(name, str) else None
    if isinstance(custom, type) and issubclass(custom, Optimizer):
        return custom
    cls = _OPTIMIZERS.get(str(name).lower())
    if cls is None:
        valid = ", ".join(cls.__name__ for cls in _OPTIMIZERS.values())
        raise ValueError(f"Could not interpret optimizer identifier: {name!r}. Valid names: {valid}")
    return cls


def get(identifier):
    """An optimizer from a name ('adam', 'SGD', 'RMSprop', ... any case), a config dict, or an instance.

    A name gives a fresh instance with Keras's defaults; an instance is returned as it is.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "schedules",
           "get", "serialize", "deserialize"]
