"""GEMM: pynn against numpy.matmul (OpenBLAS) and PyTorch, one benchmark group per shape.

    pytest bench/bench_gemm.py --benchmark-only --benchmark-json=bench/results/gemm.json
    python bench/report.py bench/results/gemm.json
"""
import numpy as np
import pytest

from pynn import kernels

try:
    import torch
except ImportError:
    torch = None

SQUARE = [(n, n, n) for n in (64, 128, 256, 512, 1024, 2048)]
# (m, k, n, trans_a, trans_b): the products of the workloads' training steps (bench/README.md)
TRAINING = [
    (32, 784, 128, False, False),   # Dense(128) forward, batch 32
    (784, 32, 128, True, False),    # Dense(128) weight gradient X^T dY
    (32, 128, 784, False, True),    # input gradient of a Dense(128) on 784 features: dY W^T
    (32, 128, 64, False, False),    # Dense(64) forward
    (43264, 9, 32, False, False),   # Conv2D(32, 3x3) on 64 MNIST images as im2col
    (7744, 288, 64, False, False),  # Conv2D(64, 3x3) as im2col
    (32, 50, 200, False, False),    # LSTM(50) recurrent step, batch 32
]
CASES = [(m, k, n, False, False) for m, k, n in SQUARE] + TRAINING
PEERS = ["pynn", "numpy"] + (["torch"] if torch is not None else [])


def _label(m, k, n, ta, tb):
    return f"{m}x{k}x{n}" + (" (A^T)" if ta else "") + (" (B^T)" if tb else "")


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("m,k,n,trans_a,trans_b", CASES, ids=[_label(*c) for c in CASES])
def test_sgemm(benchmark, m, k, n, trans_a, trans_b, peer):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    c = np.empty((m, n), np.float32)
    benchmark.group = f"sgemm {_label(m, k, n, trans_a, trans_b)}"
    benchmark.extra_info["flop"] = 2 * m * k * n
    if peer == "pynn":
        def run():
            kernels.gemm(a, b, c, trans_a=trans_a, trans_b=trans_b)
    elif peer == "numpy":
        at, bt = (a.T if trans_a else a), (b.T if trans_b else b)
        def run():
            np.matmul(at, bt, out=c)
    else:
        ta_, tb_, tc_ = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
        ta_, tb_ = (ta_.T if trans_a else ta_), (tb_.T if trans_b else tb_)
        def run():
            torch.matmul(ta_, tb_, out=tc_)
    rounds = max(5, min(2000, int(3e9 / (2 * m * k * n))))
    benchmark.pedantic(run, rounds=rounds, warmup_rounds=2)
    want = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b)
    np.testing.assert_allclose(c, want, rtol=0, atol=1e-4 * k ** 0.5 * np.abs(want).max() ** 0.5 + 1e-3)
