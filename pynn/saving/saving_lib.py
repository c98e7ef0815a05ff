"""model.save(path) / load_model(path): pynn's `.keras` file, a zip that opens without pynn.

Members of the zip (JSON is UTF-8; every array is a `.npy` file that `numpy.load(f, allow_pickle=False)` reads):

    metadata.json     {"format": "pynn", "format_version": 1, "pynn_version": "0.1.0", "date_saved": "..."}
    config.json       the model as serialize_keras_object gives it: {"module", "class_name", "config",
                      "registered_name"}, plus "compile_config" (optimizer, loss, metrics and loss_weights, each
                      serialized; null when the model was not compiled) and "build_config" ({"input_shape"})
    weights/<layer>/<i>.npy
                      the i-th weight of each layer, in the order of layer.weights (e.g. weights/dense/0.npy is
                      Dense's kernel, weights/dense/1.npy its bias); a model used as a layer contributes
                      weights/<model>/<layer>/<i>.npy
    optimizer/iterations.npy
                      the optimizer's step count (int64 scalar)
    optimizer/<layer>/<i>/<slot>.npy
                      the optimizer's slots (momentum, velocity, ...) of weight i of that layer
    state.json        {"optimizer": {"variables": [{"path": "dense/0", "slots": ["momentum", "velocity"]}, ...]}
                      in the order of the trained variables, "layers": {"<layer>": random-stream state of the
                      layers that own one (Dropout, the augmentation layers)}, "random_state": pynn's global
                      random stream}

Loading never executes code: the JSON names classes, which are looked up among pynn's own and the registered
ones (serialization_lib), and arrays are parsed by file_reading (numbers only, never unpickled). load_model
restores the weights, the compiled optimizer with its state, the layers' random streams and pynn's global
random stream (the next seed it hands out), so that `fit` continued after loading gives the same weights,
bit for bit, as the run that was never interrupted. Building the loaded model does not draw from the global
stream. Every problem of a damaged or edited file is a ValueError naming the file (file_reading).

Writing is atomic (file_utils.atomic_write): a failure mid-save leaves the previous file as it was.
"""
import datetime
import json
import os
import time
import zipfile

import numpy as np

from pynn.saving import file_reading, file_utils, layer_matching
from pynn.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

FORMAT_NAME = "pynn"
FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------------------- saving
def save_model(model, filepath, overwrite=True):
    """Write model (architecture, weights, compile state, optimizer state, random streams) to a .keras file
    (to Keras's legacy HDF5 layout for a name ending in .h5 or .hdf5: legacy_h5)."""
    filepath = os.fspath(filepath)
    if filepath.endswith((".h5", ".hdf5")):
        from pynn.saving import legacy_h5
        return legacy_h5.save_model(model, filepath, overwrite=overwrite)
    if not filepath.endswith(".keras"):
        raise ValueError(f"Invalid filepath extension for saving: {filepath!r}. A model is saved to a file "
                         "ending in '.keras' (or '.h5' for Keras's legacy HDF5 layout; weights only: "
                         "model.save_weights('....weights.h5' or '.weights.npz'))")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    from pynn import __version__, random_state

    config = serialize_keras_object(model)
    config["compile_config"] = compile_config(model)
    config["build_config"] = _build_config(model)
    metadata = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "pynn_version": __version__,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    state = {"optimizer": None, "layers": {},
             "random_state": {"seed": random_state._state["seed"], "counter": random_state._state["counter"]}}
    layers = list(file_utils.walk_layers(model))
    with file_utils.atomic_write(filepath) as file, zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata, indent=2))
        archive.writestr("config.json", json.dumps(config, indent=2))
        paths = {}
        for path, layer in layers:
            for i, variable in enumerate(layer.weights):
                _write_array(archive, f"weights/{path}/{i}.npy", variable.numpy())
                paths[id(variable)] = f"{path}/{i}"
            for rng_path, rng_layer in file_utils.rng_layers(layer, path):
                state["layers"][rng_path] = rng_layer.get_rng_state()
        if getattr(model, "optimizer", None) is not None:
            state["optimizer"] = _write_optimizer(archive, model, paths)
        archive.writestr("state.json", json.dumps(state, indent=2))


def _write_array(archive, name, array):
    """One .npy member; stored as it is, or deflated when at least half of it is zeros (a pruned weight:
    an 80%-sparse float32 matrix deflates to about a quarter of its size, dense weights hardly at all)."""
    array = np.asarray(array, order="C")
    info = zipfile.ZipInfo(name, date_time=time.localtime(time.time())[:6])
    info.external_attr = 0o600 << 16       # as ZipFile.open(name, "w") makes it
    if array.size >= 1024 and np.count_nonzero(array) * 2 <= array.size:
        info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w") as member:
        np.save(member, array, allow_pickle=False)


def _write_optimizer(archive, model, paths):
    optimizer = model.optimizer
    _write_array(archive, "optimizer/iterations.npy", np.asarray(optimizer.iterations, dtype=np.int64))
    trained = getattr(model, "_variables_to_train", None) or model.trainable_weights
    slot_names = {}
    for (variable_id, name) in optimizer._slots:
        slot_names.setdefault(variable_id, []).append(name)
    manifest = []
    for variable in trained:
        path = paths.get(id(variable))
        if path is None:
            continue
        names = slot_names.get(id(variable), [])
        for name in names:
            _write_array(archive, f"optimizer/{path}/{name}.npy", optimizer._slots[(id(variable), name)])
        manifest.append({"path": path, "slots": names})
    return {"variables": manifest}


def compile_config(model):
    """The arguments model.compile received, serialized (the optimizer as it is now), or None."""
    args = getattr(model, "_compile_args", None)
    if args is None or getattr(model, "optimizer", None) is None:
        return None
    try:
        return {"optimizer": serialize_keras_object(model.optimizer),
                "loss": serialize_keras_object(args.get("loss")),
                "loss_weights": serialize_keras_object(args.get("loss_weights")),
                "metrics": serialize_keras_object(args.get("metrics")),
                "weighted_metrics": serialize_keras_object(args.get("weighted_metrics"))}
    except ValueError as error:
        raise ValueError(f"Model '{model.name}': cannot save its compile arguments: {error}") from None


def _build_config(model):
    shape = getattr(model, "input_shape", None)
    keys = getattr(model, "_input_keys", None)
    if shape is not None and keys is not None:       # a subclassed model called on a dict: shapes by key
        shape = dict(zip(keys, shape))
    return None if shape is None else {"input_shape": serialize_keras_object(shape)}


# ---------------------------------------------------------------------------------------------- loading
# What pynn's from_config, constructors, build and compile raise for arguments a hand-edited config can hold
# (a string for a number, a list for a dict, a missing key, a layer too large to allocate); loading reports
# them as ValueError naming the file, with the original as its cause.
CONFIG_ERRORS = (ValueError, TypeError, KeyError, MemoryError)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved in a .keras file by model.save (or in an .h5 / .hdf5 file: legacy_h5), compiled and with
    its optimizer state when it was compiled (compile=False skips that). custom_objects: {name: class or
    function} for objects that were not registered. safe_mode is accepted for Keras compatibility: loading is
    always safe (no code runs).

    Raises ValueError naming the file and the problem for a truncated, corrupt or hand-edited file, a file
    written by a newer pynn, or a class that is neither pynn's nor registered.
    """
    from pynn import random_state
    filepath = os.fspath(filepath)
    if filepath.endswith((".h5", ".hdf5")):
        from pynn.saving import legacy_h5
        return legacy_h5.load_model(filepath, custom_objects, compile, safe_mode)
    with file_reading.open_zip(filepath) as archive:
        check_metadata(file_reading.read_json(archive, filepath, "metadata.json"), filepath)
        config = file_reading.read_json(archive, filepath, "config.json")
        state = read_state(archive, filepath)
        if not isinstance(config, dict) or "class_name" not in config:
            raise ValueError(f"{filepath}: config.json does not describe a model (no 'class_name')")
        saved_stream = dict(random_state._state)
        try:  # building runs the initializers: they must not move the global random stream
            model = _build_model(filepath, config, custom_objects)
            layer_matching.assign(layer_matching.plan_by_layer(
                model, filepath, archive.namelist(), "weights/", ".npy",
                lambda name: file_reading.read_npy(archive, filepath, name)))
            saved_paths = layer_matching.file_paths(model, filepath, archive.namelist(), "weights/", ".npy")
            _load_layer_states(filepath, model, state["layers"], saved_paths)
            compile_cfg = config.get("compile_config")
            if compile and compile_cfg:
                _compile_from_config(model, compile_cfg, custom_objects, filepath)
                _load_optimizer(archive, filepath, model, state["optimizer"], saved_paths)
        finally:
            random_state._state.update(saved_stream)
        random_state._state.update(state["random_state"])
    return model


def check_metadata(metadata, filepath):
    if not isinstance(metadata, dict):
        raise ValueError(f"{filepath}: metadata.json is not a JSON object")
    if metadata.get("format") != FORMAT_NAME:
        if "keras_version" in metadata:
            raise ValueError(f"{filepath}: this is a Keras {metadata['keras_version']!s:.20} file, not a pynn model "
                             "file. Build the same model in pynn and call model.load_weights(path) to read its weights")
        raise ValueError(f"{filepath}: metadata.json does not name the pynn format")
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"{filepath}: metadata.json has no valid format_version (got {version!r:.40})")
    if version > FORMAT_VERSION:
        raise ValueError(f"{filepath}: saved in format version {version} by pynn {metadata.get('pynn_version')!s:.20}; "
                         f"this pynn reads format versions up to {FORMAT_VERSION}. Upgrade pynn to load it")


def _build_model(filepath, config, custom_objects):
    try:
        model = deserialize_keras_object(config, custom_objects)
        if not hasattr(model, "layers") or not hasattr(model, "compile"):
            raise ValueError(f"it describes a {type(model).__name__}, not a model")
        build_config = config.get("build_config") or {}
        if build_config.get("input_shape") is not None and not _is_built(model):
            model.build_from_config(build_config)
        list(file_utils.walk_layers(model))  # names the files can key weights by
    except CONFIG_ERRORS as error:
        raise ValueError(f"{filepath}: config.json: {error}") from error
    return model


def _is_built(model):
    layers = model.layers
    return bool(layers) and all(layer.built for layer in layers)


def read_state(archive, filepath):
    """state.json, checked: {"optimizer": None or {"variables": [{"path": str, "slots": [str]}]},
    "layers": {path: random-stream state}, "random_state": {} or {"seed": int, "counter": int}}."""
    state = file_reading.read_json(archive, filepath, "state.json")

    def expect(condition, what):
        if not condition:
            raise ValueError(f"{filepath}: state.json: {what}")

    expect(isinstance(state, dict), "not a JSON object")
    optimizer = state.get("optimizer")
    if optimizer is not None:
        expect(isinstance(optimizer, dict) and isinstance(optimizer.get("variables"), list),
               "'optimizer' must be null or an object with a 'variables' list")
        for entry in optimizer["variables"]:
            expect(isinstance(entry, dict) and isinstance(entry.get("path"), str) and
                   isinstance(entry.get("slots"), list) and all(isinstance(n, str) for n in entry["slots"]),
                   f"bad optimizer entry {entry!r:.80} (expected {{'path': str, 'slots': [str]}})")
    layers = state.get("layers") or {}
    expect(isinstance(layers, dict), "'layers' must be an object")
    stream = state.get("random_state") or {}
    expect(isinstance(stream, dict), "'random_state' must be an object")
    if stream.get("seed") is None:
        stream = {}
    else:
        stream = {"seed": stream["seed"], "counter": stream.get("counter")}
        expect(all(isinstance(v, int) and not isinstance(v, bool) for v in stream.values()) and
               0 <= stream["seed"] < 2 ** 64 and 0 <= stream["counter"] < 2 ** 32,
               f"'random_state' must hold a seed in [0, 2**64) and a counter in [0, 2**32), got {stream!r:.80}")
    return {"optimizer": optimizer, "layers": layers, "random_state": stream}


def _load_layer_states(filepath, model, layer_states, saved_paths=None):
    """The random streams' states; saved_paths: {layer path: the file's} where they differ (file_paths)."""
    for path, layer in file_utils.walk_layers(model):
        saved = (saved_paths or {}).get(path, path)
        for rng_path, rng_layer in file_utils.rng_layers(layer, saved):
            if rng_path in layer_states:
                try:
                    rng_layer.set_rng_state(layer_states[rng_path])
                except CONFIG_ERRORS as error:
                    raise ValueError(f"{filepath}: state.json: bad random state for layer '{rng_path}': "
                                     f"{error!r}") from error


def _compile_from_config(model, config, custom_objects, filepath):
    from pynn import losses, metrics
    try:
        optimizer = deserialize_keras_object(config["optimizer"], custom_objects)
        loss = _deserialize_nested(config.get("loss"), custom_objects, vars(losses))
        metric_list = _deserialize_nested(config.get("metrics"), custom_objects, vars(metrics))
        weighted = _deserialize_nested(config.get("weighted_metrics"), custom_objects, vars(metrics))
        model.compile(optimizer=optimizer, loss=loss, loss_weights=config.get("loss_weights"), metrics=metric_list,
                      weighted_metrics=weighted)
    except CONFIG_ERRORS as error:
        raise ValueError(f"{filepath}: compile_config: {error}") from error


def _deserialize_nested(value, custom_objects, module_objects):
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _deserialize_nested(v, custom_objects, module_objects) for k, v in value.items()}
    if isinstance(value, list):
        return [_deserialize_nested(v, custom_objects, module_objects) for v in value]
    return deserialize_keras_object(value, custom_objects, module_objects)


def _load_optimizer(archive, filepath, model, state, saved_paths=None):
    """The optimizer's step count and slots, all read and checked before any is set (keyed by the file's layer
    paths: saved_paths maps the model's to them where they differ)."""
    if not state:
        return
    saved_paths = saved_paths or {}
    by_path = {f"{saved_paths.get(path, path)}/{i}": variable for path, layer in file_utils.walk_layers(model)
               for i, variable in enumerate(layer.weights)}
    iterations, slots = read_optimizer_state(archive, filepath, state, by_path)
    for variable, name, array in slots:
        model.optimizer.add_slot(variable, name)[...] = array
    model.optimizer.iterations = iterations


def read_optimizer_state(archive, filepath, state, by_path):
    """(step count, [(variable, slot name, array)]) from the file, every array checked against its variable;
    state is state.json's "optimizer" entry, by_path maps the file's weight paths ("dense/0") to variables."""
    iterations = file_reading.read_npy(archive, filepath, "optimizer/iterations.npy")
    if iterations.shape != () or iterations.dtype.kind not in "iu" or int(iterations) < 0:
        raise ValueError(f"{filepath}: optimizer/iterations.npy must hold the optimizer's step count, a "
                         f"non-negative integer scalar; it holds {iterations.dtype} {iterations!r:.60}")
    slots = []
    for entry in state["variables"]:
        variable = by_path.get(entry["path"])
        if variable is None:
            raise ValueError(f"{filepath}: state.json: optimizer state for a weight the model does not have: "
                             f"{entry['path']!r}")
        for name in entry["slots"]:
            member = f"optimizer/{entry['path']}/{name}.npy"
            array = file_reading.read_npy(archive, filepath, member)
            problem = file_reading.check_weight(variable, array)
            if problem:
                raise ValueError(f"{filepath}: {member}: optimizer slot {name!r} of weight {entry['path']} {problem}")
            slots.append((variable, name, array))
    return int(iterations), slots
