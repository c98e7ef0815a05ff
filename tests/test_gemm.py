"""GEMM (csrc/gemm/) against NumPy on every ISA path, every transpose pair, many shapes."""
import numpy as np
import pytest

import pynn
from pynn import _C, kernels

SHAPES = [  # (m, k, n)
    (1, 1, 1), (0, 5, 3), (4, 0, 3), (3, 5, 0), (1, 7, 1), (2, 3, 5), (13, 17, 19), (31, 1, 33),
    (97, 61, 7), (7, 127, 101), (1, 300, 200), (300, 1, 1), (129, 131, 67), (32, 784, 128),
    (784, 32, 128), (32, 128, 64), (600, 513, 35), (5, 1000, 1100),
    (400, 40, 1024),  # a small B whose rows are 4 KB apart, packed because 400 rows reuse it
]


def _operands(rng, m, k, n, ta, tb, dtype):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def _expected(a, b, ta, tb, alpha=1.0, beta=0.0, c=None):
    a64 = a.astype(np.float64).T if ta else a.astype(np.float64)
    b64 = b.astype(np.float64).T if tb else b.astype(np.float64)
    r = alpha * (a64 @ b64)
    if beta != 0.0:
        r += beta * c.astype(np.float64)
    return r


def _tol(dtype, k):
    return (3e-6 if dtype == np.float32 else 1e-14) * max(1, k) ** 0.5 * 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_matches_numpy(isa, dtype, ta, tb, rng):
    for m, k, n in SHAPES:
        a, b = _operands(rng, m, k, n, ta, tb, dtype)
        c = kernels.gemm(a, b, trans_a=ta, trans_b=tb)
        assert c.shape == (m, n) and c.dtype == dtype
        np.testing.assert_allclose(c, _expected(a, b, ta, tb), rtol=0, atol=_tol(dtype, k) * max(1, k) ** 0.5,
                                   err_msg=f"{isa} m={m} k={k} n={n} ta={ta} tb={tb}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_alpha_beta(isa, dtype, rng):
    for m, k, n in [(5, 9, 3), (50, 300, 70), (200, 257, 130)]:
        for ta, tb in [(False, False), (True, True)]:
            a, b = _operands(rng, m, k, n, ta, tb, dtype)
            c0 = rng.standard_normal((m, n)).astype(dtype)
            c = c0.copy()
            kernels.gemm(a, b, c, alpha=-0.75, beta=1.5, trans_a=ta, trans_b=tb)
            np.testing.assert_allclose(c, _expected(a, b, ta, tb, -0.75, 1.5, c0), rtol=0,
                                       atol=_tol(dtype, k) * k ** 0.5 * 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_beta_zero_never_reads_c(isa, dtype, rng):
    for m, k, n in [(3, 4, 5), (64, 700, 40), (300, 300, 300)]:
        a, b = _operands(rng, m, k, n, False, False, dtype)
        c = np.full((m, n), np.nan, dtype=dtype)
        kernels.gemm(a, b, c, beta=0.0)
        assert np.isfinite(c).all()
        np.testing.assert_allclose(c, _expected(a, b, False, False), rtol=0, atol=_tol(dtype, k) * k ** 0.5)


def test_k_zero_and_alpha_zero_scale_c(isa, rng):
    c0 = rng.standard_normal((4, 6)).astype(np.float32)
    c = c0.copy()
    kernels.gemm(np.zeros((4, 0), np.float32), np.zeros((0, 6), np.float32), c, beta=2.0)
    np.testing.assert_array_equal(c, 2 * c0)
    a = np.full((4, 3), np.nan, np.float32)  # alpha == 0: A @ B is not computed, as in BLAS
    c = c0.copy()
    kernels.gemm(a, np.ones((3, 6), np.float32), c, alpha=0.0, beta=0.5)
    np.testing.assert_array_equal(c, 0.5 * c0)


def test_reference_kernel_matches_numpy(rng):
    for ta in (False, True):
        for tb in (False, True):
            a, b = _operands(rng, 23, 41, 17, ta, tb, np.float64)
            c = np.empty((23, 17))
            _C.gemm(a, b, c, 1.0, 0.0, ta, tb, reference=True)
            np.testing.assert_allclose(c, _expected(a, b, ta, tb), rtol=1e-13, atol=1e-13)


def test_leading_dimensions_and_views(isa, rng):
    big_a = rng.standard_normal((70, 90)).astype(np.float32)
    big_b = rng.standard_normal((80, 60)).astype(np.float32)
    big_c = np.zeros((50, 75), np.float32)
    a, b = big_a[3:43, 5:65], big_b[10:70, 2:37]  # row strides 90 and 60 elements
    c = big_c[5:45, 10:45]
    kernels.gemm(a, b, c)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, atol=1e-4)
    assert not big_c[:5].any() and not big_c[:, :10].any() and not big_c[45:].any() and not big_c[:, 45:].any()


def test_matmul_semantics(rng):
    a = rng.standard_normal((37, 29))
    b = rng.standard_normal((29, 11))
    np.testing.assert_allclose(kernels.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
    af, bf = np.asfortranarray(a), np.asfortranarray(b)
    np.testing.assert_allclose(kernels.matmul(af, bf), a @ b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kernels.matmul(a[:, ::2], b[::2]), a[:, ::2] @ b[::2], rtol=1e-12, atol=1e-12)
    assert kernels.matmul(a.astype(np.float32), b.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_bit_identical_across_thread_counts(isa, threads, dtype, ta, tb, rng):
    for m, k, n in [(32, 784, 128), (784, 32, 128), (32, 128, 784), (333, 517, 1029), (1000, 300, 10)]:
        a, b = _operands(rng, m, k, n, ta, tb, dtype)
        threads(1)
        c1 = kernels.gemm(a, b, trans_a=ta, trans_b=tb)
        threads(2)
        c2 = kernels.gemm(a, b, trans_a=ta, trans_b=tb)
        threads(3)
        c3 = kernels.gemm(a, b, trans_a=ta, trans_b=tb)
        assert np.array_equal(c1, c2) and np.array_equal(c1, c3), f"m={m} k={k} n={n}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_activation_epilogue(isa, dtype, rng):
    for m, k, n in [(1, 3, 2), (32, 784, 128), (300, 600, 70)]:
        a, b = _operands(rng, m, k, n, False, False, dtype)
        bias = rng.standard_normal(n).astype(dtype)
        c = np.empty((m, n), dtype)
        _C.gemm(a, b, c, 1.0, 0.0, False, False, bias=bias, activation="relu")
        want = np.maximum(_expected(a, b, False, False) + bias, 0)
        np.testing.assert_allclose(c, want, rtol=0, atol=_tol(dtype, k) * k ** 0.5)
        _C.gemm(a, b, c, 1.0, 0.0, False, False, bias=bias, activation="tanh")
        np.testing.assert_allclose(c, np.tanh(_expected(a, b, False, False) + bias), rtol=0,
                                   atol=_tol(dtype, k) * k ** 0.5)


def test_special_values_propagate(isa):
    a = np.ones((20, 30), np.float32)
    a[3, 7] = np.nan
    a[5, 2] = np.inf
    c = kernels.gemm(a, np.ones((30, 40), np.float32))
    want = a.astype(np.float64) @ np.ones((30, 40))
    np.testing.assert_array_equal(np.isnan(c), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(c), np.isinf(want))


@pytest.mark.parametrize("call,match", [
    (lambda: kernels.matmul(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32)), r"a.shape\[1\] must equal"),
    (lambda: kernels.matmul(np.ones((2, 3), np.float32), np.ones((3, 2), np.float64)), "expected dtype float32"),
    (lambda: kernels.matmul(np.ones((2, 3), np.int64), np.ones((3, 2), np.int64)), "float32 or float64, got int64"),
    (lambda: kernels.matmul(np.ones(3, np.float32), np.ones((3, 2), np.float32)), "2-D array, got shape"),
    (lambda: kernels.matmul([[1.0]], np.ones((1, 1))), "numpy.ndarray, got list"),
    (lambda: kernels.gemm(np.ones((2, 3)), np.ones((3, 4)), np.empty((2, 5))), r"c: expected shape \(2, 4\)"),
    (lambda: kernels.gemm(np.ones((2, 3)), np.ones((2, 4)), trans_a=False), "op\\(b\\) must have 3 rows"),
    (lambda: kernels.gemm(np.ones((2, 3)), np.ones((3, 4)), np.empty((4, 2)).T), "contiguous elements"),
    (lambda: kernels.gemm(np.ones((2, 3)), np.ones((3, 4)), np.empty((2, 4), np.float32)), "c: expected dtype float64"),
])
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_output_aliasing_an_input_is_refused():
    x = np.ones((4, 4))
    with pytest.raises(ValueError, match="must not share memory"):
        kernels.gemm(x, np.ones((4, 4)), x)
    c = np.ones((4, 4))
    ro = np.ones((4, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        kernels.gemm(c, c.copy(), ro)


def test_bias_and_activation_errors():
    a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.empty((2, 4))
    with pytest.raises(ValueError, match=r"bias: expected shape \(4,\)"):
        _C.gemm(a, b, c, bias=np.ones(3))
    with pytest.raises(ValueError, match="unknown name 'nope'"):
        _C.gemm(a, b, c, activation="nope")


def test_isa_selection_errors():
    with pytest.raises(ValueError, match="expected one of"):
        _C.set_isa("sse9")
    assert _C.get_isa() in _C.supported_isas()


def test_threads_api(threads):
    threads(3)
    assert pynn.get_num_threads() == 3
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="integer >= 1"):
            pynn.set_num_threads(bad)
    assert pynn.get_num_threads() == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_alignment_of_c_same_bits_for_any_thread_count(isa, threads, dtype, rng):
    """Column panels shift with C's alignment when threads share its rows; no entry's sum may change."""
    for m, k, n, tb in [(64, 64, 64, False), (32, 128, 64, False), (20, 300, 1000, True), (7, 33, 70, False)]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
        bias = rng.standard_normal(n).astype(dtype)
        buf = np.empty(m * n + 32, dtype)
        results = []
        for offset in range(0, 17, 3):
            for t in (1, 2):
                threads(t)
                c = buf[offset:offset + m * n].reshape(m, n)
                _C.gemm(a, b, c, 1.0, 0.0, False, tb, bias=bias, activation="relu")
                results.append(c.copy())
        want = np.maximum(a.astype(np.float64) @ (b.T if tb else b) + bias, 0)
        np.testing.assert_allclose(results[0], want, rtol=0, atol=_tol(dtype, k) * k ** 0.5)
        for r in results[1:]:
            assert np.array_equal(r, results[0]), f"m={m} k={k} n={n}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_few_rows_path(isa, dtype, rng, threads):
    """m <= 4 (one sample's inference) has its own kernel: A and B in place, columns split across threads.
    Every row count, ragged column counts around the vector widths, A transposed, alpha / beta, a strided C,
    bias + activation, and bit-identical results for 1 and 2 threads."""
    for m in (1, 2, 3, 4, 5):
        for k, n in [(1, 1), (37, 15), (37, 17), (64, 64), (19, 65), (784, 128), (33, 257), (300, 1100)]:
            for ta in (False, True):
                a, b = _operands(rng, m, k, n, ta, False, dtype)
                c0 = rng.standard_normal((m, n + 3)).astype(dtype)
                bias = rng.standard_normal(n).astype(dtype)
                results = []
                for t in (1, 2):
                    threads(t)
                    c = c0.copy()
                    _C.gemm(a, b, c[:, 1:n + 1], -0.5, 1.25, ta, False)
                    np.testing.assert_array_equal(c[:, 0], c0[:, 0])
                    np.testing.assert_array_equal(c[:, n + 1:], c0[:, n + 1:])
                    y = np.empty((m, n), dtype)
                    _C.gemm(a, b, y, 1.0, 0.0, ta, False, bias=bias, activation="relu")
                    results.append((c, y))
                np.testing.assert_array_equal(results[0][0], results[1][0])
                np.testing.assert_array_equal(results[0][1], results[1][1])
                c, y = results[0]
                expected = _expected(a, b, ta, False, -0.5, 1.25, c0[:, 1:n + 1])
                np.testing.assert_allclose(c[:, 1:n + 1], expected, rtol=0, atol=_tol(dtype, k) * k ** 0.5 * 2,
                                           err_msg=f"{isa} m={m} k={k} n={n} ta={ta}")
                relu = np.maximum(_expected(a, b, ta, False) + bias, 0)
                np.testing.assert_allclose(y, relu, rtol=0, atol=_tol(dtype, k) * k ** 0.5 * 2)


def _before_guard_page(shape, dtype):
    """A C-contiguous array whose last byte is the last before a page that may not be read (PROT_NONE): a
    kernel reading past its end crashes the test."""
    import ctypes
    import mmap
    page = mmap.PAGESIZE
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    pages = -(-nbytes // page) + 1
    buf = mmap.mmap(-1, pages * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(base + (pages - 1) * page, page, 0) == 0
    array = np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=(pages - 1) * page - nbytes)
    return array.view(dtype).reshape(shape), buf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_narrow_b_ending_at_a_guard_page_is_never_read_past(isa, dtype, rng, threads):
    """B read in place with ragged columns (a Dense(10) head): its whole-vector loads stop inside B. B ends
    right before an unreadable page, so one value read past it would crash; few-row and panel paths."""
    for m in (1, 3, 5, 40):
        for k, n in [(1600, 10), (128, 10), (33, 3), (7, 1), (64, 17), (5, 31), (300, 33)]:
            b, keep = _before_guard_page((k, n), dtype)
            b[...] = rng.standard_normal((k, n))
            a = rng.standard_normal((m, k)).astype(dtype)
            for t in (1, 2):
                threads(t)
                y = np.empty((m, n), dtype)
                _C.gemm(a, b, y, 1.0, 0.0, False, False)
                np.testing.assert_allclose(y, _expected(a, b, False, False), rtol=0, atol=_tol(dtype, k) * k ** 0.5 * 2,
                                           err_msg=f"{isa} m={m} k={k} n={n}")
            del b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_few_row_panels_read_b_in_place(isa, dtype, rng, threads):
    """B of up to 1 MB is read in place when only a few row panels use it (a Dense layer of 1600 inputs on a
    batch of 64): against NumPy, with a bias, on 1 and 2 threads bit-identically."""
    for m, k, n in [(64, 1600, 128), (50, 2001, 97), (96, 700, 300)]:
        a, b = _operands(rng, m, k, n, False, False, dtype)
        bias = rng.standard_normal(n).astype(dtype)
        outs = []
        for t in (1, 2):
            threads(t)
            c = np.empty((m, n), dtype)
            _C.gemm(a, b, c, 1.0, 0.0, False, False, bias=bias)
            outs.append(c)
        np.testing.assert_array_equal(outs[0], outs[1])
        np.testing.assert_allclose(outs[0], _expected(a, b, False, False) + bias, rtol=0,
                                   atol=_tol(dtype, k) * k ** 0.5 * 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_deep_products_split_over_k(isa, dtype, rng, threads):
    """A short, deep product with a large B (a Dense layer's batch on 784+ inputs) is summed over k in 2 or 4
    fixed chunks, one thread each, then added in order: against NumPy with alpha, beta, a strided C, A
    transposed, bias + activation, and bit-identical on 1, 2 and 3 threads (3 threads over 4 chunks). Also
    deep products with a small C (a weight gradient over 4096+ tokens: k >= 4 max(m, n), 2 or 4 chunks)."""
    for m, k, n in [(5, 768, 128), (32, 784, 128), (64, 1600, 128), (96, 1536, 70), (33, 3001, 97),
                    (64, 2048, 100), (130, 4099, 70), (70, 8200, 33)]:
        for ta in (False, True):
            a, b = _operands(rng, m, k, n, ta, False, dtype)
            c0 = rng.standard_normal((m, n + 5)).astype(dtype)
            bias = rng.standard_normal(n).astype(dtype)
            results = []
            for t in (1, 2, 3):
                threads(t)
                c = c0.copy()
                _C.gemm(a, b, c[:, 2:n + 2], 0.5, -1.5, ta, False)
                np.testing.assert_array_equal(c[:, :2], c0[:, :2])
                np.testing.assert_array_equal(c[:, n + 2:], c0[:, n + 2:])
                y = np.empty((m, n), dtype)
                _C.gemm(a, b, y, 1.0, 0.0, ta, False, bias=bias, activation="relu")
                results.append((c, y))
            for c, y in results[1:]:
                np.testing.assert_array_equal(c, results[0][0], err_msg=f"m={m} k={k} n={n} ta={ta}")
                np.testing.assert_array_equal(y, results[0][1], err_msg=f"m={m} k={k} n={n} ta={ta}")
            c, y = results[0]
            atol = _tol(dtype, k) * k ** 0.5 * 2
            np.testing.assert_allclose(c[:, 2:n + 2], _expected(a, b, ta, False, 0.5, -1.5, c0[:, 2:n + 2]),
                                       rtol=0, atol=atol, err_msg=f"{isa} m={m} k={k} n={n} ta={ta}")
            np.testing.assert_allclose(y, np.maximum(_expected(a, b, ta, False) + bias, 0), rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_a_times_wide_b_transposed(isa, dtype, rng, threads):
    """C = A B^T with a small A and a wider B (Dense's input gradient dY W^T) is computed as C^T = B A^T and
    transposed back in blocks: ragged row and column counts around the 4 x 4 and 16 x 16 blocks, a strided C
    whose neighbours stay untouched, against NumPy and bit-identical on 1 and 2 threads."""
    for m, k, n in [(1, 40, 3), (3, 64, 37), (4, 32, 16), (17, 33, 101), (64, 128, 1600), (62, 50, 250)]:
        a, b = _operands(rng, m, k, n, False, True, dtype)
        c0 = rng.standard_normal((m, n + 7)).astype(dtype)
        results = []
        for t in (1, 2):
            threads(t)
            c = c0.copy()
            _C.gemm(a, b, c[:, 3:n + 3], 1.0, 0.0, False, True)
            np.testing.assert_array_equal(c[:, :3], c0[:, :3])
            np.testing.assert_array_equal(c[:, n + 3:], c0[:, n + 3:])
            results.append(c)
        np.testing.assert_array_equal(results[0], results[1], err_msg=f"m={m} k={k} n={n}")
        np.testing.assert_allclose(results[0][:, 3:n + 3], _expected(a, b, False, True), rtol=0,
                                   atol=_tol(dtype, k) * k ** 0.5, err_msg=f"{isa} m={m} k={k} n={n}")
