"""ops.gather_rows, the row gather of fit's shuffled batches, against numpy.take."""

import numpy as np
import pytest

from pynn import ops


@pytest.mark.parametrize("shape, dtype", [((500, 784), "float32"), ((300, 7), "float64"), ((64, 5, 3), "uint8"),
                                          ((40,), "int64"), ((10, 0), "float32")])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_gather_rows_matches_numpy_take(shape, dtype, nthreads, threads, rng):
    threads(nthreads)
    x = (rng.random(shape) * 100).astype(dtype)
    index = np.sort(rng.integers(0, shape[0], 33))
    out = np.full((33,) + shape[1:], 7, dtype)
    assert ops.gather_rows(x, index, out) is out
    assert np.array_equal(out, np.take(x, index, axis=0))


@pytest.mark.parametrize("bad", [-1, 500, 10**12])
def test_an_index_out_of_bounds_raises_and_writes_nothing(bad, rng):
    x = rng.random((500, 6)).astype(np.float32)
    index = np.arange(20, dtype=np.int64)
    index[13] = bad
    out = np.zeros((20, 6), np.float32)
    with pytest.raises(IndexError, match=f"index {bad} is out of bounds for x with 500 rows"):
        ops.gather_rows(x, index, out)
    assert not out.any()


def test_wrong_arguments_name_the_argument(rng):
    x = rng.random((50, 6)).astype(np.float32)
    index = np.arange(4, dtype=np.int64)
    with pytest.raises(ValueError, match="index: expected a 1-D int64 array"):
        ops.gather_rows(x, index.astype(np.int32), np.empty((4, 6), np.float32))
    with pytest.raises(ValueError, match=r"out: expected shape \(4, 6\)"):
        ops.gather_rows(x, index, np.empty((4, 5), np.float32))
    with pytest.raises(ValueError, match="out: expected dtype float32"):
        ops.gather_rows(x, index, np.empty((4, 6), np.float64))
    with pytest.raises(ValueError, match="x: expected a C-contiguous array"):
        ops.gather_rows(x[:, ::2], index, np.empty((4, 3), np.float32))
    with pytest.raises(ValueError, match="out: must not share memory with x"):
        ops.gather_rows(x, index, x[10:14])
