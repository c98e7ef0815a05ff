"""MNIST handwritten digits, as Keras returns them: ((x_train, y_train), (x_test, y_test)), uint8.

x has shape (n, 28, 28) with pixels 0..255, y has shape (n,) with labels 0..9.

Where the data come from, first match wins:
    1. the directory in $PYNN_DATA, 2. ~/.pynn/datasets/; in each, either a Keras-style `mnist.npz`
       (keys x_train, y_train, x_test, y_test) or the four IDX files (gzipped or not);
    3. a download of Keras's mnist.npz into ~/.pynn/datasets/, checked against its SHA-256;
    4. when that fails too, the small sample of real MNIST digits shipped with pynn (6,000 train + 1,000
       test, 10% per digit), with a SampleDataWarning that says so, so that examples still run with no
       network. `load_data(sample=False)` or PYNN_MNIST_SAMPLE=never raises instead; `sample=True` or
       PYNN_MNIST_SAMPLE=always takes the sample whatever is present, without a warning.

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, y_train.dtype
    ((60000, 28, 28), dtype('uint8'))
"""
import gzip
import os
import warnings
from pathlib import Path

import numpy as np

from pynn.datasets import _files

__all__ = ["load_data", "read_idx", "SampleDataWarning"]

SAMPLE = Path(__file__).resolve().parent / "data" / "mnist_sample.npz"
SAMPLE_SIZE = (6000, 1000)
SAMPLE_ENV = "PYNN_MNIST_SAMPLE"
_SAMPLE_MODES = {"auto": None, "": None, "always": True, "1": True, "yes": True, "true": True,
                 "never": False, "0": False, "no": False, "false": False}

_IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
              "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
_KEYS = ("x_train", "y_train", "x_test", "y_test")


class SampleDataWarning(RuntimeWarning):
    """load_data() found no MNIST and returns the small sample bundled with pynn instead."""


def read_idx(path):
    """The array in one IDX file (gzipped when its name ends in .gz), as uint8.

    IDX layout: 2 zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, each dimension as a
    big-endian uint32, then the data. Raises ValueError, naming the file, when the file is not such a file
    or is shorter than its header says.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:  # a truncated .gz fails here
        raise ValueError(f"{path}: not a readable IDX file ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: IDX type byte 0x{raw[2]:02x}, expected 0x08 (unsigned byte)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(dims))
    if len(raw) != header + size:
        raise ValueError(f"{path}: IDX header says {dims} = {size} bytes of data, file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _read_npz(path):
    with np.load(path, allow_pickle=False) as f:
        missing = [key for key in _KEYS if key not in f]
        if missing:
            raise ValueError(f"{path}: expected arrays {list(_KEYS)}, missing {missing}")
        arrays = {key: f[key] for key in _KEYS}
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _find_idx(directory, stem):
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _load_directory(directory, npz_name):
    """The data set in directory, or None when it holds neither the npz nor all four IDX files."""
    if (directory / npz_name).is_file():
        return _read_npz(directory / npz_name)
    found = {key: _find_idx(directory, stem) for key, stem in _IDX_FILES.items()}
    if not all(found.values()):
        return None
    arrays = {key: read_idx(path) for key, path in found.items()}
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{directory}: {split} images {x.shape} do not match labels {y.shape}")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _sample_mode(sample):
    """True: always the sample; False: never; None: the sample, with a warning, only when MNIST is unavailable."""
    if sample is None:
        value = os.environ.get(SAMPLE_ENV, "auto").strip().lower()
        if value not in _SAMPLE_MODES:
            raise ValueError(f"${SAMPLE_ENV}={os.environ[SAMPLE_ENV]!r}: expected 'auto', 'always' or 'never'")
        return _SAMPLE_MODES[value]
    if not isinstance(sample, (bool, np.bool_)):
        raise TypeError(f"sample must be True, False or None, got {sample!r}")
    return bool(sample)


def load_data(path="mnist.npz", sample=None):
    """Load MNIST: ((x_train, y_train), (x_test, y_test)), uint8 arrays.

    Args:
        path: name of the Keras-style npz file to look for (and to download into ~/.pynn/datasets/).
        sample: what to do about the sample of 6,000 training + 1,000 test real digits bundled with pynn.
            None (default): use it, with a SampleDataWarning, only when MNIST is neither found nor
            downloadable; $PYNN_MNIST_SAMPLE=always or never changes this default. False: never use it,
            raise DatasetDownloadError (an OSError) instead. True: return the sample whatever is present.

    Raises:
        pynn.datasets.DatasetDownloadError: no MNIST and no download with sample=False (or
            PYNN_MNIST_SAMPLE=never); the message says where to put the file.
    """
    mode = _sample_mode(sample)
    if mode is True:
        return _read_npz(SAMPLE)
    for directory in _files.search_dirs():
        if directory.is_dir():
            data = _load_directory(directory, path)
            if data is not None:
                return data
    try:
        return _read_npz(_files.get_file("mnist.npz", fname=path, alternatives=(
            "or the four IDX files, gzipped or not, in one of those directories")))
    except _files.DatasetDownloadError as error:
        if mode is False:
            raise
        warnings.warn(
            f"Using the small MNIST sample bundled with pynn ({SAMPLE_SIZE[0]:,} training + {SAMPLE_SIZE[1]:,} "
            f"test digits instead of MNIST's 60,000 + 10,000), so results will not match those on full MNIST. "
            f"MNIST was not found and could not be fetched: {error} "
            f"Pass sample=False or set {SAMPLE_ENV}=never to get this error instead of the sample, or "
            f"sample=True / {SAMPLE_ENV}=always to choose the sample without this warning.",
            SampleDataWarning, stacklevel=2)
    return _read_npz(SAMPLE)
