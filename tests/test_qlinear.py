"""qlinear (csrc/quantized/qgemm.cpp): rows quantized dynamically or with a static scale, then the int8
product, in one call: equal to quantize_rows + qgemm bit for bit, the static form to a NumPy transcription;
any thread count; strided rows; argument errors."""
import numpy as np
import pytest

from pynn import _C, kernels


def packed(rng, k, n):
    w = rng.standard_normal((k, n)).astype(np.float32)
    q, scale = kernels.quantize_columns(w)
    return q, scale, kernels.pack_weights(q)


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"], indirect=True)
@pytest.mark.parametrize("m,k,n", [(1, 7, 3), (5, 64, 17), (13, 129, 40)])
def test_dynamic_equals_quantize_rows_then_qgemm(isa, m, k, n, rng):
    _, scale, p = packed(rng, k, n)
    x = rng.standard_normal((m, k)).astype(np.float32) * 3
    bias = rng.standard_normal(n).astype(np.float32)
    q = np.empty((m, (k + 1) // 2 * 2), np.int16)
    xs = np.empty(m, np.float32)
    _C.quantize_rows(x, q, xs)
    want = np.empty((m, n), np.float32)
    _C.qgemm(q, xs, p, scale, want, k, bias=bias, activation="relu")
    y = np.full((m, n), np.nan, np.float32)
    _C.qlinear(x, p, scale, y, k, bias=bias, activation="relu")
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"], indirect=True)
def test_static_scale_matches_numpy(isa, rng):
    m, k, n = 9, 50, 20
    q, scale, p = packed(rng, k, n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    x[0, :3] = [100.0, -1e30, 0.5]                     # far beyond the calibrated range: clipped
    s = np.float32(127 / 2.5)
    xq = np.clip(np.rint(np.clip(x * s, -128, 128)), -127, 127).astype(np.int64)
    want = (xq @ q.astype(np.int64)).astype(np.float32) / (s * scale)
    y = np.empty((m, n), np.float32)
    _C.qlinear(x, p, scale, y, k, input_scale=float(s))
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)


def test_strided_rows_and_any_thread_count(rng, threads):
    k, n = 300, 70
    _, scale, p = packed(rng, k, n)
    big = rng.standard_normal((40, k + 10)).astype(np.float32)
    x = big[:, 4:4 + k]
    results = []
    for t in (1, 2, 3):
        threads(t)
        out = np.zeros((40, n + 6), np.float32)
        _C.qlinear(x, p, scale, out[:, 3:3 + n], k, activation="tanh")
        assert not out[:, :3].any() and not out[:, 3 + n:].any()
        results.append(out[:, 3:3 + n].copy())
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    contiguous = np.empty((40, n), np.float32)
    _C.qlinear(np.ascontiguousarray(x), p, scale, contiguous, k, activation="tanh")
    np.testing.assert_array_equal(contiguous, results[0])


def test_argument_errors(rng):
    k, n = 8, 5
    _, scale, p = packed(rng, k, n)
    x = np.ones((3, k), np.float32)
    y = np.empty((3, n), np.float32)
    with pytest.raises(ValueError, match="x: expected dtype float32"):
        _C.qlinear(x.astype(np.float64), p, scale, y, k)
    with pytest.raises(ValueError, match="x: expected 8 columns"):
        _C.qlinear(np.ones((3, 7), np.float32), p, scale, y, k)
    with pytest.raises(ValueError, match="y: expected shape"):
        _C.qlinear(x, p, scale, np.empty((2, n), np.float32), k)
    with pytest.raises(ValueError, match="packed_b"):
        _C.qlinear(x, p[:-1], scale, y, k)
    with pytest.raises(ValueError, match="b_scale"):
        _C.qlinear(x, p, scale[:-1], np.empty((3, n), np.float32), k)
    with pytest.raises(ValueError, match="input_scale must be a positive finite number"):
        _C.qlinear(x, p, scale, y, k, input_scale=0.0)
    with pytest.raises(ValueError, match="input_scale must be a positive finite number"):
        _C.qlinear(x, p, scale, y, k, input_scale=float("nan"))
    with pytest.raises(ValueError, match="must not share memory with x"):
        both = np.ones((3, k + n), np.float32)
        _C.qlinear(both[:, :k], p, scale, both[:, k:], k)
