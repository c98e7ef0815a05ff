"""Atomic writes and the walk over a model's layers shared by the file formats."""
import contextlib
import os
import re
import tempfile

TEMP_SUFFIX = ".pynn-tmp"


@contextlib.contextmanager
def atomic_write(filepath):
    """Yield a binary file open for writing; on success it replaces the file at `filepath` in one step.

    - The data goes to a temporary file `.<name>.<pid>.<random>.pynn-tmp` next to the target, which is
      flushed, fsync'ed and renamed over the target with os.replace (atomic on POSIX and Windows). If
      anything fails before that, the temporary file is removed and the previous file (if any) is intact.
    - A symbolic link is followed: the file it points to is replaced, the link stays.
    - The file keeps the permission bits of the file it replaces; a new file gets 0o666 minus the umask,
      as open() would give it.
    - Temporary files of earlier saves to the same target whose process no longer runs (a save killed
      mid-write) are removed first; those of running processes are left alone.
    """
    filepath = os.path.realpath(os.fspath(filepath))
    directory, name = os.path.split(filepath)
    mode = _mode_for(filepath)
    _remove_orphans(directory, name)
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=f".{name}.{os.getpid()}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "w+b") as file:
            with contextlib.suppress(OSError):  # a filesystem without POSIX modes keeps its own
                os.chmod(tmp_path, mode)
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


def _mode_for(filepath):
    """The permission bits of the existing file, or those open() gives a new file (0o666 minus the umask)."""
    try:
        return os.stat(filepath).st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def current_umask():
    """The process's umask, read from /proc/self/status where it exists (without changing it, so that
    other threads creating files meanwhile are unaffected); elsewhere set and restored with os.umask."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_orphans(directory, name):
    """Remove the temporary files `.<name>.<pid>.*.pynn-tmp` in `directory` whose process is gone."""
    if os.name != "posix":  # os.kill(pid, 0) is the liveness test used; on Windows it would kill
        return
    pattern = re.compile(re.escape(f".{name}.") + r"(\d+)\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX))
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            match = pattern.fullmatch(entry)
            if match and not _process_exists(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(directory, entry))


def _process_exists(pid):
    if pid == os.getpid():
        return True  # another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # it exists (another user's); an impossible pid: leave the file alone
    return True


def is_model(layer):
    from pynn.models import Model
    return isinstance(layer, Model)


def walk_layers(model, prefix=""):
    """(path, layer) for every layer holding state, depth first: "dense", "encoder/dense_1" for a model used
    as a layer inside another. Raises ValueError when a name is not a string, contains '/', or when two layers
    of one model share a name."""
    seen = set()
    for layer in model.layers:
        if not isinstance(layer.name, str):
            raise ValueError(f"Layer name {layer.name!r} is not a string")
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
