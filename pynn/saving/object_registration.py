"""Custom objects by registration (Keras 3's object_registration.py): how a saved file names a class or a
function that is not part of pynn, and how loading finds it again without importing anything.

A registered object is stored in files under its registered name, "package>name". Loading looks the name up
in, in order: the `custom_objects` passed to the loading function, the innermost `custom_object_scope`, and
the global registry filled by `register_keras_serializable`.

Example:
    @pynn.saving.register_keras_serializable(package="MyLayers")
    class Scale(pynn.layers.Layer):
        ...                                    # a get_config() is required for classes

    pynn.saving.get_registered_name(Scale)     # 'MyLayers>Scale'
    model = pynn.models.load_model("model.keras")   # finds Scale through the registry
"""
import inspect
import threading

GLOBAL_CUSTOM_OBJECTS = {}   # registered name -> object
GLOBAL_CUSTOM_NAMES = {}     # object -> registered name
_scopes = threading.local()  # the stack of active custom_object_scope dicts (per thread)


def _scope_stack():
    if not hasattr(_scopes, "stack"):
        _scopes.stack = []
    return _scopes.stack


class CustomObjectScope:
    """Within `with CustomObjectScope({"name": obj, ...}):`, loading resolves these names to these objects.

    Scopes nest; the innermost wins. Example:

        with pynn.saving.custom_object_scope({"Scale": Scale}):
            model = pynn.models.load_model("model.keras")
    """

    def __init__(self, custom_objects=None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise ValueError(f"CustomObjectScope: expected a dict of name -> object, got "
                             f"{type(custom_objects).__name__}")
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scope_stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc_info):
        _scope_stack().pop()
        return False


custom_object_scope = CustomObjectScope


def get_custom_objects():
    """The global registry (a live dict of registered name -> object); it can be edited directly."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Decorator registering a class or function under "package>name" (name defaults to its __name__).

    Classes must define get_config(); a layer's from_config defaults to cls(**config). Registering a
    second object under a name already taken raises ValueError.
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a string without '>', got {package!r}")

    def decorator(obj):
        serialized_name = name if name is not None else getattr(obj, "__name__", None)
        if not serialized_name:
            raise ValueError(f"register_keras_serializable: cannot tell the name of {obj!r}; pass name=")
        registered_name = f"{package}>{serialized_name}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register class {obj.__name__}: it has no get_config() method")
        if not inspect.isclass(obj) and not callable(obj):
            raise ValueError(f"register_keras_serializable: expected a class or a function, got {obj!r}")
        previous = GLOBAL_CUSTOM_OBJECTS.get(registered_name)
        if previous is not None and previous is not obj and _qualified(previous) != _qualified(obj):
            raise ValueError(f"{registered_name!r} is already registered to {previous!r}")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = obj
        GLOBAL_CUSTOM_NAMES[obj] = registered_name
        return obj

    return decorator


def _qualified(obj):
    # Re-running a module (a notebook cell, importlib.reload) makes a new object of the same definition;
    # it may take over its own name.
    return getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)


def get_registered_name(obj):
    """The name obj is saved under: "package>name" when registered, else its __name__."""
    if obj in GLOBAL_CUSTOM_NAMES:
        return GLOBAL_CUSTOM_NAMES[obj]
    return getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered under `name`, looked up in custom_objects, the active scopes, the global
    registry, then module_objects (a dict); None when absent."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    for scope in reversed(_scope_stack()):
        if name in scope:
            return scope[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None
