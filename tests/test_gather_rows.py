"""kernels.gather_rows, the row gather of fit's shuffled batches, against numpy.take."""

import numpy as np
import pytest

from pynn import kernels


@pytest.mark.parametrize("shape, dtype", [((500, 784), "float32"), ((300, 7), "float64"), ((64, 5, 3), "uint8"),
                                          ((40,), "int64"), ((10, 0), "float32")])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_gather_rows_matches_numpy_take(shape, dtype, nthreads, threads, rng):
    threads(nthreads)
    x = (rng.random(shape) * 100).astype(dtype)
    index = np.sort(rng.integers(0, shape[0], 33))
    out = np.full((33,) + shape[1:], 7, dtype)
    assert kernels.gather_rows(x, index, out) is out
    assert np.array_equal(out, np.take(x, index, axis=0))


@pytest.mark.parametrize("bad", [-1, 500, 10**12])
def test_an_index_out_of_bounds_raises_and_writes_nothing(bad, rng):
    x = rng.random((500, 6)).astype(np.float32)
    index = np.arange(20, dtype=np.int64)
    index[13] = bad
    out = np.zeros((20, 6), np.float32)
    with pytest.raises(IndexError, match=f"index {bad} is out of bounds for x with 500 rows"):
        kernels.gather_rows(x, index, out)
    assert not out.any()


def test_wrong_arguments_name_the_argument(rng):
    x = rng.random((50, 6)).astype(np.float32)
    index = np.arange(4, dtype=np.int64)
    with pytest.raises(ValueError, match="index: expected a 1-D int64 array"):
        kernels.gather_rows(x, index.astype(np.int32), np.empty((4, 6), np.float32))
    with pytest.raises(ValueError, match=r"out: expected shape \(4, 6\)"):
        kernels.gather_rows(x, index, np.empty((4, 5), np.float32))
    with pytest.raises(ValueError, match="out: expected dtype float32"):
        kernels.gather_rows(x, index, np.empty((4, 6), np.float64))
    with pytest.raises(ValueError, match="x: expected a C-contiguous array"):
        kernels.gather_rows(x[:, ::2], index, np.empty((4, 3), np.float32))
    with pytest.raises(ValueError, match="out: must not share memory with x"):
        kernels.gather_rows(x, index, x[10:14])


@pytest.mark.parametrize("dtype", [np.dtype(object), np.dtype([("a", np.float64), ("b", object)]),
                                   np.dtype((object, (2,)))])
def test_arrays_of_python_objects_are_refused(dtype):
    """Rows are copied as bytes: an object array's references would be copied without their counts (a
    use-after-free once x is freed), so any dtype holding Python objects raises TypeError naming it."""
    x = np.empty(6, dtype)
    out = np.empty(2, dtype)
    with pytest.raises(TypeError, match="gather_rows: x: expected a dtype without Python objects.*got"):
        kernels.gather_rows(x, np.array([1, 4]), out)


@pytest.mark.parametrize("dtype", [np.bool_, np.complex64, "S5", "U3", "datetime64[s]", np.float16,
                                   np.dtype([("i", np.int32), ("f", np.float64, (2,))])])
def test_fixed_width_dtypes_are_gathered(dtype, rng):
    x = (rng.random((9, 3)) * 100).astype(np.int64).astype(dtype)
    index = np.array([8, 0, 3, 3], np.int64)
    out = np.zeros((4, 3), dtype)
    assert kernels.gather_rows(x, index, out) is out
    assert np.array_equal(out, np.take(x, index, axis=0))


@pytest.mark.parametrize("x_dtype, out_dtype", [("S2", "S8"), ("V2", "V8"), ("U1", "U4"), ("<f4", ">f4")])
def test_out_needs_the_very_dtype_of_x_not_only_its_kind(x_dtype, out_dtype):
    """Fixed-width dtypes of one kind share a type number: the check compares the dtypes themselves."""
    x = np.zeros(5, x_dtype)
    out = np.zeros(2, out_dtype)
    with pytest.raises(ValueError, match=f"out: expected dtype {np.dtype(x_dtype)}"):
        kernels.gather_rows(x, np.array([1, 2]), out)
