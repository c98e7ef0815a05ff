"""restore_model_state: the state a `.keras` file holds, loaded into an existing model (what
callbacks.BackupAndRestore resumes from), all or nothing."""
import os

import numpy as np

from pynn.saving import file_reading, file_utils, layer_matching, saving_lib


def restore_model_state(model, filepath):
    """Load the state a `.keras` file (model.save) holds into the existing `model`: weights, the random streams
    of its layers, the optimizer's step count, slots and (float) learning rate, and pynn's global random
    stream, so that training continues exactly as the saved model's would. The model must have the same
    layers in the same order as the saved one (matched by name, else by position, as load_weights matches
    them) and an optimizer of the same class.

    All or nothing: everything is read and checked before anything is changed; a damaged file or another
    structure raises ValueError naming the file and leaves the model, its optimizer and the random streams as
    they were.
    """
    from pynn import random_state
    filepath = os.fspath(filepath)
    with file_reading.open_zip(filepath) as archive:
        saving_lib.check_metadata(file_reading.read_json(archive, filepath, "metadata.json"), filepath)
        config = file_reading.read_json(archive, filepath, "config.json")
        state = saving_lib.read_state(archive, filepath)
        read_order = []

        def read(name):
            read_order.append(name)
            return file_reading.read_npy(archive, filepath, name)

        plan = layer_matching.plan_by_layer(model, filepath, archive.namelist(), "weights/", ".npy", read,
                                            layer_matching.layer_classes(config))
        # plan_by_layer reads each matched layer's members in the order of its weights: the file's weight
        # paths ("dense/0") of the model's variables, which the optimizer's manifest refers to
        by_path = {name[len("weights/"):-len(".npy")]: variable for name, (variable, _) in zip(read_order, plan)}
        optimizer_plan = _optimizer_plan(archive, filepath, model, config, state["optimizer"], by_path)
    rng_plan = _rng_plan(filepath, model, state["layers"])

    _set_rng_states(filepath, rng_plan)      # may refuse a hand-edited state: first, and undone if it does
    layer_matching.assign(plan)
    if optimizer_plan is not None:
        optimizer = model.optimizer
        iterations, slots, learning_rate = optimizer_plan
        for variable, name, array in slots:
            optimizer.add_slot(variable, name)[...] = array
        optimizer.iterations = iterations
        if learning_rate is not None:
            optimizer.learning_rate = learning_rate
    if state["random_state"]:
        random_state._state.update(state["random_state"])


def _optimizer_plan(archive, filepath, model, config, state, by_path):
    """(iterations, [(variable, slot name, array)], learning rate or None), read and checked; None when the file
    has no optimizer state."""
    if not state:
        return None
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError(f"{filepath}: it holds optimizer state, but model '{model.name}' is not compiled")
    saved = (config.get("compile_config") or {}).get("optimizer") if isinstance(config, dict) else None
    saved = saved if isinstance(saved, dict) else {}
    saved_class = saved.get("class_name")
    if saved_class is not None and saved_class != type(optimizer).__name__:
        raise ValueError(f"{filepath}: the saved optimizer is a {saved_class!s:.40}, the model's a "
                         f"{type(optimizer).__name__}")
    iterations, slots = saving_lib.read_optimizer_state(archive, filepath, state, by_path)
    learning_rate = (saved.get("config") or {}).get("learning_rate") if isinstance(saved.get("config"), dict) \
        else None
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) \
            or not isinstance(optimizer._learning_rate, float) or not np.isfinite(learning_rate):
        learning_rate = None   # a schedule (a function of the step count) or a callable: nothing to restore
    return iterations, slots, learning_rate


def _rng_plan(filepath, model, saved):
    """[(layer, state)]: the saved random-stream states of the model's layers that own one, matched by path,
    else (renamed layers) by position."""
    mine = [(rng_path, rng_layer) for path, layer in file_utils.walk_layers(model)
            for rng_path, rng_layer in file_utils.rng_layers(layer, path)]
    if all(path in saved for path, _ in mine):
        return [(layer, saved[path]) for path, layer in mine]
    if len(mine) != len(saved):
        raise ValueError(f"{filepath}: state.json: the model has {len(mine)} layers with a random stream "
                         f"({[p for p, _ in mine][:6]}), the file {len(saved)} ({list(saved)[:6]})")
    return [(layer, state) for (_, layer), state in zip(mine, saved.values())]


def _set_rng_states(filepath, plan):
    before = [(layer, layer.get_rng_state()) for layer, _ in plan]
    try:
        for layer, state in plan:
            layer.set_rng_state(state)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        for layer, state in before:
            layer.set_rng_state(state)
        raise ValueError(f"{filepath}: state.json: bad random state for layer '{layer.name}': {error!r}") from error
