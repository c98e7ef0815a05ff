"""The layer-normalization kernel (csrc/normalization/layer_norm.*) against a NumPy transcription of its
formulas, on every instruction set this CPU runs; bit-identical results for any thread count; argument errors."""
import numpy as np
import pytest

from pynn import _C, kernels


def reference(x, gamma, beta, dy, epsilon, centered):
    """(y, dx, dgamma, dbeta) in float64: y = n gamma + beta with n = (x - mean) / sqrt(var + eps) (x / sqrt(...)
    when not centered; var is the biased variance about the mean either way); dx by the chain rule."""
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    mean = x.mean(1, keepdims=True)
    inv = 1 / np.sqrt(((x - mean) ** 2).mean(1, keepdims=True) + epsilon)
    c = (x - mean) * inv
    n = c if centered else x * inv
    g = np.ones(x.shape[1]) if gamma is None else gamma.astype(np.float64)
    y = n * g + (0 if beta is None else beta)
    u = dy * g
    dx = u - c * (u * n).mean(1, keepdims=True)
    if centered:
        dx -= u.mean(1, keepdims=True)
    return y, dx * inv, (dy * n).sum(0), dy.sum(0)


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"], indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("features", [1, 5, 16, 37, 128])
def test_matches_numpy(isa, dtype, features, rng):
    x = (rng.standard_normal((23, features)) * 3 + 2).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    gamma, beta = rng.standard_normal(features).astype(dtype), rng.standard_normal(features).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for centered, g, b in [(True, gamma, beta), (True, None, None), (True, gamma, None), (False, gamma, None),
                           (False, None, None)]:
        y, mean, inv = kernels.layer_norm(x, g, b, epsilon=1e-3, centered=centered)
        ry, rdx, rdg, rdb = reference(x, g, b, dy, 1e-3, centered)
        np.testing.assert_allclose(y, ry, **tol, err_msg=f"{isa} centered={centered}")
        np.testing.assert_allclose(mean, x.astype(np.float64).mean(1), **tol)
        dgamma, dbeta = np.full(features, 0.5, dtype), np.full(features, -1.0, dtype)   # added into
        dx = kernels.layer_norm_backward(x, dy, mean, inv, gamma=g, dgamma=dgamma, dbeta=dbeta, centered=centered)
        np.testing.assert_allclose(dx, rdx, **tol, err_msg=f"{isa} centered={centered}")
        np.testing.assert_allclose(dgamma, rdg + 0.5, **tol)
        np.testing.assert_allclose(dbeta, rdb - 1.0, **tol)


def test_bit_identical_for_any_thread_count_and_in_place(rng, threads):
    """4099 rows of 96 features: several chunks of the parameter-gradient sums, split unevenly over threads."""
    x = rng.standard_normal((4099, 96)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    gamma, beta = rng.standard_normal(96).astype(np.float32), rng.standard_normal(96).astype(np.float32)
    results = []
    for t in (1, 2, 3):
        threads(t)
        y, mean, inv = kernels.layer_norm(x, gamma, beta, epsilon=1e-5)
        dgamma, dbeta = np.zeros(96, np.float32), np.zeros(96, np.float32)
        dx = kernels.layer_norm_backward(x, dy, mean, inv, gamma=gamma, dgamma=dgamma, dbeta=dbeta)
        results.append((y, mean, inv, dx, dgamma, dbeta))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
    # dx written over dy gives the same bits.
    y, mean, inv = results[0][:3]
    d = dy.copy()
    _C.layer_norm_backward(x, d, mean, inv, gamma, d, None, None, True)
    np.testing.assert_array_equal(d, results[0][3])


def test_argument_errors(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y, mean, inv = np.empty_like(x), np.empty(4, np.float32), np.empty(4, np.float32)
    with pytest.raises(ValueError, match=r"gamma: expected shape \(3,\)"):
        _C.layer_norm_forward(x, np.ones(4, np.float32), None, y, mean, inv, 1e-3, True)
    with pytest.raises(ValueError, match=r"mean: expected shape \(4,\)"):
        _C.layer_norm_forward(x, None, None, y, np.empty(3, np.float32), inv, 1e-3, True)
    with pytest.raises(ValueError, match="x: expected a 2-D"):
        _C.layer_norm_forward(x.reshape(2, 2, 3), None, None, y, mean, inv, 1e-3, True)
    with pytest.raises(ValueError, match="y: must not share memory with x"):
        _C.layer_norm_forward(x, None, None, x, mean, inv, 1e-3, True)
    with pytest.raises(ValueError, match="epsilon"):
        _C.layer_norm_forward(x, None, None, y, mean, inv, -1.0, True)
    with pytest.raises(ValueError, match="dy: expected dtype float32"):
        _C.layer_norm_backward(x, x.astype(np.float64), mean, inv, None, None, None, None, True)
    with pytest.raises(ValueError, match="dx: must not share memory with x"):
        _C.layer_norm_backward(x, y, mean, inv, None, x, None, None, True)
