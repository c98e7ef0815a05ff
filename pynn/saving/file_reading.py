"""Reading a saved file's parts defensively: every problem of a truncated, corrupt or hand-edited file becomes a
ValueError that names the file and the problem (the original exception is kept as its __cause__).

- open_zip / read_member: a zip archive and its members (`.keras` files, `.weights.npz`).
- read_json / parse_json: a JSON member (or attribute), refused when nested deeper than MAX_JSON_DEPTH (a deeper
  config is no model).
- read_npy / parse_npy: a `.npy` member, whose header is checked against the bytes that follow before any
  array is made (a header declaring an enormous shape cannot make loading allocate it), with no pickles and
  only real numbers (bool, integer, float).
- check_weight: whether an array (or an HDF5 dataset, before it is read) fits a model's weight.
"""
import json
import math
import re
import zipfile
import zlib

import numpy as np

MAX_JSON_DEPTH = 100  # pynn's own configs nest about 10 deep per level of models used as layers

# What zipfile raises on a damaged archive or member: a bad CRC, a truncated member, an unsupported
# compression method or zip version (NotImplementedError), an "encrypted" flag (RuntimeError), bad deflate data.
ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError, zlib.error)


class open_zip:
    """zipfile.ZipFile(filepath) as a context manager whose errors name the file. `kind` names the format."""

    def __init__(self, filepath, kind=".keras"):
        self.filepath, self.kind = filepath, kind

    def __enter__(self):
        try:
            self.archive = zipfile.ZipFile(self.filepath, "r")
        except FileNotFoundError:
            raise
        except ZIP_ERRORS as error:
            raise ValueError(f"{self.filepath}: not a readable {self.kind} file (truncated or not a zip archive: "
                             f"{error})") from error
        return self.archive

    def __exit__(self, *exc_info):
        self.archive.close()
        return False


def read_member(archive, filepath, name):
    """The bytes of one member of the archive."""
    try:
        return archive.read(name)
    except KeyError as error:
        raise ValueError(f"{filepath}: the member {name!r} is missing (the file is incomplete or was edited)") \
            from error
    except ZIP_ERRORS as error:  # CRC mismatch, truncated data, ...
        raise ValueError(f"{filepath}: the member {name!r} is corrupt: {error}") from error


def read_json(archive, filepath, name):
    """The JSON document in a member of the archive."""
    return parse_json(read_member(archive, filepath, name), f"{filepath}: {name}")


def parse_json(data, label):
    """The JSON document in `data` (UTF-8 bytes or str); errors start with `label` ("<file>: <part>")."""
    try:
        document = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, an integer of over 4300 digits, deep nesting
        raise ValueError(f"{label} is not valid JSON: {error}") from error
    if _depth(document) > MAX_JSON_DEPTH:
        raise ValueError(f"{label} is nested more than {MAX_JSON_DEPTH} levels deep; no pynn model "
                         "is, so the file was edited or damaged")
    return document


def _depth(document):
    """How many levels of non-empty lists and dicts nest in the document (counting stops past MAX_JSON_DEPTH)."""
    depth, level = 0, [document]
    while depth <= MAX_JSON_DEPTH:
        level = [item for value in level if isinstance(value, (dict, list))
                 for item in (value.values() if isinstance(value, dict) else value)]
        if not level:
            break
        depth += 1
    return depth


def read_npy(archive, filepath, name):
    """The array in a `.npy` member of the archive (see parse_npy)."""
    return parse_npy(read_member(archive, filepath, name), f"{filepath}: {name}")


# The header np.save writes (keys sorted, Python literals): {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }
_NPY_HEADER = re.compile(r"\{\s*'descr':\s*'([<>|=]?[A-Za-z?]\d{0,3})',\s*'fortran_order':\s*(True|False),\s*"
                         r"'shape':\s*\(((?:\s*\d{1,19}\s*,)*(?:\s*\d{1,19})?\s*)\),?\s*\}\s*")


def parse_npy(data, label):
    """The array of a `.npy` file's bytes (a read-only view of them). ValueError, starting with `label`, when
    the header is malformed, declares a shape the data does not hold, or a dtype other than bool, integer or
    float (no object arrays: nothing is ever unpickled). The header is matched against the one np.save
    writes rather than evaluated."""
    def invalid(problem):
        return ValueError(f"{label} is not a valid .npy array: {problem}")

    if len(data) < 10 or data[:6] != b"\x93NUMPY":
        raise invalid("it does not start with the .npy magic bytes")
    if data[6] == 1:
        start = 10 + int.from_bytes(data[8:10], "little")
    elif data[6] in (2, 3):
        start = 12 + int.from_bytes(data[8:12], "little")
    else:
        raise invalid(f"unknown .npy format version {data[6]}")
    header = data[10 if data[6] == 1 else 12:start].decode("latin-1")
    match = _NPY_HEADER.fullmatch(header)
    if match is None or start > len(data):
        raise invalid(f"malformed header {header[:100]!r}")
    try:
        dtype = np.dtype(match[1])
    except TypeError as error:
        raise invalid(f"unknown dtype {match[1]!r}") from error
    if dtype.kind not in "biuf":
        raise invalid(f"its dtype {dtype} is not a real number type")
    shape = tuple(int(n) for n in match[3].split(",") if n.strip())
    count = math.prod(shape)
    if count * dtype.itemsize != len(data) - start:
        raise invalid(f"its header declares shape {shape} of {dtype} ({count * dtype.itemsize} bytes), the file "
                      f"holds {len(data) - start} bytes of data")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=start)
    return array.reshape(shape[::-1]).T if match[2] == "True" else array.reshape(shape)


def check_weight(variable, array):
    """None when `array` (a NumPy array, or an h5py Dataset before it is read) can be the value of `variable`:
    the same shape, and a bool, integer or float dtype that converts to the variable's; else the problem."""
    if tuple(array.shape) != tuple(variable.shape):
        return f"has shape {tuple(array.shape)} in the file, but the model's is {tuple(variable.shape)}"
    if array.dtype.kind not in "biuf" or not np.can_cast(array.dtype, variable.dtype, casting="same_kind"):
        return f"has dtype {array.dtype} in the file, which does not convert to the model's {variable.dtype}"
    return None
