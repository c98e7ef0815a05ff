"""MNIST handwritten digits, as Keras returns them: ((x_train, y_train), (x_test, y_test)), uint8.

x has shape (n, 28, 28) with pixels 0..255, y has shape (n,) with labels 0..9.

Where the data come from, first match wins:
    1. the directory in $PYNN_DATA, 2. ~/.pynn/datasets/; in each, either a Keras-style `mnist.npz`
       (keys x_train, y_train, x_test, y_test) or the four IDX files (gzipped or not);
    3. a download of Keras's mnist.npz into ~/.pynn/datasets/, checked against its SHA-256;
    4. the small sample of real MNIST digits shipped with pynn (6,000 train + 1,000 test, 10% per digit),
       with a warning, so that examples still run with no network.

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, y_train.dtype
    ((60000, 28, 28), dtype('uint8'))
"""
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import warnings
from pathlib import Path

import numpy as np

__all__ = ["load_data", "read_idx"]

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
DOWNLOAD_TIMEOUT_S = 10
SAMPLE = Path(__file__).resolve().parent / "data" / "mnist_sample.npz"

_IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
              "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
_KEYS = ("x_train", "y_train", "x_test", "y_test")


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


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(target):
    """Download Keras's mnist.npz to target, checking its SHA-256; raises OSError or ValueError on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(URL, timeout=DOWNLOAD_TIMEOUT_S) as response:
                shutil.copyfileobj(response, tmp)
            tmp.close()
            digest = _sha256(tmp.name)
            if digest != SHA256:
                raise ValueError(f"{URL}: SHA-256 {digest}, expected {SHA256}")
            os.replace(tmp.name, target)
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)


def _search_dirs():
    dirs = []
    if os.environ.get("PYNN_DATA"):
        dirs.append(Path(os.environ["PYNN_DATA"]).expanduser())
    dirs.append(Path.home() / ".pynn" / "datasets")
    return dirs


def load_data(path="mnist.npz", sample=False):
    """Load MNIST: ((x_train, y_train), (x_test, y_test)), uint8 arrays.

    Args:
        path: name of the Keras-style npz file to look for (and to download into ~/.pynn/datasets/).
        sample: True to return the bundled sample (6,000 train + 1,000 test real digits) whatever is present.
    """
    if not sample:
        for directory in _search_dirs():
            if directory.is_dir():
                data = _load_directory(directory, path)
                if data is not None:
                    return data
        target = Path.home() / ".pynn" / "datasets" / path
        try:
            _download(target)
            return _read_npz(target)
        except (OSError, ValueError) as error:
            warnings.warn(f"MNIST not found in $PYNN_DATA or ~/.pynn/datasets/ and the download failed ({error}); "
                          f"using the bundled sample of 6,000 training and 1,000 test digits instead of the "
                          f"full 60,000 + 10,000", RuntimeWarning, stacklevel=2)
    return _read_npz(SAMPLE)
