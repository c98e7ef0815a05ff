"""Which weights of a pynn file go to which layer of the model, and the check-everything-then-assign step that
every format's loading ends with.

pynn's files (`.keras`, `.weights.npz`) key weight i of a layer by the layer's path in the model:
"dense_1/0", "encoder/dense/1" for a model used as a layer. When the file has weights for every model layer
that holds weights, they are matched by these names. Otherwise (typically the same architecture built again
in the same process, whose layers got other automatic names: dense_2, dense_3, ...) they are matched by
position among the layers holding weights, as Keras 3 matches them, and each pair must agree on the class
(where the file records it: a `.keras` file's config) and on the number, shapes and dtypes of the weights.
A file whose structure differs raises ValueError naming the layer, what the model expects and what the
file holds. Loading is all or nothing: every array is read and checked before any weight is assigned.
"""
import re
import warnings

from pynn.saving import file_utils
from pynn.saving.file_reading import check_weight


def assign(plan):
    """Assign every (variable, array) pair of a plan whose arrays were all checked (check_weight)."""
    for variable, array in plan:
        variable.assign(array)


def refuse(message, skip_mismatch):
    """Raise ValueError(message), or only warn when skip_mismatch (the caller then leaves the layer as it is)."""
    if not skip_mismatch:
        raise ValueError(message)
    warnings.warn(message + "; skipped (skip_mismatch=True)")


def layer_classes(config, prefix=""):
    """{layer path: class name} of the layers in a pynn `.keras` file's config.json (for the parts it can read)."""
    inner = config.get("config") if isinstance(config, dict) else None
    entries = inner.get("layers") if isinstance(inner, dict) else None
    classes = {}
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("config", {}).get("name") if isinstance(entry, dict) and \
            isinstance(entry.get("config"), dict) else None
        if isinstance(name, str):
            classes[prefix + name] = entry.get("class_name")
            classes.update(layer_classes(entry, f"{prefix}{name}/"))
    return classes


def plan_by_layer(model, filepath, names, prefix, suffix, read, classes=None, skip_mismatch=False):
    """[(variable, array)] for the model's weights from the file's members "<prefix><layer path>/<i><suffix>"
    (`names`, in the file's order; other members and folder entries are ignored), matched as the module
    docstring says; read(member) returns a member's array. Raises ValueError before anything is assigned."""
    layers = _file_layers(names, prefix, suffix, filepath, skip_mismatch)
    pairs = _matched(model, layers, filepath, skip_mismatch)
    plan = []
    for position, (path, layer, their) in enumerate(pairs):
        where = f"layer {path!r}" if path == their else \
            f"layer {path!r} (matched by position with the file's layer {their!r}, number {position + 1} of those " \
            "with weights)"
        members = [f"{prefix}{their}/{i}{suffix}" for i in range(len(layer.weights))]
        arrays = _layer_arrays(filepath, where, layer, layers[their], members, read, (classes or {}).get(their),
                               skip_mismatch)
        if arrays is not None:
            plan.extend(zip(layer.weights, arrays))
    return plan


def _matched(model, layers, filepath, skip_mismatch):
    """[(model layer path, layer, the file's layer path)] for the model's layers with weights."""
    mine = [(path, layer) for path, layer in file_utils.walk_layers(model) if layer.weights]
    if all(path in layers for path, _ in mine):
        known = {path for path, _ in mine}
        extra = [path for path in layers if path not in known]
        if extra:
            refuse(f"{filepath}: weights for layers the model does not have: {extra[:5]}", skip_mismatch)
        return [(path, layer, path) for path, layer in mine]
    theirs = list(layers)
    if len(theirs) != len(mine):
        refuse(f"{filepath}: the model has {len(mine)} layers with weights ({_names(p for p, _ in mine)}), the "
               f"file {len(theirs)} ({_names(theirs)}); as their names differ too, they are matched by "
               "position, which needs the same layers in the same order", skip_mismatch)
    return [(path, layer, their) for (path, layer), their in zip(mine, theirs)]


def file_paths(model, filepath, names, prefix, suffix):
    """{model layer path: the file's layer path}, as plan_by_layer matches them (call it first: it reports what
    does not match), for what a file keys by layer path besides the weights: optimizer slots, random streams.
    They differ for a subclassed model loaded again, whose sublayers got new automatic names."""
    pairs = _matched(model, _file_layers(names, prefix, suffix, filepath, False), filepath, True)
    return {path: their for path, _, their in pairs}


def _file_layers(names, prefix, suffix, filepath, skip_mismatch):
    """{layer path: set of member names}, in the file's order."""
    pattern = re.compile(re.escape(prefix) + r"(.+)/\d{1,6}" + re.escape(suffix))
    layers = {}
    for name in names:
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        match = pattern.fullmatch(name)
        if match is None:
            refuse(f"{filepath}: the member {name!r} is not a weight '{prefix}<layer>/<i>{suffix}'", skip_mismatch)
        else:
            layers.setdefault(match[1], set()).add(name)
    return layers


def _layer_arrays(filepath, where, layer, found, members, read, their_class, skip_mismatch):
    """The checked arrays of the layer's weights (the file's `members`), or None when skip_mismatch skips it."""
    kind = type(layer).__name__
    if their_class is not None and their_class != kind:
        return refuse(f"{filepath}: {where} is a {kind}, the file's is a {their_class}", skip_mismatch)
    if found != set(members):
        missing = [name for name in members if name not in found]
        return refuse(f"{filepath}: {where} ({kind}) has {len(members)} weights, the file has {len(found)}"
                      + (f" (missing {missing})" if missing else f": {sorted(found)}"), skip_mismatch)
    arrays = [read(name) for name in members]
    for variable, array in zip(layer.weights, arrays):
        problem = check_weight(variable, array)
        if problem:
            return refuse(f"{filepath}: weight {variable.name!r} of {where} {problem}", skip_mismatch)
    return arrays


def _names(paths):
    paths = list(paths)
    return ", ".join(paths[:6]) + (", ..." if len(paths) > 6 else "")
