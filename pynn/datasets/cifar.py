"""What CIFAR-10 and CIFAR-100 share: finding the batches (a directory or the tar.gz) and reading one batch.

The batches are the python version's pickles: a dict with b"data", a uint8 array of shape (n, 3072) holding
each image's red, green and blue planes of 32x32 in turn, and the labels as a list of ints under b"labels"
(CIFAR-10) or b"fine_labels" / b"coarse_labels" (CIFAR-100). They are unpickled with a restricted unpickler
that builds NumPy arrays and plain values only (pynn.datasets._pickle).

They are looked for, first match wins, in $PYNN_DATA and then ~/.pynn/datasets/, each holding either the
extracted directory (``cifar-10-batches-py/``; Keras's cache layout ``cifar-10-batches-py-target/cifar-10-batches-py/``
too) or the archive as distributed (``cifar-10-python.tar.gz``, read in place, never extracted to disk); with
none, the archive is downloaded into ~/.pynn/datasets/ and checked against its SHA-256.
"""
import io
import pickle
import tarfile

import numpy as np

from pynn.datasets import _files, _pickle

__all__ = ["load_batch", "read_batches"]


def load_batch(source, label_key="labels", name=None):
    """(data, labels) of one CIFAR batch: data uint8 of shape (n, 3, 32, 32), labels a list of n ints.

    source: a path or an open binary file; name: how to call it in errors. Raises ValueError, naming the
    batch, when it is not a CIFAR batch (or holds anything but arrays and plain values).
    """
    name = name or str(source)
    try:
        if hasattr(source, "read"):
            d = _pickle.load(source, encoding="bytes")
        else:
            with open(source, "rb") as f:
                d = _pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise ValueError(f"{name}: not a readable CIFAR batch ({error})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{name}: not a CIFAR batch (a pickled {type(d).__name__}, expected a dict)")
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise ValueError(f"{name}: a CIFAR batch needs 'data' and {label_key!r}, found {sorted(map(str, d))}")
    data, labels = np.asarray(d["data"]), d[label_key]
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"{name}: data of shape {data.shape} with {len(labels)} labels, expected (n, 3072) "
                         f"and n labels")
    return data.reshape(data.shape[0], 3, 32, 32), labels


def _from_tar(archive, members):
    """{member: bytes} for the named regular files of a tar archive, read in one pass without extracting."""
    found = {}
    try:
        with tarfile.open(archive, "r|*") as tar:
            for info in tar:
                member = info.name[2:] if info.name.startswith("./") else info.name
                if member in members and info.isfile():
                    found[member] = tar.extractfile(info).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(f"{archive}: not a readable tar archive ({error})") from None
    missing = [m for m in members if m not in found]
    if missing:
        raise ValueError(f"{archive}: the archive lacks {missing}")
    return found


def read_batches(source, folder, names, label_key):
    """[(data, labels)] of the batches `names` in `folder` (e.g. "cifar-10-batches-py"), from a local copy or
    the downloaded archive `source` (a key of pynn.datasets._files.SOURCES)."""
    for directory in _files.search_dirs():
        for candidate in (directory / folder, directory / f"{folder}-target" / folder):
            if all((candidate / name).is_file() for name in names):
                return [load_batch(candidate / name, label_key) for name in names]
    archive = _files.get_file(source, alternatives=f"or its extracted directory {folder}/ there")
    members = _from_tar(archive, [f"{folder}/{name}" for name in names])
    return [load_batch(io.BytesIO(members[f"{folder}/{name}"]), label_key, f"{archive}:{folder}/{name}")
            for name in names]
