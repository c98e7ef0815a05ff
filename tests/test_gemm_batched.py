"""kernels.gemm_batched (many products of one shape in one call, e.g. attention's per-head products) against
NumPy, on views with strided batch axes, for 1 and 2 threads (bit-identical), and its argument checks."""
import numpy as np
import pytest

import pynn
from pynn import kernels


@pytest.fixture
def two_threads():
    before = pynn.get_num_threads()
    yield
    pynn.set_num_threads(before)


def _op(x, t):
    return np.swapaxes(x, -1, -2) if t else x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("lead", [(1,), (5,), (3, 4)])
def test_matches_numpy_for_every_transpose(rng, dtype, trans_a, trans_b, lead):
    m, k, n = 7, 5, 9
    a = rng.normal(size=lead + ((k, m) if trans_a else (m, k))).astype(dtype)
    b = rng.normal(size=lead + ((n, k) if trans_b else (k, n))).astype(dtype)
    c = rng.normal(size=lead + (m, n)).astype(dtype)
    want = 0.5 * np.matmul(_op(a, trans_a), _op(b, trans_b)) + 2.0 * c
    got = kernels.gemm_batched(a, b, c.copy(), 0.5, 2.0, trans_a, trans_b)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_head_views_in_place_and_thread_count_independent(rng, two_threads):
    batch, seq, heads, dim = 4, 16, 3, 8
    q = rng.normal(size=(batch, seq, heads * dim)).astype(np.float32)
    k = rng.normal(size=(batch, seq, heads * dim)).astype(np.float32)
    qh = q.reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3)     # (b, h, t, d) views, strided rows
    kh = k.reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3)
    want = np.einsum("bhtd,bhsd->bhts", qh, kh)
    results = []
    for threads in (1, 2):
        pynn.set_num_threads(threads)
        results.append(kernels.gemm_batched(qh, kh, trans_b=True))
    np.testing.assert_allclose(results[0], want, rtol=1e-5, atol=1e-5)
    assert results[0].tobytes() == results[1].tobytes()
    out = np.zeros((batch, seq, heads * dim), np.float32)             # written through an interleaved view
    probs = rng.random((batch, heads, seq, seq)).astype(np.float32)
    vh = q.reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3)
    kernels.gemm_batched(probs, vh, out.reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3))
    np.testing.assert_allclose(out.reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3), probs @ vh,
                               rtol=1e-5, atol=1e-5)


def test_each_product_equals_the_single_gemm(rng):
    a = rng.normal(size=(6, 33, 20)).astype(np.float32)
    b = rng.normal(size=(6, 20, 17)).astype(np.float32)
    got = kernels.gemm_batched(a, b)
    for i in range(6):
        assert got[i].tobytes() == kernels.matmul(a[i], b[i]).tobytes()


def test_argument_errors(rng):
    a = rng.normal(size=(2, 3, 4)).astype(np.float32)
    b = rng.normal(size=(2, 4, 5)).astype(np.float32)
    with pytest.raises(ValueError, match="same batch axes"):
        kernels.gemm_batched(a, np.zeros((3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="rank of at least 3"):
        kernels.gemm_batched(a[0], b[0], np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="must have 4 rows"):
        kernels.gemm_batched(a, np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="expected matrices of shape"):
        kernels.gemm_batched(a, b, np.zeros((2, 3, 6), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        kernels.gemm_batched(a, b.astype(np.float64))
    with pytest.raises(ValueError, match="overlap one another"):
        shared = np.zeros((3, 5), np.float32)       # both products would write the same matrix
        kernels.gemm_batched(a, b, np.lib.stride_tricks.as_strided(shared, (2, 3, 5), (0,) + shared.strides))
    with pytest.raises(ValueError, match="non-negative strides"):
        kernels.gemm_batched(a[::-1], b)
    with pytest.raises(ValueError, match="share memory"):
        big = np.zeros((2, 3, 4), np.float32)
        kernels.gemm_batched(big, np.zeros((2, 4, 4), np.float32), big)


def test_ops_matmul_uses_it_for_stacks(rng):
    from pynn import ops
    a = rng.normal(size=(3, 1, 4, 5)).astype(np.float32)
    b = rng.normal(size=(2, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(ops.matmul(a, b), np.matmul(a, b), rtol=1e-5, atol=1e-5)
