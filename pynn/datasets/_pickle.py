"""Reading the pickled parts of data set files (CIFAR batches, IMDB/Reuters ragged arrays) without running code.

CIFAR's batches are Python pickles of a dict of NumPy arrays, lists, ints and bytes; IMDB's and Reuters's npz
hold object arrays of lists, which NumPy stores as pickles. `pickle.load` would call whatever a tampered file
names; here only the three globals NumPy needs to rebuild an array are allowed, and anything else is refused
with pickle.UnpicklingError.
"""
import importlib
import io
import pickle
import zipfile

import numpy as np

__all__ = ["RestrictedUnpickler", "load", "load_npz"]

_ALLOWED = {
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    # files written under NumPy 1 name numpy.core, under NumPy 2 numpy._core; both resolve to the module here
    ("numpy.core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
}


def _multiarray():
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("numpy multiarray module not found")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays, dtypes and plain Python values, and nothing else."""

    def find_class(self, module, name):
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data set file: the file is "
                                         f"corrupt or not what it claims to be")
        owner = _multiarray() if allowed[0] == "multiarray" else np
        return getattr(owner, allowed[1])


def load(file, encoding="ASCII"):
    """Unpickle an open binary file with RestrictedUnpickler (encoding="bytes" for Python 2 pickles)."""
    return RestrictedUnpickler(file, encoding=encoding).load()


def _read_member(raw):
    try:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except ValueError:  # an object array: its data are a pickle stream after the .npy header
        f = io.BytesIO(raw)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):  # 3.0 only changes the header's text encoding, not its framing
            np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version}") from None
        return load(f)


def load_npz(path):
    """The arrays of an npz file as a dict, object arrays included, unpickled with RestrictedUnpickler.

    Raises ValueError naming the file when it is not a zip archive of .npy members.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return {member[:-len(".npy")]: _read_member(archive.read(member))
                    for member in archive.namelist() if member.endswith(".npy")}
    except (zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path}: not a readable npz file ({error})") from None
    except pickle.UnpicklingError as error:
        raise ValueError(f"{path}: {error}") from None
