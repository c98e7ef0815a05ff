"""save_weights / load_weights: `.weights.h5` in Keras 3's layout, `.weights.npz`, and Keras `.keras` files.

`.weights.h5` (needs the optional h5py: `pip install "pynn[h5]"`) is laid out as Keras 3 lays it out, so that
Keras reads pynn's files and pynn reads Keras's:

    vars                                   (attrs: name = the model's name)
    layers/<key>/vars/0, 1, ...            a layer's weights, in Keras's order (= pynn's layer.weights)
    layers/<key>/cell/vars/0, 1, 2         SimpleRNN / LSTM / GRU: kernel, recurrent_kernel, bias
    layers/<key>/forward_layer/cell/vars/  Bidirectional (and backward_layer/...)
    layers/<key>/layer/vars/               TimeDistributed
    layers/<key>/query_dense/vars/0, 1     MultiHeadAttention (and key_dense, value_dense, output_dense):
                                           kernel, bias of each projection (MultiHeadAttention.keras_weight_groups)
    layers/<key>/layers/<key>/vars/        a model used as a layer

where <key> is the snake-case class name, numbered by order of appearance among the layers of the same class
in the same model: dense, dense_1, conv2d, ... (the layers' own names are only stored as the `name`
attribute). Weights are matched by position in the model, as Keras does, so the pynn model must have the
same layers in the same order as the Keras one; their names may differ. Keras's and pynn's weight layouts
are the same for every layer (pynn keeps Keras 3's weight layouts and gate orders), so no array is converted.

Layers covered when reading Keras files: every pynn layer with weights, i.e. Dense, Conv1D, Conv2D,
DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, BatchNormalization, Embedding, PReLU, SimpleRNN, LSTM, GRU
(reset_after True or False), Bidirectional and TimeDistributed around them, MultiHeadAttention, Attention,
AdditiveAttention, LayerNormalization, and Sequential / functional models nested as layers; weightless layers
(pooling, reshaping, activations, dropout, ...) need no data.
A Keras `.keras` file is a zip whose `model.weights.h5` member has this layout; load_weights reads it too.

`.weights.npz` (NumPy only): one array per weight, named "<layer path>/<i>" (e.g. "dense/0" for Dense's
kernel, "encoder/dense/1" inside a nested model), matched to the model's layers by name, else by position
(layer_matching). Its arrays, like those of a `.keras` file, are read by file_reading (no pickles).

Loading is all or nothing: every array is read and checked before any weight is assigned.
"""
import io
import os
import re

import numpy as np

from pynn.saving import file_reading, file_utils, layer_matching


def _h5py(files=".weights.h5 files", instead="a .weights.npz file"):
    try:
        import h5py
    except ImportError:
        raise ImportError(f"Reading or writing {files} needs the h5py package, which is not installed. "
                          "Install it with `pip install h5py` (or `pip install \"pynn[h5]\"`), or use "
                          f"{instead} instead") from None
    return h5py


def _kind(filepath):
    if filepath.endswith(".h5"):
        return "h5"
    if filepath.endswith(".npz"):
        return "npz"
    if filepath.endswith(".keras"):
        return "keras"
    return None


# ---------------------------------------------------------------------------------------------- saving
def save_weights(model, filepath, overwrite=True):
    """Write the model's weights to `filepath` (`.weights.h5` or `.weights.npz`), atomically."""
    filepath = os.fspath(filepath)
    kind = _kind(filepath)
    if kind not in ("h5", "npz"):
        raise ValueError(f"save_weights: the filename must end in '.weights.h5' (Keras 3's format, needs h5py) or "
                         f"'.weights.npz' (NumPy); got {filepath!r}")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    if kind == "h5":
        h5py = _h5py()
        with file_utils.atomic_write(filepath) as file:
            with h5py.File(file, "w") as h5:
                h5.create_group("vars").attrs["name"] = model.name
                for path, variables, name in keras_entries(model):
                    group = h5.require_group(path).create_group("vars")
                    group.attrs["name"] = name
                    for i, variable in enumerate(variables):
                        group.create_dataset(str(i), data=variable.numpy())
    else:
        arrays = {f"{path}/{i}": variable.numpy() for path, layer in file_utils.walk_layers(model)
                  for i, variable in enumerate(layer.weights)}
        with file_utils.atomic_write(filepath) as file:
            np.savez(file, **arrays)


# ---------------------------------------------------------------------------------------------- loading
# What h5py raises on a damaged HDF5 file (bad addresses, B-tree or heap errors, objects past the end).
H5_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError, OverflowError)


def load_weights(model, filepath, skip_mismatch=False):
    """Read weights saved by save_weights, model.save, or Keras (`.weights.h5`, `.keras`, legacy `.h5` /
    `.hdf5`: legacy_h5) into the model, which must be built and have the same layers in the same order (pynn's
    files match layers by name first, see layer_matching). skip_mismatch=True leaves layers whose weights are
    missing or of another shape as they are, with a warning, instead of raising ValueError.

    All or nothing: every array is read and checked before any weight is assigned, so a ValueError (a
    truncated, corrupt or edited file, another structure) leaves all of the model's weights as they were.
    """
    filepath = os.fspath(filepath)
    kind = "h5" if filepath.endswith(".hdf5") else _kind(filepath)
    if kind is None:
        raise ValueError(f"load_weights: expected a '.weights.h5', '.weights.npz' or '.keras' file, got {filepath!r}")
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_weights: no such file: {filepath}")
    if not all(layer.built for layer in model.layers):
        raise ValueError(f"load_weights: model '{model.name}' is not built; build it (model.build(input_shape) or "
                         "an Input layer) before loading weights")
    if kind == "h5":
        from pynn.saving import legacy_h5
        if legacy_h5.is_legacy_file(filepath):  # model.save("x.h5"), Keras 2's save_weights("x.h5")
            plan = legacy_h5.load_weights(model, filepath, skip_mismatch)
        else:
            plan = _keras_h5_plan(model, filepath, filepath, skip_mismatch)
    elif kind == "npz":
        with file_reading.open_zip(filepath, ".weights.npz") as archive:
            plan = layer_matching.plan_by_layer(model, filepath, archive.namelist(), "", ".npy",
                                                lambda name: file_reading.read_npy(archive, filepath, name),
                                                skip_mismatch=skip_mismatch)
    else:
        plan = _keras_file_plan(model, filepath, skip_mismatch)
    layer_matching.assign(plan)


def _keras_file_plan(model, filepath, skip_mismatch):
    from pynn.saving import saving_lib
    with file_reading.open_zip(filepath) as archive:
        metadata = file_reading.read_json(archive, filepath, "metadata.json")
        if isinstance(metadata, dict) and metadata.get("format") == saving_lib.FORMAT_NAME:
            saving_lib.check_metadata(metadata, filepath)
            classes = layer_matching.layer_classes(file_reading.read_json(archive, filepath, "config.json"))
            return layer_matching.plan_by_layer(model, filepath, archive.namelist(), "weights/", ".npy",
                                                lambda name: file_reading.read_npy(archive, filepath, name),
                                                classes, skip_mismatch)
        if not isinstance(metadata, dict) or "keras_version" not in metadata:
            raise ValueError(f"{filepath}: metadata.json names neither pynn's format nor a Keras version")
        data = file_reading.read_member(archive, filepath, "model.weights.h5")
    return _keras_h5_plan(model, io.BytesIO(data), f"{filepath}: model.weights.h5", skip_mismatch)


def _keras_h5_plan(model, file, label, skip_mismatch):
    """[(variable, array)] from an HDF5 file in Keras 3's layout (a path or an open binary file), every array
    checked before it is read. `label` names the file in errors."""
    h5py = _h5py()
    plan, used = [], set()
    try:
        with h5py.File(file, "r") as h5:
            for path, variables, name in keras_entries(model):
                if variables:
                    arrays = _h5_layer(h5, f"{path}/vars", variables, name, label, skip_mismatch)
                    used.add(f"{path}/vars")
                    plan.extend(zip(variables, arrays or []))
            extra = [] if skip_mismatch else _h5_weight_groups(h5, used)
    except H5_ERRORS as error:
        if isinstance(error, ValueError) and str(error).startswith(label):
            raise  # ours (another structure), not h5py's
        raise ValueError(f"{label}: not a readable HDF5 file, or a damaged one: {error}") from error
    if extra:
        raise ValueError(f"{label}: the file has weights for layers this model does not have: {extra[:5]} "
                         "(the Keras model must have the same layers in the same order)")
    return plan


def _h5_layer(h5, group_path, variables, name, label, skip_mismatch):
    """The checked arrays of one layer's weights, or None when skip_mismatch skips the layer."""
    h5py = _h5py()
    group = h5.get(group_path)
    datasets = [] if not isinstance(group, h5py.Group) else [group.get(str(i)) for i in range(len(variables))]
    if len(datasets) != len(variables) or len(group) != len(variables) or \
            not all(isinstance(dataset, h5py.Dataset) for dataset in datasets):
        found = len(group) if isinstance(group, h5py.Group) else 0
        return layer_matching.refuse(
            f"{label}: layer {name!r} expects {len(variables)} weights at '{group_path}', the file has {found} "
            "there (the Keras model must have the same layers in the same order)", skip_mismatch)
    for variable, dataset in zip(variables, datasets):
        problem = file_reading.check_weight(variable, dataset)  # before reading: the shape is the header's
        if problem:
            return layer_matching.refuse(f"{label}: weight {variable.name!r} of layer {name!r} {problem}",
                                         skip_mismatch)
    return [dataset[()] for dataset in datasets]


def _h5_weight_groups(h5, used):
    """The paths of the file's non-empty layers/.../vars groups that are not in `used`."""
    extra = []

    def visit(name, obj):
        if name.startswith("layers/") and name.endswith("vars") and hasattr(obj, "keys") and len(obj) and \
                name not in used:
            extra.append(name)
    h5.visititems(visit)
    return extra


# ---------------------------------------------------------------------------------------------- Keras's paths
def keras_snake_case(name):
    """Keras's naming.to_snake_case: 'Dense' -> 'dense', 'PReLU' -> 'p_re_lu', 'SimpleRNN' -> 'simple_rnn'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _keras_class_key(layer):
    if file_utils.is_model(layer) and type(layer).__name__ in ("Model", "Functional"):
        return "functional"  # Keras's class of Model(inputs, outputs)
    return keras_snake_case(type(layer).__name__)


def keras_entries(model, prefix=""):
    """(h5 group path, [Variables], name) for every saveable of the model, in Keras 3's layout."""
    counters = {}
    for layer in model.layers:
        key = _keras_class_key(layer)
        if key in counters:
            counters[key] += 1
            key = f"{key}_{counters[key]}"
        else:
            counters[key] = 0
        yield from _layer_entries(layer, f"{prefix}layers/{key}")


def _layer_entries(layer, path):
    from pynn.layers import Bidirectional, RNNBase, TimeDistributed
    if file_utils.is_model(layer):
        yield path, [], layer.name
        yield from keras_entries(layer, path + "/")
    elif isinstance(layer, Bidirectional):
        yield path, [], layer.name
        yield from _layer_entries(layer.forward_layer, path + "/forward_layer")
        yield from _layer_entries(layer.backward_layer, path + "/backward_layer")
    elif isinstance(layer, TimeDistributed):
        yield path, [], layer.name
        yield from _layer_entries(layer.layer, path + "/layer")
    elif isinstance(layer, RNNBase):
        yield path, [], layer.name
        yield path + "/cell", layer.weights, keras_snake_case(type(layer).__name__) + "_cell"
    elif hasattr(layer, "keras_weight_groups"):   # MultiHeadAttention: one group per projection sublayer
        yield path, [], layer.name
        for group, variables in layer.keras_weight_groups():
            yield f"{path}/{group}", variables, variables[0].name.split("/")[0] if variables else group
    else:
        yield path, layer.weights, layer.name
