"""serialize_keras_object / deserialize_keras_object: objects to JSON-friendly dicts and back, safely.

An object with get_config() becomes

    {"module": "pynn.layers", "class_name": "Dense", "config": {...}, "registered_name": "Dense"}

and a function {"module": ..., "class_name": "function", "config": <its name>, "registered_name": <its name>}.
Lists, dicts and plain values stay what they are (tuples become lists, NumPy scalars Python numbers, arrays
{"class_name": "__numpy__", "config": {"value": [...], "dtype": "float32"}}).

Loading resolves a class in exactly two ways, and never imports a module named in the data, never evaluates
code and never unpickles:

1. pynn's own classes (layers, models, losses, metrics, optimizers, schedules, initializers, regularizers,
   constraints, callbacks) and pynn.activations' functions, looked up by name in those public namespaces;
2. anything else only by its registered name (`register_keras_serializable`) or through `custom_objects` /
   `custom_object_scope` (by registered name or plain class name).

Anything else (a module path such as "os" with class_name "system", a misspelt class) raises ValueError.
"""
import inspect

import numpy as np

from pynn.saving import object_registration

# The public namespaces a saved file may name as "module", in lookup order.
BUILTIN_MODULES = ("pynn.layers", "pynn.models", "pynn.losses", "pynn.metrics", "pynn.optimizers",
                   "pynn.optimizers.schedules", "pynn.initializers", "pynn.regularizers", "pynn.constraints",
                   "pynn.activations", "pynn.callbacks")

_tables = {}


def _namespace(module_name):
    """{public name: class} of one of BUILTIN_MODULES (only classes defined inside pynn)."""
    table = _tables.get(module_name)
    if table is None:
        import importlib
        module = importlib.import_module(module_name)  # one of the fixed names above, never from the data
        table = {}
        for name in dir(module):
            obj = getattr(module, name)
            if name.startswith("_") or not inspect.isclass(obj):
                continue
            if getattr(obj, "__module__", "").startswith("pynn."):
                table[name] = obj
        _tables[module_name] = table
    return table


def _builtin_functions():
    from pynn import activations
    return {fn.__name__: fn for fn in activations._BY_FUNCTION}


def _public_module(cls):
    """The public namespace that exports cls ("pynn.layers" for Dense), or None for a class outside pynn."""
    for module_name in BUILTIN_MODULES:
        if _namespace(module_name).get(cls.__name__) is cls:
            return module_name
    return None


def _describe(obj):
    name = getattr(obj, "name", None)
    kind = type(obj).__name__
    return f"{kind} '{name}'" if isinstance(name, str) else kind


# ---------------------------------------------------------------------------------------------- serialize
def serialize_keras_object(obj):
    """A JSON-friendly description of obj that deserialize_keras_object turns back into an equal object."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.dtype):
        return obj.name
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(item) for item in obj]
    if isinstance(obj, dict):
        return {str(key): serialize_keras_object(value) for key, value in obj.items()}
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return _serialize_function(obj)
    if inspect.isclass(obj):
        raise ValueError(f"Cannot serialize the class {obj.__name__} itself; serialize an instance of it")
    if not hasattr(obj, "get_config"):
        raise ValueError(f"Cannot serialize {obj!r}: it has no get_config() method")
    try:
        config = obj.get_config()
    except NotImplementedError as error:
        raise ValueError(f"{_describe(obj)}: cannot be saved, its get_config() is not implemented ({error})") \
            from None
    except ValueError as error:
        raise ValueError(f"{_describe(obj)}: {error}") from None
    cls = type(obj)
    registered = object_registration.GLOBAL_CUSTOM_NAMES.get(cls)
    # A class outside pynn that is not registered is saved under its plain name: loading it then needs
    # custom_objects={"Name": cls} (or a custom_object_scope).
    module = _public_module(cls) if registered is None else None
    if module is None:
        module = cls.__module__
    try:
        config = serialize_keras_object(config)
    except ValueError as error:
        raise ValueError(f"{_describe(obj)}: {error}") from None
    return {"module": module, "class_name": cls.__name__, "config": config,
            "registered_name": registered or cls.__name__}


def _serialize_function(fn):
    builtin = _builtin_functions()
    if builtin.get(getattr(fn, "__name__", None)) is fn:
        return {"module": "pynn.activations", "class_name": "function", "config": fn.__name__,
                "registered_name": "function"}
    registered = object_registration.GLOBAL_CUSTOM_NAMES.get(fn)
    if registered is None:
        name = getattr(fn, "__qualname__", repr(fn))
        raise ValueError(f"cannot serialize the Python function {name!r}: a saved file names functions, it does "
                         "not store code. Register it with @pynn.saving.register_keras_serializable() "
                         "(and define it before loading, or pass it in custom_objects)")
    return {"module": getattr(fn, "__module__", None), "class_name": "function", "config": registered,
            "registered_name": registered}


# ---------------------------------------------------------------------------------------------- deserialize
def deserialize_keras_object(config, custom_objects=None, module_objects=None):
    """The object that serialize_keras_object described (plain values, lists and dicts without a
    "class_name" come back as they are). module_objects: an optional {name: class} table searched for
    configs that name no module (the legacy {"class_name", "config"} form)."""
    if config is None or isinstance(config, (bool, int, float, str)):
        return config
    if isinstance(config, list):
        return [deserialize_keras_object(item, custom_objects, module_objects) for item in config]
    if not isinstance(config, dict):
        raise ValueError(f"Could not deserialize {config!r}: expected a dict, list or plain value")
    if "class_name" not in config:
        return config
    class_name = config["class_name"]
    inner = config.get("config")
    if class_name == "__numpy__":
        return np.asarray(inner["value"], dtype=np.dtype(inner["dtype"]))
    if class_name == "function":
        return _resolve_function(config, custom_objects)
    cls = resolve_class(config, custom_objects, module_objects)
    inner = {} if inner is None else inner
    if not isinstance(inner, dict):
        raise ValueError(f"Could not deserialize {class_name!r}: its 'config' must be a dict, got "
                         f"{type(inner).__name__}")
    with object_registration.CustomObjectScope(custom_objects or {}):
        try:
            if "custom_objects" in inspect.signature(cls.from_config).parameters:
                return cls.from_config(inner, custom_objects=custom_objects)
            return cls.from_config(inner)
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"Could not deserialize {class_name!r} from its config: {error}") from None


def resolve_class(config, custom_objects=None, module_objects=None):
    """The class a serialized config names (see the module docstring for where it may come from)."""
    class_name = config.get("class_name")
    module = config.get("module")
    registered = config.get("registered_name")
    if not isinstance(class_name, str):
        raise ValueError(f"Could not deserialize {config!r}: 'class_name' must be a string")
    for name in (registered, class_name):
        if isinstance(name, str):
            obj = object_registration.get_registered_object(name, custom_objects)
            if obj is not None:
                return obj
    candidates = []
    if module in BUILTIN_MODULES:
        candidates.append(_namespace(module))
    elif module is None:
        if module_objects:
            candidates.append(module_objects)
        candidates.extend(_namespace(name) for name in BUILTIN_MODULES)
    for table in candidates:
        obj = table.get(class_name)
        if inspect.isclass(obj):
            return obj
    where = f" (module {module!r})" if module is not None else ""
    raise ValueError(f"Could not locate class {class_name!r}{where}. pynn loads only its own classes and those "
                     "registered with @pynn.saving.register_keras_serializable() or passed in custom_objects; "
                     "make sure a custom class is defined and registered before loading")


def _resolve_function(config, custom_objects):
    name = config.get("config")
    registered = config.get("registered_name")
    for key in (registered, name):
        if isinstance(key, str) and key != "function":
            obj = object_registration.get_registered_object(key, custom_objects)
            if obj is not None:
                return obj
    if config.get("module") == "pynn.activations" and name in _builtin_functions():
        return _builtin_functions()[name]
    raise ValueError(f"Could not locate function {name!r} (module {config.get('module')!r}). pynn loads only "
                     "pynn.activations' functions and functions registered with "
                     "@pynn.saving.register_keras_serializable() or passed in custom_objects")
