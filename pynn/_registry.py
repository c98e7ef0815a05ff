"""Name lookup shared by initializers, regularizers and constraints: the `get(identifier)` of each module."""
import re


def snake_case(name):
    """'GlorotUniform' -> 'glorot_uniform', 'L1L2' -> 'l1_l2'; snake_case names pass through."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"(?<=[A-Za-z])(?=[0-9]?L[0-9])", "", name).lower()


def by_name(*classes, aliases=None):
    """{name: class} with each class under its own name and its snake_case name, plus any extra aliases."""
    table = {}
    for cls in classes:
        table[cls.__name__] = table[snake_case(cls.__name__)] = cls
    table.update(aliases or {})
    return table


def get(family, identifier, classes):
    """The object identifier names: None, an instance or callable (returned as is), a name, or a config dict.

    classes maps every accepted name (class names and snake_case aliases) to its class.
    """
    if identifier is None or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, dict):
        if "class_name" not in identifier:
            raise ValueError(f"{family}.get: a dict needs 'class_name' (and optionally 'config'), got {identifier!r}")
        name, config = identifier["class_name"], identifier.get("config") or {}
    elif isinstance(identifier, str):
        name, config = identifier, {}
    elif isinstance(identifier, type) and identifier in classes.values():
        return identifier()
    else:
        raise ValueError(f"{family}.get: could not interpret identifier {identifier!r}")
    if name not in classes:
        from pynn.saving.object_registration import get_registered_object
        custom = get_registered_object(name)
        if isinstance(custom, type):
            return custom.from_config(config) if hasattr(custom, "from_config") else custom(**config)
        if custom is not None:  # a registered function, e.g. an initializer fn(shape, dtype)
            return custom
        valid = ", ".join(sorted(classes))
        raise ValueError(f"{family}.get: unknown name {name!r}; valid names: {valid}")
    return classes[name](**config)
