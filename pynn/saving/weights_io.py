"""save_weights / load_weights: `.weights.h5` in Keras 3's layout, `.weights.npz`, and Keras `.keras` files.

`.weights.h5` (needs the optional h5py: `pip install "pynn[h5]"`) is laid out as Keras 3 lays it out, so that
Keras reads pynn's files and pynn reads Keras's:

    vars                                   (attrs: name = the model's name)
    layers/<key>/vars/0, 1, ...            a layer's weights, in Keras's order (= pynn's layer.weights)
    layers/<key>/cell/vars/0, 1, 2         SimpleRNN / LSTM / GRU: kernel, recurrent_kernel, bias
    layers/<key>/forward_layer/cell/vars/  Bidirectional (and backward_layer/...)
    layers/<key>/layer/vars/               TimeDistributed
    layers/<key>/layers/<key>/vars/        a model used as a layer

where <key> is the snake-case class name, numbered by order of appearance among the layers of the same class
in the same model: dense, dense_1, conv2d, ... (the layers' own names are only stored as the `name`
attribute). Weights are matched by position in the model, as Keras does, so the pynn model must have the
same layers in the same order as the Keras one; their names may differ. Keras's and pynn's weight layouts
are the same for every layer (keras-parity.md), so no array is converted.

Layers covered when reading Keras files: every pynn layer with weights, i.e. Dense, Conv1D, Conv2D,
DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, BatchNormalization, Embedding, PReLU, SimpleRNN, LSTM, GRU
(reset_after True or False), Bidirectional and TimeDistributed around them, and Sequential / functional models
nested as layers; weightless layers (pooling, reshaping, activations, dropout, ...) need no data.
A Keras `.keras` file is a zip whose `model.weights.h5` member has this layout; load_weights reads it too.

`.weights.npz` (NumPy only): one array per weight, named "<layer path>/<i>" (e.g. "dense/0" for Dense's
kernel, "encoder/dense/1" inside a nested model), read with allow_pickle=False.
"""
import io
import os
import re
import warnings
import zipfile

import numpy as np

from pynn.saving import file_utils


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading or writing .weights.h5 files needs the h5py package, which is not installed. "
                          "Install it with `pip install h5py` (or `pip install \"pynn[h5]\"`), or use a "
                          ".weights.npz file instead") from None
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
def load_weights(model, filepath, skip_mismatch=False):
    """Read weights saved by save_weights, model.save, or Keras (`.weights.h5`, `.keras`) into the model,
    which must have the same layers in the same order (and be built). skip_mismatch=True leaves layers whose
    weights are missing or of another shape as they are, with a warning, instead of raising ValueError."""
    filepath = os.fspath(filepath)
    kind = _kind(filepath)
    if kind is None:
        raise ValueError(f"load_weights: expected a '.weights.h5', '.weights.npz' or '.keras' file, got {filepath!r}")
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_weights: no such file: {filepath}")
    if not all(layer.built for layer in model.layers):
        raise ValueError(f"load_weights: model '{model.name}' is not built; build it (model.build(input_shape) or "
                         "an Input layer) before loading weights")
    if kind == "h5":
        h5py = _h5py()
        try:
            h5 = h5py.File(filepath, "r")
        except OSError as error:
            raise ValueError(f"{filepath}: not a readable HDF5 file: {error}") from None
        with h5:
            _load_keras_h5(model, h5, filepath, skip_mismatch)
    elif kind == "npz":
        _load_npz(model, filepath, skip_mismatch)
    else:
        _load_keras_file(model, filepath, skip_mismatch)


def _assign(layer_label, variables, arrays, filepath, skip_mismatch):
    for variable, array in zip(variables, arrays):
        if array.shape != variable.shape:
            message = (f"{filepath}: weight {variable.name!r} of layer {layer_label!r} has shape {array.shape} in "
                       f"the file, but the model's is {variable.shape}")
            if skip_mismatch:
                warnings.warn(message + "; skipped (skip_mismatch=True)")
                return
            raise ValueError(message)
    for variable, array in zip(variables, arrays):
        variable.assign(np.asarray(array))


def _load_npz(model, filepath, skip_mismatch):
    try:
        data = np.load(filepath, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{filepath}: not a readable .npz file: {error}") from None
    with data:
        keys = set(data.files)
        used = set()
        for path, layer in file_utils.walk_layers(model):
            names = [f"{path}/{i}" for i in range(len(layer.weights))]
            missing = [name for name in names if name not in keys]
            if missing:
                message = f"{filepath}: no weights for layer {path!r} (missing {missing})"
                if skip_mismatch:
                    warnings.warn(message + "; skipped (skip_mismatch=True)")
                    continue
                raise ValueError(message)
            try:
                arrays = [data[name] for name in names]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
                raise ValueError(f"{filepath}: the weights of layer {path!r} are corrupt: {error}") from None
            used.update(names)
            _assign(path, layer.weights, arrays, filepath, skip_mismatch)
        extra = sorted(keys - used)
        if extra and not skip_mismatch:
            raise ValueError(f"{filepath}: weights for layers the model does not have: {extra[:5]}")


def _load_keras_file(model, filepath, skip_mismatch):
    from pynn.saving import saving_lib
    with saving_lib._open_archive(filepath) as archive:
        metadata = saving_lib._read_json(archive, filepath, "metadata.json")
        if isinstance(metadata, dict) and metadata.get("format") == saving_lib.FORMAT_NAME:
            saving_lib.check_metadata(metadata, filepath)
            saving_lib._load_weights(archive, filepath, model)
            return
        if not isinstance(metadata, dict) or "keras_version" not in metadata:
            raise ValueError(f"{filepath}: metadata.json names neither pynn's format nor a Keras version")
        data = saving_lib.read_member(archive, filepath, "model.weights.h5")
    h5py = _h5py()
    try:
        h5 = h5py.File(io.BytesIO(data), "r")
    except OSError as error:
        raise ValueError(f"{filepath}: model.weights.h5 is not a readable HDF5 file: {error}") from None
    with h5:
        _load_keras_h5(model, h5, filepath, skip_mismatch)


def _load_keras_h5(model, h5, filepath, skip_mismatch):
    used = set()
    for path, variables, name in keras_entries(model):
        if not variables:
            continue
        group_path = f"{path}/vars"
        group = h5.get(group_path)
        if group is None or len(group) != len(variables) or any(str(i) not in group for i in range(len(variables))):
            found = 0 if group is None else len(group)
            message = (f"{filepath}: layer {name!r} expects {len(variables)} weights at '{group_path}', the file "
                       f"has {found} there (the Keras model must have the same layers in the same order)")
            if skip_mismatch:
                warnings.warn(message + "; skipped (skip_mismatch=True)")
                continue
            raise ValueError(message)
        try:
            arrays = [np.asarray(group[str(i)]) for i in range(len(variables))]
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f"{filepath}: the weights at '{group_path}' are unreadable: {error}") from None
        used.add(group_path)
        _assign(name, variables, arrays, filepath, skip_mismatch)
    if not skip_mismatch:
        extra = []

        def visit(group_name, obj):
            if group_name.endswith("vars") and len(obj) and group_name not in used and \
                    group_name.startswith("layers/"):
                extra.append(group_name)
        h5.visititems(lambda group_name, obj: visit(group_name, obj) if hasattr(obj, "keys") else None)
        if extra:
            raise ValueError(f"{filepath}: the file has weights for layers this model does not have: {extra[:5]} "
                             "(the Keras model must have the same layers in the same order)")


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
    else:
        yield path, layer.weights, layer.name
