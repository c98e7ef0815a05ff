"""model.save("x.h5") / load_model("x.h5"): Keras's legacy HDF5 model file, laid out as Keras 3's
`model.save("x.h5")` lays it out, so that Keras loads pynn's files and pynn loads Keras's (needs the optional
h5py: `pip install "pynn[h5]"`). Strings are UTF-8.

    attrs  keras_version     the Keras release whose layout this is; pynn's files add pynn_version
           backend           "pynn" in pynn's files (Keras writes its backend's name; neither side reads it)
           model_config      JSON {"class_name": "Sequential", "config": model.get_config()}, with Keras's module
                             names ("keras.layers", "keras.initializers", ...) for pynn's own classes
           training_config   JSON, for a compiled model: {"loss", "loss_weights", "metrics", "weighted_metrics",
                             "optimizer_config": {"class_name", "config"}, ...}
    model_weights/           attrs layer_names (model.layers in Keras's order), keras_version, backend
        <layer name>/        attrs weight_names; the datasets at those paths ("dense/kernel", ...), in Keras's
                             legacy order: a layer's trainable weights, then the others (a model used as a
                             layer is one group holding all its weights)
        top_level_model_weights/   empty (a pynn model has no weights of its own)
    optimizer_weights/       once the optimizer has state: attrs weight_names "<optimizer>/iteration",
                             "<optimizer>/learning_rate", then the slots of each trained weight in Keras's order,
                             "<optimizer>/<layer>_<weight>_<slot>" (momentum, velocity, ...)

The configs are converted both ways by keras_compat (module names, DTypePolicy objects, InputLayer's
batch_shape, Keras-only options at their neutral values); loss aliases such as "mse", which Keras 3.15 does not
read back from an .h5 file, are written in full ("mean_squared_error").

Layers are matched by name (a loaded model has the file's names), else by position among the layers with
weights, as Keras matches them; every array is checked (shape, dtype) before it is read, and nothing is
assigned until all are. The optimizer's step count and slots are restored when the file's optimizer_weights
are the compiled optimizer's (always for pynn's files; for Keras's when its optimizer keeps the same slots, as
Adam, SGD, RMSprop and Adagrad do); otherwise the optimizer starts fresh with a warning, as in Keras. (Keras 3
itself restores only the step count and learning rate from any .h5 file, pynn's or its own.) Unlike a `.keras`
file, an `.h5` file holds no random streams (Dropout's, the augmentation layers', pynn's global one):
training continued after loading repeats an uninterrupted run bit for bit only without them.

Loading never executes code (classes are resolved as for `.keras` files, serialization_lib), and a truncated,
corrupt or non-HDF5 file raises ValueError naming the file. Writing is atomic (file_utils.atomic_write).
"""
import contextlib
import json
import os
import warnings

import numpy as np

from pynn.saving import file_reading, file_utils, layer_matching, saving_lib, weights_io
from pynn.saving.keras_compat import (from_keras, full_loss_names, keras_layers, legacy_weights, to_keras,
                                      trained_weights)
from pynn.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

KERAS_VERSION = "3.15.1"   # the Keras release whose legacy layout is written
HEADER_LIMIT = 64512       # a list attribute longer than this is split (name0, name1, ...), as Keras splits it


def _h5py():
    return weights_io._h5py(".h5 model files", "a .keras file")


# ---------------------------------------------------------------------------------------------- saving
def save_model(model, filepath, overwrite=True):
    """Write the model (config, weights, compile arguments, optimizer state) to an .h5 file in Keras's layout."""
    filepath = os.fspath(filepath)
    h5py = _h5py()
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    list(file_utils.walk_layers(model))  # unique names without '/'
    attrs = _root_attrs(model)           # everything is gathered first: a model that cannot be saved leaves no file
    layers = [(layer.name, _named_weights(layer)) for layer in keras_layers(model)]
    optimizer = _optimizer_arrays(model, {id(v): name for _, named in layers for name, v in named})
    with file_utils.atomic_write(filepath) as file, h5py.File(file, "w") as h5:
        for key, value in attrs.items():
            h5.attrs[key] = value
        group = h5.create_group("model_weights")
        _write_names(group, "layer_names", [name for name, _ in layers])
        group.attrs["backend"], group.attrs["keras_version"] = b"pynn", KERAS_VERSION.encode()
        for name, weights in sorted(layers + [("top_level_model_weights", [])], key=lambda item: item[0]):
            _write_group(group.create_group(name), weights)
        if optimizer:
            _write_group(h5.create_group("optimizer_weights"), optimizer)


def _root_attrs(model):
    from pynn import __version__
    config = serialize_keras_object(model)
    attrs = {"keras_version": KERAS_VERSION, "backend": "pynn", "pynn_version": __version__,
             "model_config": _json({"class_name": config["registered_name"] or config["class_name"],
                                    "config": to_keras(config["config"])})}
    compiled = saving_lib.compile_config(model)
    if compiled:
        optimizer = compiled["optimizer"]
        attrs["training_config"] = _json({
            "loss": full_loss_names(to_keras(compiled["loss"])), "loss_weights": compiled["loss_weights"],
            "metrics": to_keras(compiled["metrics"]), "weighted_metrics": to_keras(compiled.get("weighted_metrics")),
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
            "optimizer_config": {"class_name": optimizer["registered_name"] or optimizer["class_name"],
                                 "config": to_keras(optimizer["config"])}})
    return attrs


def _json(document):
    return json.dumps(document).encode("utf-8")


def _write_group(group, named):
    """The weight_names attribute and one dataset per (name, Variable or array)."""
    _write_names(group, "weight_names", [name for name, _ in named])
    for name, value in named:
        group.create_dataset(name, data=value.numpy() if hasattr(value, "numpy") else np.asarray(value))


def _write_names(group, name, names):
    """A list of strings as an attribute, split in chunks below HDF5's header limit as Keras splits it."""
    data = np.asarray([n.encode("utf-8") for n in names])
    chunks = 1
    while any(part.nbytes > HEADER_LIMIT for part in np.array_split(data, chunks)):
        if chunks >= len(data):
            raise ValueError(f"the name {max(names, key=len)[:80]!r}... is too long for an HDF5 attribute")
        chunks += 1
    if chunks == 1:
        group.attrs[name] = data
    else:
        for i, part in enumerate(np.array_split(data, chunks)):
            group.attrs[f"{name}{i}"] = part


def _named_weights(layer):
    """[(dataset name, Variable)] of a layer's weights in Keras's legacy order; names "<layer>/<weight>"
    ("<model>/<layer>/<weight>" inside a model used as a layer), made unique."""
    paths = {}

    def label(item, prefix):
        if file_utils.is_model(item):
            for sub in item.layers:
                label(sub, f"{prefix}{item.name}/")
        for variable in item.weights:
            paths.setdefault(id(variable), f"{prefix}{item.name}/{str(variable.name).replace('/', '_')}")

    label(layer, "")
    named, seen = [], set()
    for variable in legacy_weights(layer):
        name, n = paths[id(variable)], 0
        while name in seen:
            n += 1
            name = f"{paths[id(variable)]}_{n}"
        seen.add(name)
        named.append((name, variable))
    return named


def _optimizer_arrays(model, names):
    """[(name, array)] of the optimizer's state in Keras's layout, or None when it has none (no step yet) or
    when pynn cannot write all of it (then with a warning: the file holds no optimizer state). `names`:
    {id(variable): its dataset name}."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not optimizer._slots and not optimizer.iterations:
        return None

    def without(why):
        warnings.warn(f"Model '{model.name}': {why}; the .h5 file holds no optimizer state, so training continued "
                      "from it starts with a fresh optimizer (a .keras file holds it all)")

    slots = slot_names(optimizer)
    if slots is None:
        return without(f"pynn cannot tell which slots a {type(optimizer).__name__} keeps")
    arrays = [(f"{optimizer.name}/iteration", np.asarray(optimizer.iterations, np.int64)),
              (f"{optimizer.name}/learning_rate", np.asarray(optimizer.learning_rate, np.float32))]
    for variable in trained_weights(model):
        for slot in slots:
            array = optimizer._slots.get((id(variable), slot))
            if array is None:
                return without(f"the optimizer has no {slot!r} slot for weight '{variable.name}' (it never had "
                               "a gradient)")
            arrays.append((f"{optimizer.name}/{names[id(variable)].replace('/', '_')}_{slot}", array))
    return arrays


def slot_names(optimizer):
    """The names of the slots the optimizer keeps per weight, in the order it makes them (found by one step
    of a fresh copy on a scratch weight); None when that cannot be done (an optimizer without from_config)."""
    from pynn.variable import Variable
    try:
        probe = type(optimizer).from_config(optimizer.get_config())
        probe.apply_gradients([(np.zeros(1, np.float32), Variable(np.zeros(1, np.float32), name="probe"))])
    except (TypeError, ValueError, KeyError, AttributeError, NotImplementedError):
        return None
    return [name for _, name in probe._slots]


# ---------------------------------------------------------------------------------------------- loading
@contextlib.contextmanager
def _reading(label):
    """h5py's errors on a damaged file as a ValueError naming it (ours, which start with the label, pass)."""
    try:
        yield
    except weights_io.H5_ERRORS as error:
        if isinstance(error, ValueError) and str(error).startswith(label):
            raise
        raise ValueError(f"{label}: not a readable HDF5 file, or a damaged one: {error}") from error


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model in an .h5 file written by model.save (pynn's or Keras's), compiled with its optimizer state when
    the file has a training_config (compile=False skips that). custom_objects: {name: class or function} for
    objects that were not registered. safe_mode is accepted for Keras compatibility: no code ever runs."""
    from pynn import random_state
    filepath = os.fspath(filepath)
    h5py = _h5py()
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_model: no such file: {filepath}")
    with _reading(filepath), h5py.File(filepath, "r") as h5:
        model_config = _json_attr(h5, "model_config", filepath)
        if model_config is None:
            raise ValueError(f"{filepath}: no model_config attribute, so it is not a model file (a weights file "
                             "such as model.save_weights writes?); build the model and call model.load_weights(path)")
        if not isinstance(model_config, dict) or not isinstance(model_config.get("config"), dict):
            raise ValueError(f"{filepath}: model_config does not describe a model ({{'class_name', 'config'}})")
        training_config = _json_attr(h5, "training_config", filepath) if compile else None
        saved_stream = dict(random_state._state)
        try:  # building runs the initializers: they must not move the global random stream
            model = _build_model(filepath, model_config, custom_objects)
        finally:
            random_state._state.update(saved_stream)
        plan = weights_plan(h5, filepath, model)
        if isinstance(training_config, dict):
            _compile(model, training_config, custom_objects, filepath)
            optimizer_plan = _optimizer_plan(h5, filepath, model)
        elif training_config is not None:
            raise ValueError(f"{filepath}: training_config is not a JSON object")
        else:
            optimizer_plan = None
    layer_matching.assign(plan)
    if optimizer_plan is not None:
        iterations, slots = optimizer_plan
        for variable, name, array in slots:
            model.optimizer.add_slot(variable, name)[...] = array
        model.optimizer.iterations = iterations
    return model


def _json_attr(h5, name, label):
    """The JSON document in a root attribute, or None without it."""
    raw = h5.attrs.get(name)
    if raw is None:
        return None
    if isinstance(raw, np.ndarray) and raw.shape == ():
        raw = raw[()]
    if not isinstance(raw, (bytes, str)):
        raise ValueError(f"{label}: the {name} attribute is not a JSON string (got {type(raw).__name__})")
    return file_reading.parse_json(raw, f"{label}: {name}")


def _build_model(filepath, config, custom_objects):
    try:
        model = deserialize_keras_object(from_keras(config), custom_objects)
        if not hasattr(model, "layers") or not hasattr(model, "compile"):
            raise ValueError(f"it describes a {type(model).__name__}, not a model")
        list(file_utils.walk_layers(model))
    except saving_lib.CONFIG_ERRORS as error:
        raise ValueError(f"{filepath}: model_config: {error}") from error
    return model


def _compile(model, training_config, custom_objects, filepath):
    from pynn import losses, metrics
    try:
        optimizer = training_config.get("optimizer_config")
        if not isinstance(optimizer, dict):
            raise ValueError("no optimizer_config")
        optimizer = deserialize_keras_object(from_keras({"module": "keras.optimizers", **optimizer}), custom_objects)
        nested = saving_lib._deserialize_nested
        model.compile(optimizer=optimizer,
                      loss=nested(from_keras(training_config.get("loss")), custom_objects, vars(losses)),
                      loss_weights=training_config.get("loss_weights"),
                      metrics=nested(from_keras(training_config.get("metrics")), custom_objects, vars(metrics)),
                      weighted_metrics=nested(from_keras(training_config.get("weighted_metrics")), custom_objects,
                                              vars(metrics)))
    except saving_lib.CONFIG_ERRORS as error:
        raise ValueError(f"{filepath}: training_config: {error}") from error


def _read_names(group, name, label):
    """A list-of-strings attribute (joined from its chunks name0, name1, ... when it was split)."""
    attrs = group.attrs
    if name in attrs:
        parts = [attrs[name]]
    else:
        parts, i = [], 0
        while f"{name}{i}" in attrs:
            parts.append(attrs[f"{name}{i}"])
            i += 1
    names = []
    for part in parts:
        part = np.asarray(part)
        if part.ndim != 1 or part.size and part.dtype.kind not in "SUO":
            raise ValueError(f"{label}: the {name} attribute of '{group.name}' is not a list of strings")
        for item in part:
            item = item.decode("utf-8") if isinstance(item, bytes) else item
            if not isinstance(item, str) or not item:
                raise ValueError(f"{label}: the {name} attribute of '{group.name}' holds {item!r:.40}, not a name")
            names.append(item)
    return names


def _datasets(group, names, label):
    h5py = _h5py()
    found = [group.get(name) for name in names]
    for name, dataset in zip(names, found):
        if not isinstance(dataset, h5py.Dataset):
            raise ValueError(f"{label}: '{group.name}' lists the weight {name!r}, which is missing from the file "
                             "(the file is incomplete or was edited)")
    return found


def is_legacy_file(filepath):
    """Whether an .h5 file has the legacy layout (model_weights, or Keras 2's layer_names at the root)."""
    h5py = _h5py()
    try:
        with h5py.File(filepath, "r") as h5:
            return "model_weights" in h5 or "layer_names" in h5.attrs
    except weights_io.H5_ERRORS:
        return False  # the reader of the other layout reports it


def load_weights(model, filepath, skip_mismatch=False):
    """[(variable, array)] for model.load_weights of a legacy .h5 file (checked, nothing assigned yet)."""
    h5py = _h5py()
    with _reading(filepath), h5py.File(filepath, "r") as h5:
        return weights_plan(h5, filepath, model, skip_mismatch)


def weights_plan(h5, label, model, skip_mismatch=False):
    """[(variable, array)] for the model's weights from the file's model_weights group, every array checked
    before it is read: layers matched by name, else by position among those with weights."""
    h5py = _h5py()
    with _reading(label):
        group = h5.get("model_weights", h5)
        theirs = {}
        for name in _read_names(group, "layer_names", label):
            layer_group = group.get(name)
            if not isinstance(layer_group, h5py.Group):
                raise ValueError(f"{label}: layer_names lists {name!r}, which has no group in the file")
            datasets = _datasets(layer_group, _read_names(layer_group, "weight_names", label), label)
            if datasets:
                theirs[name] = datasets
        top = group.get("top_level_model_weights")
        if isinstance(top, h5py.Group) and _read_names(top, "weight_names", label):
            raise ValueError(f"{label}: the file holds weights of the model itself (top_level_model_weights), "
                             "which pynn models do not have")
        mine = [(layer, legacy_weights(layer)) for layer in keras_layers(model)]
        mine = [(layer, weights) for layer, weights in mine if weights]
        if all(layer.name in theirs for layer, _ in mine):
            pairs = [(layer, weights, layer.name) for layer, weights in mine]
            extra = [name for name in theirs if name not in {layer.name for layer, _ in mine}]
            if extra:
                layer_matching.refuse(f"{label}: weights for layers the model does not have: {extra[:5]}",
                                      skip_mismatch)
        else:
            if len(theirs) != len(mine):
                layer_matching.refuse(
                    f"{label}: the model has {len(mine)} layers with weights ({[l.name for l, _ in mine][:6]}), "
                    f"the file {len(theirs)} ({list(theirs)[:6]}); as their names differ too, they are matched "
                    "by position, which needs the same layers in the same order", skip_mismatch)
            pairs = [(layer, weights, name) for (layer, weights), name in zip(mine, theirs)]
        plan = []
        for layer, weights, name in pairs:
            arrays = _layer_arrays(label, layer, weights, name, theirs[name], skip_mismatch)
            plan.extend(zip(weights, arrays or []))
    return plan


def _layer_arrays(label, layer, weights, name, datasets, skip_mismatch):
    where = f"layer {layer.name!r}" + ("" if name == layer.name else f" (matched with the file's {name!r})")
    if len(datasets) != len(weights):
        return layer_matching.refuse(f"{label}: {where} ({type(layer).__name__}) has {len(weights)} weights, the "
                                     f"file has {len(datasets)}", skip_mismatch)
    for variable, dataset in zip(weights, datasets):
        problem = file_reading.check_weight(variable, dataset)  # before reading: the shape is the header's
        if problem:
            return layer_matching.refuse(f"{label}: weight {variable.name!r} of {where} {problem}", skip_mismatch)
    return [dataset[()] for dataset in datasets]


def _optimizer_plan(h5, label, model):
    """(step count, [(variable, slot name, array)]) from optimizer_weights, or None (none in the file, or
    state for another optimizer: then with a warning, and the optimizer starts fresh)."""
    group = h5.get("optimizer_weights")
    if group is None:
        return None
    names = _read_names(group, "weight_names", label)
    datasets = _datasets(group, names, label)
    optimizer = model.optimizer

    def fresh(why):
        warnings.warn(f"{label}: the optimizer's state was not restored ({why}); the optimizer starts fresh")

    if len(names) < 2 or not names[0].endswith("iteration") or not names[1].endswith("learning_rate"):
        return fresh("optimizer_weights does not start with the step count and the learning rate")
    iterations = datasets[0]
    if iterations.shape != () or iterations.dtype.kind not in "iu" or int(iterations[()]) < 0:
        raise ValueError(f"{label}: {names[0]} must hold the optimizer's step count, a non-negative integer "
                         f"scalar; it holds {iterations.dtype} of shape {iterations.shape}")
    slots, trained = slot_names(optimizer), trained_weights(model)
    entries = list(zip(names[2:], datasets[2:]))
    if not entries and int(iterations[()]) == 0:
        return None  # compiled, never trained (Keras writes the step count and learning rate alone)
    if slots is None:
        return fresh(f"pynn cannot tell which slots a {type(optimizer).__name__} keeps")
    if len(entries) != len(trained) * len(slots):
        return fresh(f"the file has {len(entries)} slot arrays, a {type(optimizer).__name__} keeps {len(slots)} "
                     f"({', '.join(slots)}) for each of the {len(trained)} trained weights")
    plan = []
    for i, variable in enumerate(trained):
        for j, slot in enumerate(slots):
            name, dataset = entries[i * len(slots) + j]
            problem = None if name.endswith("_" + slot) else f"is not a {slot!r} slot"
            problem = problem or file_reading.check_weight(variable, dataset)
            if problem:
                return fresh(f"{name!r}, for weight '{variable.name}', {problem}")
            plan.append((variable, slot, dataset[()]))
    return int(iterations[()]), plan
