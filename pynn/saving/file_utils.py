"""Atomic writes and the walk over a model's layers shared by the file formats."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(filepath):
    """Yield a binary file open for writing; on success it replaces `filepath` in one step.

    The data goes to a temporary file in the same directory, which is flushed, fsync'ed and then renamed
    over the target with os.replace (atomic on POSIX and Windows). If anything fails before that, the
    temporary file is removed and the previous file (if any) is left untouched.
    """
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(filepath)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w+b") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp_path)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows it
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def is_model(layer):
    from pynn.models import Model
    return isinstance(layer, Model)


def walk_layers(model, prefix=""):
    """(path, layer) for every layer holding state, depth first: "dense", "encoder/dense_1" for a model used
    as a layer inside another. Raises ValueError when two layers of one model share a name."""
    seen = set()
    for layer in model.layers:
        if "/" in layer.name:
            raise ValueError(f"Layer name {layer.name!r} contains '/', which saved files use as a separator")
        if layer.name in seen:
            raise ValueError(f"Model '{model.name}' has two layers named {layer.name!r}; names must be unique "
                             "to be saved")
        seen.add(layer.name)
        path = prefix + layer.name
        if is_model(layer):
            yield from walk_layers(layer, path + "/")
        else:
            yield path, layer


def rng_layers(layer, path):
    """(path, layer) for the layer and the layers it wraps (Bidirectional, TimeDistributed) that own a
    random stream (get_rng_state / set_rng_state)."""
    if hasattr(layer, "get_rng_state"):
        yield path, layer
    for attribute in ("layer", "forward_layer", "backward_layer"):
        inner = getattr(layer, attribute, None)
        if inner is not None and inner is not layer and hasattr(inner, "weights"):
            yield from rng_layers(inner, f"{path}/{attribute}")
