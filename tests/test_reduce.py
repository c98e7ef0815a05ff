"""Deterministic reductions (csrc/reduce/): against NumPy in float64, against the serial reference, and
bit-identical for 1 and 2 threads."""
import numpy as np
import pytest

from pynn import _C, kernels

FLOATS = [np.float32, np.float64]


def data(shape, dtype, seed=0):
    # an offset mean makes cancellation and accumulation order matter
    return (np.random.default_rng(seed).standard_normal(shape) + 0.3).astype(dtype)


def rtol(dtype, n):
    """Tolerance against the float64 NumPy sum: one rounding of the double result for float32, and double
    accumulation error (n eps, loose) for float64."""
    return 2e-7 if dtype == np.float32 else max(1e-14, n * 1e-16)


SHAPES = [(1, 1), (7, 3), (32, 128), (256, 1), (257, 513), (4096, 5), (100003, 37), (3, 2000)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
def test_sum_rows_matches_numpy_and_reference(shape, dtype):
    x = data(shape, dtype)
    got = kernels.sum_rows(x)
    assert got.shape == (shape[1],) and got.dtype == dtype
    expected = x.astype(np.float64).sum(axis=0)
    scale = np.abs(x.astype(np.float64)).sum(axis=0)  # error bounds scale with sum |x|
    assert np.all(np.abs(got - expected) <= rtol(dtype, shape[0]) * scale + 1e-30)
    reference = np.empty_like(got)
    _C.sum_rows(x, reference, True)
    assert np.all(np.abs(got - reference) <= rtol(dtype, shape[0]) * scale + 1e-30)


@pytest.mark.parametrize("dtype", FLOATS)
def test_sum_rows_strided_views_and_out(dtype):
    big = data((300, 50), dtype)
    view = big[::3, 5:45]  # row stride 150 elements, rows contiguous
    np.testing.assert_allclose(kernels.sum_rows(view), view.astype(np.float64).sum(axis=0), rtol=1e-6)
    fortran = np.asfortranarray(big)
    np.testing.assert_array_equal(kernels.sum_rows(fortran), kernels.sum_rows(big))
    out = np.empty(50, dtype)
    assert kernels.sum_rows(big, out=out) is out


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(100003, 37), (4099, 1100), (20000, 1), (64, 70000)])
def test_sum_rows_bit_identical_for_one_and_two_threads(shape, dtype, threads):
    x = data(shape, dtype, seed=1)
    threads(1)
    one = kernels.sum_rows(x)
    threads(2)
    two = kernels.sum_rows(x)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [1, 7, 8, 9, 4096, 4097, 100003, 3_000_001])
def test_sum_matches_numpy_and_reference(n, dtype):
    x = data(n, dtype)
    got = kernels.sum(x)
    assert isinstance(got, dtype)
    expected = x.astype(np.float64).sum()
    scale = np.abs(x.astype(np.float64)).sum()
    assert abs(got - expected) <= rtol(dtype, n) * scale
    assert abs(_C.reduce_sum(x) - _C.reduce_sum(x, True)) <= n * 1e-16 * scale
    np.testing.assert_allclose(kernels.mean(x), expected / n, rtol=rtol(dtype, n) * scale / abs(expected) + 1e-15)


@pytest.mark.parametrize("dtype", FLOATS)
def test_sum_accumulates_in_double(dtype):
    # float32 accumulation would lose the small terms entirely: 1e8 + 1.0 == 1e8 in float32.
    x = np.array([1e8] + [1.0] * 100000 + [-1e8], dtype=dtype)
    assert kernels.sum(x) == dtype(100000)
    assert kernels.sum_rows(x.reshape(-1, 1))[0] == dtype(100000)


@pytest.mark.parametrize("dtype", FLOATS)
def test_sum_weighted_sum_bit_identical_for_one_and_two_threads(dtype, threads):
    v, w = data(2_000_003, dtype, seed=2), np.abs(data(2_000_003, dtype, seed=3))
    threads(1)
    one = (kernels.sum(v), kernels.mean(v), kernels.weighted_sum(v, w), kernels.weighted_mean(v, w))
    threads(2)
    two = (kernels.sum(v), kernels.mean(v), kernels.weighted_sum(v, w), kernels.weighted_mean(v, w))
    assert [x.tobytes() for x in one] == [x.tobytes() for x in two]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(5,), (100003,), (64, 10)])
def test_weighted_sum_and_mean_match_numpy(shape, dtype):
    v, w = data(shape, dtype, seed=4), np.abs(data(shape, dtype, seed=5))
    v64, w64 = v.astype(np.float64), w.astype(np.float64)
    scale = np.abs(v64 * w64).sum()
    got = kernels.weighted_sum(v, w)
    assert isinstance(got, dtype)
    assert abs(got - (v64 * w64).sum()) <= rtol(dtype, v.size) * scale
    np.testing.assert_allclose(kernels.weighted_mean(v, w), np.average(v64, weights=w64),
                               rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_empty_arrays():
    for dtype in FLOATS:
        np.testing.assert_array_equal(kernels.sum_rows(np.empty((0, 4), dtype)), np.zeros(4, dtype))
        assert kernels.sum_rows(np.empty((5, 0), dtype)).shape == (0,)
        assert kernels.sum_rows(np.empty((0, 0), dtype)).shape == (0,)
        assert kernels.sum(np.empty(0, dtype)) == 0 and kernels.sum(np.empty((3, 0), dtype)) == 0
        assert np.isnan(kernels.mean(np.empty(0, dtype)))
        assert kernels.weighted_sum(np.empty(0, dtype), np.empty(0, dtype)) == 0
        assert kernels.weighted_mean(np.empty(0, dtype), np.empty(0, dtype)) == 0
    assert kernels.weighted_mean(np.ones(3), np.zeros(3)) == 0  # Keras's divide_no_nan


def test_non_contiguous_inputs_are_summed_correctly():
    x = data((100, 40), np.float64)
    assert kernels.sum(x[:, ::3]) == pytest.approx(x[:, ::3].sum(), rel=1e-13)
    assert kernels.weighted_sum(x.T, x.T) == pytest.approx((x * x).sum(), rel=1e-13)


@pytest.mark.parametrize("call, argument", [
    (lambda: kernels.sum_rows([[1.0]]), "x"),
    (lambda: kernels.sum_rows(np.ones(4)), "x"),
    (lambda: kernels.sum_rows(np.ones((2, 2), np.int32)), "x"),
    (lambda: kernels.sum_rows(np.ones((2, 3)), out=np.empty(2)), "out"),
    (lambda: kernels.sum_rows(np.ones((2, 3)), out=np.empty(3, np.float32)), "out"),
    (lambda: kernels.sum_rows(np.ones((2, 3)), out=np.empty(6)[::2]), "out"),
    (lambda x=np.ones((2, 3)): _C.sum_rows(x, x[0]), "out"),  # out overlaps x
    (lambda: kernels.sum([1.0, 2.0]), "x"),
    (lambda: kernels.sum(np.ones(3, np.int64)), "x"),
    (lambda: kernels.mean(np.ones(3, np.float16)), "x"),
    (lambda: kernels.weighted_sum(np.ones(3), np.ones(4)), "weights"),
    (lambda: kernels.weighted_sum(np.ones(3), np.ones(3, np.float32)), "weights"),
    (lambda: kernels.weighted_mean(np.ones(3, np.int32), np.ones(3, np.int32)), "values"),
    (lambda: kernels.weighted_mean(np.ones(3), None), "weights"),
])
def test_bad_arguments_raise_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        call()
