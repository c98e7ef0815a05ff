"""The shuffled train/test split Keras 3 applies to boston_housing and california_housing (same numbers)."""
import numpy as np

from pynn.datasets import _files


def check_test_split(test_split):
    if not (0 <= test_split < 1):
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 and 1 "
                         f"(exclusive of 1).")


def read_xy(source, path):
    file = _files.get_file(source, fname=path)
    with np.load(file, allow_pickle=False) as f:
        if "x" not in f or "y" not in f:
            raise ValueError(f"{file}: expected arrays 'x' and 'y', found {sorted(f.files)}")
        return f["x"], f["y"]


def split(x, y, test_split, seed):
    """x and y shuffled with np.random.RandomState(seed); the first int(n * (1 - test_split)) rows train."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows and y {len(y)}")
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    n = int(len(x) * (1 - test_split))
    return (np.array(x[:n]), np.array(y[:n])), (np.array(x[n:]), np.array(y[n:]))
