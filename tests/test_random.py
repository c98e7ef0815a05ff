"""Counter-based random numbers (csrc/random/): Philox known answers, the fast fills against the
per-element reference, independence from threads and chunking, and the distributions' statistics."""
import math

import numpy as np
import pytest

from pynn import _C, kernels

FLOATS = [np.float32, np.float64]
FILLS = [kernels.random_uniform, kernels.random_normal, kernels.truncated_normal]


def normal_cdf(z):
    return 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in np.ravel(z)]).reshape(np.shape(z)))


def ks_distance(samples, cdf, grid):
    """max |empirical CDF - cdf| over the grid points (a lower bound of the Kolmogorov-Smirnov distance)."""
    s = np.sort(np.asarray(samples, dtype=np.float64))
    empirical = np.searchsorted(s, grid, side="right") / s.size
    return np.max(np.abs(empirical - cdf(grid)))


# Random123 tests/kat_vectors, the "philox4x32 10" lines: counter (4 words), key (2 words), result (4 words).
PHILOX_KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", PHILOX_KAT)
def test_philox_known_answers(counter, key, expected):
    assert kernels.philox4x32_10(counter, key) == expected


def test_uniform_float32_is_top_24_bits_of_philox_words():
    seed = 0x0123456789ABCDEF
    block = kernels.philox4x32_10((5, 0, 0, 0), (seed & 0xFFFFFFFF, seed >> 32))
    u = kernels.random_uniform(4, seed=seed, offset=20)  # elements 20..23 are block 5
    np.testing.assert_array_equal(u, np.array([w >> 8 for w in block], dtype=np.float32) * np.float32(2.0 ** -24))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("distribution", ["uniform", "normal", "truncated_normal"])
@pytest.mark.parametrize("offset", [0, 1, 3, 2 ** 40 + 5])
def test_fast_fill_matches_per_element_reference(distribution, dtype, offset):
    n = 100003
    fast, reference = np.empty(n, dtype), np.empty(n, dtype)
    _C.random_fill(fast, distribution, 7, offset, -0.5, 2.0)
    _C.random_fill(reference, distribution, 7, offset, -0.5, 2.0, True)
    np.testing.assert_array_equal(fast, reference)


def draws(dtype):
    """One call of every generator, as a tuple of arrays."""
    x = np.linspace(-3, 3, 200001).astype(dtype)
    y, mask = kernels.dropout(x, 0.3, seed=11, offset=5)
    return (kernels.random_uniform(200001, seed=1, offset=3, dtype=dtype),
            kernels.random_normal(200001, seed=2, offset=1, dtype=dtype),
            kernels.truncated_normal(200001, seed=3, offset=0, dtype=dtype),
            kernels.random_bernoulli(200001, 0.25, seed=4, offset=9),
            kernels.random_integers(200001, -5, 1000, seed=5, offset=2),
            y, mask, kernels.dropout_backward(x, mask, 0.3))


@pytest.mark.parametrize("dtype", FLOATS)
def test_same_numbers_for_one_and_two_threads(dtype, threads):
    threads(1)
    one = draws(dtype)
    threads(2)
    two = draws(dtype)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("fill", FILLS)
def test_subrange_fill_equals_slice(fill, dtype, threads):
    threads(2)
    n, offset = 70001, 13
    whole = fill(n, seed=99, offset=offset, dtype=dtype)
    for i0, i1 in [(0, 1), (1, 2), (3, 70001), (5, 8), (4097, 40000), (69999, 70001)]:
        part = fill(i1 - i0, seed=99, offset=offset + i0, dtype=dtype)
        np.testing.assert_array_equal(part, whole[i0:i1])
    # a stream filled in two calls is the stream filled in one
    first = fill(30000, seed=99, offset=offset, dtype=dtype)
    rest = fill(n - 30000, seed=99, offset=offset + 30000, dtype=dtype)
    np.testing.assert_array_equal(np.concatenate([first, rest]), whole)


def test_subrange_dropout_bernoulli_integers_equal_slice():
    x = np.arange(1, 10001, dtype=np.float32)
    y, mask = kernels.dropout(x, 0.5, seed=3, offset=7)
    y2, mask2 = kernels.dropout(x[101:9003].copy(), 0.5, seed=3, offset=7 + 101)
    np.testing.assert_array_equal(y2, y[101:9003])
    np.testing.assert_array_equal(mask2, mask[101:9003])
    b = kernels.random_bernoulli(10001, 0.3, seed=4)
    np.testing.assert_array_equal(kernels.random_bernoulli(9000, 0.3, seed=4, offset=1001), b[1001:])
    r = kernels.random_integers(10001, 0, 7, seed=5)
    np.testing.assert_array_equal(kernels.random_integers(9000, 0, 7, seed=5, offset=1001), r[1001:])


@pytest.mark.parametrize("fill", FILLS)
def test_different_seeds_and_offsets_differ(fill):
    a = fill(1000, seed=1)
    assert np.mean(a == fill(1000, seed=2)) < 0.01
    assert np.mean(a == fill(1000, seed=1, offset=1000)) < 0.01
    assert np.mean(a == fill(1000, seed=1 << 32)) < 0.01  # the high word of the seed counts
    np.testing.assert_array_equal(a, fill(1000, seed=1))
    assert np.all(np.isfinite(fill(1000, seed=2 ** 64 - 1, offset=2 ** 64 - 1000)))


def test_shape_dtype_and_out():
    a = kernels.random_normal((3, 4, 5), seed=0)
    assert a.shape == (3, 4, 5) and a.dtype == np.float32
    np.testing.assert_array_equal(a.ravel(), kernels.random_normal(60, seed=0))
    out = np.empty((2, 3), np.float64)
    assert kernels.random_uniform((2, 3), seed=0, out=out) is out
    assert kernels.random_uniform(0, seed=0).shape == (0,)
    assert kernels.random_uniform((5, 0), seed=0, dtype="float64").shape == (5, 0)


# ------------------------------------------------------------------ statistics (1e6 samples)
# Tolerances: means within 5 standard errors, standard deviations within 0.5%, KS distance below 1.95 / sqrt(n)
# (the 0.1% critical value). The seeds are fixed, so these are deterministic; they are loose enough to
# hold for any seed with probability > 0.999.
N = 10 ** 6
KS = 1.95 / math.sqrt(N)


@pytest.mark.parametrize("dtype", FLOATS)
def test_uniform_statistics(dtype):
    low, high = -2.0, 3.0
    u = kernels.random_uniform(N, seed=2024, low=low, high=high, dtype=dtype)
    assert u.min() >= low and u.max() < high
    width = high - low
    assert abs(u.mean() - (low + high) / 2) < 5 * width / math.sqrt(12 * N)
    assert abs(u.std() / (width / math.sqrt(12)) - 1) < 0.005
    grid = np.linspace(low, high, 1001)
    assert ks_distance(u, lambda g: (g - low) / width, grid) < KS


def test_uniform_stays_below_high_where_rounding_reaches_it():
    # float32: low + (high - low) * (1 - 2**-24) rounds to high for these bounds; it must be kept below.
    u = kernels.random_uniform(200000, seed=1, low=-1.0, high=2.0)
    assert u.max() < np.float32(2.0)
    u = kernels.random_uniform(200000, seed=1, low=1.0, high=1.0000002)
    assert u.min() >= np.float32(1.0) and u.max() < np.float32(1.0000002)


@pytest.mark.parametrize("dtype", FLOATS)
def test_normal_statistics(dtype):
    mean, stddev = 1.5, 2.0
    z = kernels.random_normal(N, seed=77, mean=mean, stddev=stddev, dtype=dtype).astype(np.float64)
    assert abs(z.mean() - mean) < 5 * stddev / math.sqrt(N)
    assert abs(z.std() / stddev - 1) < 0.005
    grid = np.linspace(-4, 4, 801)
    assert ks_distance((z - mean) / stddev, normal_cdf, grid) < KS
    # pairs from one Box-Muller draw are uncorrelated
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 5 / math.sqrt(N / 2)


@pytest.mark.parametrize("dtype", FLOATS)
def test_truncated_normal_statistics(dtype):
    mean, stddev = -1.0, 0.5
    t = kernels.truncated_normal(N, seed=5, mean=mean, stddev=stddev, dtype=dtype).astype(np.float64)
    z = (t - mean) / stddev
    assert np.all(np.abs(z) <= 2.0)
    assert abs(t.mean() - mean) < 5 * stddev / math.sqrt(N)
    assert abs(t.std() / (0.87962566 * stddev) - 1) < 0.005
    mass = normal_cdf(2.0) - normal_cdf(-2.0)
    grid = np.linspace(-2, 2, 401)
    assert ks_distance(z, lambda g: (normal_cdf(g) - normal_cdf(-2.0)) / mass, grid) < KS


@pytest.mark.parametrize("dtype", FLOATS)
def test_truncated_normal_agrees_with_normal_inside_two_stddev(dtype):
    z = kernels.random_normal(100000, seed=8, offset=3, dtype=dtype)
    t = kernels.truncated_normal(100000, seed=8, offset=3, dtype=dtype)
    inside = np.abs(z) < 2
    np.testing.assert_array_equal(t[inside], z[inside])
    assert not np.any(t[~inside] == z[~inside])
    assert 0.04 < 1 - inside.mean() < 0.051  # P(|z| >= 2) = 0.0455


def test_bernoulli_and_integers_statistics():
    for p in (0.0, 0.1, 0.5, 1.0):
        b = kernels.random_bernoulli(N, p, seed=3)
        assert b.dtype == np.uint8 and set(np.unique(b)) <= {0, 1}
        assert abs(b.mean() - p) <= 5 * math.sqrt(p * (1 - p) / N)
    r = kernels.random_integers(N, -3, 7, seed=4)
    assert r.dtype == np.int64 and r.min() == -3 and r.max() == 6
    counts = np.bincount(r + 3, minlength=10)
    chi2 = np.sum((counts - N / 10) ** 2 / (N / 10))
    assert chi2 < 27.9  # chi-square, 9 degrees of freedom, 0.1%
    big = kernels.random_integers(1000, 0, 2 ** 32, seed=4)
    assert big.min() >= 0 and big.max() < 2 ** 32 and big.max() > 2 ** 31


# ------------------------------------------------------------------ dropout
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_dropout_forward_backward(dtype, rate):
    x = (np.arange(N) % 7 + 1).astype(dtype)
    y, mask = kernels.dropout(x, rate, seed=12, offset=100)
    assert y.dtype == dtype and mask.dtype == np.uint8 and mask.shape == x.shape
    scale = dtype(1.0 / (1.0 - rate))
    kept = mask.astype(bool)
    np.testing.assert_array_equal(y[kept], x[kept] * scale)
    assert np.all(y[~kept] == 0)
    assert abs(kept.mean() - (1 - rate)) <= 5 * math.sqrt(rate * (1 - rate) / N)
    assert abs(y.mean() / x.mean() - 1) < 0.01  # E[y] = x
    # the mask is the complement of Bernoulli(rate) at the same (seed, offset), in either dtype
    np.testing.assert_array_equal(mask, 1 - kernels.random_bernoulli(N, rate, seed=12, offset=100))
    dy = np.linspace(-1, 1, N).astype(dtype)
    dx = kernels.dropout_backward(dy, mask, rate)
    np.testing.assert_array_equal(dx, np.where(kept, dy * scale, dtype(0)))


def test_dropout_in_place_and_special_values():
    x = np.array([np.inf, np.nan, -np.inf, 1.0] * 1000, dtype=np.float32)
    y, mask = kernels.dropout(x, 0.5, seed=1)
    x2 = x.copy()
    y2, mask2 = kernels.dropout(x2, 0.5, seed=1, out=x2)
    assert y2 is x2
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(mask2, mask)
    assert np.all(y[mask == 0] == 0)  # dropped Inf / NaN become 0
    dy = y.copy()
    assert kernels.dropout_backward(dy, mask, 0.5, out=dy) is dy
    assert np.all(dy[mask == 0] == 0)


def test_dropout_2d_shapes_and_rate_zero():
    x = np.random.default_rng(0).standard_normal((64, 33))
    y, mask = kernels.dropout(x, 0.0, seed=0)
    np.testing.assert_array_equal(y, x)
    assert mask.shape == (64, 33) and np.all(mask == 1)


# ------------------------------------------------------------------ argument errors
@pytest.mark.parametrize("call, argument", [
    (lambda: kernels.random_uniform(4, seed=-1), "seed"),
    (lambda: kernels.random_uniform(4, seed=2 ** 64), "seed"),
    (lambda: kernels.random_uniform(4, seed=1.5), "seed"),
    (lambda: kernels.random_uniform(4, seed=True), "seed"),
    (lambda: kernels.random_uniform(4, seed=0, offset=-1), "offset"),
    (lambda: kernels.random_uniform(4, seed=0, offset=2 ** 64 - 3), "offset"),
    (lambda: kernels.random_uniform(4, seed=0, low=1, high=1), "high"),
    (lambda: kernels.random_uniform(4, seed=0, low=1, high=1 + 1e-9), "high"),
    (lambda: kernels.random_uniform(4, seed=0, low=0, high=np.inf), "high"),
    (lambda: kernels.random_uniform(4, seed=0, low=-1e308, high=1e308, dtype="float64"), "high"),
    (lambda: kernels.random_uniform(4, seed=0, low=0, high=1e39), "high"),  # inf in float32
    (lambda: kernels.random_normal(4, seed=0, mean=-1e39), "mean"),
    (lambda: kernels.random_uniform(4, seed=0, dtype="int32"), "dtype"),
    (lambda: kernels.random_uniform(-1, seed=0), "shape"),
    (lambda: kernels.random_uniform((2, "a"), seed=0), "shape"),
    (lambda: kernels.random_uniform((2, 2), seed=0, out=np.empty((2, 3), np.float32)), "out"),
    (lambda: kernels.random_uniform(4, seed=0, out=np.empty(4, np.int32)), "out"),
    (lambda: kernels.random_uniform(4, seed=0, dtype="float64", out=np.empty(4, np.float32)), "out"),
    (lambda: kernels.random_uniform(4, seed=0, out=np.empty(8, np.float32)[::2]), "out"),
    (lambda: kernels.random_normal(4, seed=0, stddev=-1), "stddev"),
    (lambda: kernels.random_normal(4, seed=0, mean=np.nan), "mean"),
    (lambda: kernels.truncated_normal(4, seed=0, stddev="x"), "stddev"),
    (lambda: kernels.random_bernoulli(4, 1.5, seed=0), "p"),
    (lambda: kernels.random_integers(4, 3, 3, seed=0), "high"),
    (lambda: kernels.random_integers(4, 0, 2 ** 32 + 1, seed=0), "high"),
    (lambda: kernels.dropout(np.ones(4, np.float32), 1.0, seed=0), "rate"),
    (lambda: kernels.dropout(np.ones(4, np.float32), -0.1, seed=0), "rate"),
    (lambda: kernels.dropout(np.ones(4, np.float32), np.nan, seed=0), "rate"),
    (lambda: kernels.dropout(np.ones(4, np.float32), 0.5, seed=-3), "seed"),
    (lambda: kernels.dropout(np.ones(4, np.int32), 0.5, seed=0), "x"),
    (lambda: kernels.dropout(np.ones((4, 4), np.float32).T[::2], 0.5, seed=0), "x"),
    (lambda: kernels.dropout(np.ones(4, np.float32), 0.5, seed=0, mask=np.empty(5, np.uint8)), "mask"),
    (lambda: kernels.dropout(np.ones(4, np.float32), 0.5, seed=0, mask=np.empty(4, bool)), "mask"),
    (lambda: kernels.dropout(np.ones(4, np.float32), 0.5, seed=0, out=np.empty(4, np.float64)), "y"),
    (lambda: kernels.dropout_backward(np.ones(4, np.float32), np.ones(5, np.uint8), 0.5), "mask"),
    (lambda: kernels.dropout_backward(np.ones(4, np.float32), np.ones(4, np.float32), 0.5), "mask"),
    (lambda: kernels.dropout_backward(np.ones(4, np.float32), np.ones(4, np.uint8), 1.0), "rate"),
    (lambda: kernels.dropout_backward([1.0], np.ones(1, np.uint8), 0.5), "dy"),
    (lambda: kernels.philox4x32_10((0, 0, 0), (0, 0)), "counter"),
    (lambda: kernels.philox4x32_10((0, 0, 0, 0), (0, 2 ** 32)), "key"),
    (lambda: kernels.philox4x32_10((0, 0, 0, 0.5), (0, 0)), "counter"),
])
def test_bad_arguments_raise_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        call()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_is_the_bernoulli_complement_on_every_isa(isa, dtype, threads):
    """The vectorized mask (16 Philox blocks per pass on AVX-512) against the scalar Bernoulli stream: every
    start phase within a block, lengths around the 64-element pass, a length split across threads, and block
    indices that carry into the counter's second word."""
    for offset in (0, 1, 2, 3, 5, 2**32 - 7, 2**34 - 9):  # the last crosses block 2^32 (the carry)
        for n in (1, 3, 4, 63, 64, 65, 130, 1027, 70001):
            x = np.ones(n, dtype)
            expected = 1 - kernels.random_bernoulli(n, 0.3, seed=2**40 + 11, offset=offset)
            for t in (1, 2):
                threads(t)
                y, mask = kernels.dropout(x, 0.3, seed=2**40 + 11, offset=offset)
                np.testing.assert_array_equal(mask, expected, err_msg=f"{isa} offset={offset} n={n} threads={t}")
                np.testing.assert_array_equal(y, mask * dtype(1 / 0.7))
