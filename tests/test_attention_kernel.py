"""The fused attention kernel (csrc/attention/) against NumPy, against the unfused batched-GEMM path it
replaces (the same bits: the same GEMM and softmax kernels per head), for any thread count; argument errors."""
import numpy as np
import pytest

from pynn import _C, kernels
from pynn.layers.attention.base import batched_gemm, softmax_in_place


def heads(x2, b, n):
    return x2.reshape(b, -1, n, x2.shape[1] // n).transpose(0, 2, 1, 3)


def numpy_attention(q, k, v, b, n, keep, d_out, alpha):
    Q, K, V = heads(q, b, n), heads(k, b, n), heads(v, b, n)
    s = Q @ K.transpose(0, 1, 3, 2)
    if keep is not None:
        s = np.where(keep, s, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    if keep is not None:
        p = np.where(keep, p, 0)
    out = (p @ V).transpose(0, 2, 1, 3).reshape(q.shape[0], -1)
    dO = heads(d_out, b, n)
    dP = dO @ V.transpose(0, 1, 3, 2)
    dS = p * (dP - (dP * p).sum(-1, keepdims=True))
    flat = lambda x: x.transpose(0, 2, 1, 3).reshape(-1, x.shape[1] * x.shape[3])  # noqa: E731
    return p, out, flat(alpha * dS @ K), flat(dS.transpose(0, 1, 3, 2) @ Q), flat(p.transpose(0, 1, 3, 2) @ dO)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask", [None, "keys", "causal", "full"])
def test_matches_numpy(dtype, mask, rng):
    b, n, t, s, dk, dv = 3, 2, 5, 7, 4, 6
    q = rng.standard_normal((b * t, n * dk)).astype(dtype)
    k = rng.standard_normal((b * s, n * dk)).astype(dtype)
    v = rng.standard_normal((b * s, n * dv)).astype(dtype)
    keep = {None: None, "keys": rng.random((b, 1, 1, s)) > 0.4, "causal": np.tri(t, s, dtype=bool),
            "full": rng.random((b, n, t, s)) > 0.5}[mask]
    if keep is not None and mask != "causal":
        keep[0] = False                          # a sample that may see nothing: all-zero probabilities
    d_out = rng.standard_normal((b * t, n * dv)).astype(dtype)
    probs, out = kernels.attention(q, k, v, b, n, keep)
    dq, dk_, dv_ = kernels.attention_backward(q, k, v, probs, d_out, b, n, alpha=0.7)
    want = numpy_attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), b, n, keep,
                           d_out.astype(np.float64), 0.7)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for got, ref, name in zip((probs, out, dq, dk_, dv_), want, ("probs", "out", "dq", "dk", "dv")):
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol, err_msg=f"{name} mask={mask}")
    if mask == "keys":
        assert not probs[0].any() and not out[:t].any()


def test_same_bits_as_the_unfused_path_on_any_thread_count(rng, threads):
    b, n, t, s, dk = 4, 4, 33, 40, 16
    q, k, v = (rng.standard_normal((b * r, n * dk)).astype(np.float32) for r in (t, s, s))
    keep = rng.random((b, 1, 1, s)) > 0.2
    results = []
    for count in (1, 2, 3):
        threads(count)
        probs, out = kernels.attention(q, k, v, b, n, keep)
        results.append((probs, out) + kernels.attention_backward(q, k, v, probs, out, b, n, alpha=0.25))
    for other in results[1:]:
        for x, y in zip(results[0], other):
            np.testing.assert_array_equal(x, y)
    scores = np.empty((b, n, t, s), np.float32)
    batched_gemm(heads(q, b, n), heads(k, b, n), scores, trans_b=True)
    probs = softmax_in_place(scores, ~np.broadcast_to(keep, scores.shape), fill=-1e9)
    out = np.empty((b * t, n * dk), np.float32)
    batched_gemm(probs, heads(v, b, n), heads(out, b, n))
    np.testing.assert_array_equal(probs, results[0][0])
    np.testing.assert_array_equal(out, results[0][1])


def test_argument_errors(rng):
    q = rng.standard_normal((6, 8)).astype(np.float32)
    probs, out = np.empty((2, 2, 3, 3), np.float32), np.empty((6, 8), np.float32)
    with pytest.raises(ValueError, match="multiple of batch=4"):
        _C.attention_forward(q, q, q, None, probs, out, 4, 2)
    with pytest.raises(ValueError, match=r"probs: expected shape \(2, 2, 3, 3\)"):
        _C.attention_forward(q, q, q, None, np.empty((2, 2, 3, 4), np.float32), out, 2, 2)
    with pytest.raises(ValueError, match="out must not share memory with q"):
        _C.attention_forward(q, q, q, None, probs, q, 2, 2)
    with pytest.raises(ValueError, match="keep: expected dtype bool or uint8"):
        _C.attention_forward(q, q, q, np.ones((2, 2, 3, 3), np.int32), probs, out, 2, 2)
    with pytest.raises(ValueError, match="v: expected dtype float32"):
        _C.attention_forward(q, q, q.astype(np.float64), None, probs, out, 2, 2)
    d = np.empty_like(q)
    with pytest.raises(ValueError, match="dk must not share memory with dq"):
        _C.attention_backward(q, q, q, probs, out, d, d, np.empty_like(q), 2, 2, 1.0)
