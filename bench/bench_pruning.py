"""Pruned Dense inference: the sparse-weight product (csrc/sparse/) against pynn's dense GEMM on the same
zero-heavy weights, NumPy's dense matmul (OpenBLAS: the baseline, which gains nothing from zeros) and
PyTorch's CSR sparse matmul, across sparsity and batch size. Where the sparse rows overtake the dense ones is
the crossover Dense uses (pynn.layers.dense.SPARSE_CROSSOVER; bench/README.md has the table).

    pytest bench/bench_pruning.py --benchmark-only --benchmark-json=bench/results/pruning.json
    python bench/report.py bench/results/pruning.json
"""
import numpy as np
import pytest

from pynn import _C

try:
    import torch
except ImportError:
    torch = None

SHAPES = [(784, 128), (512, 512)]          # the MNIST MLP's first layer; a wider hidden layer
BATCHES = [1, 8, 64, 1024]
SPARSITIES = [0.5, 0.7, 0.8, 0.9, 0.95]
PEERS = ["pynn", "pynn_dense", "numpy"] + (["torch_csr"] if torch is not None else [])


def pruned_weights(k, n, sparsity):
    """Weights with the `sparsity` fraction of smallest magnitudes at zero, as magnitude pruning leaves them."""
    w = np.random.default_rng(0).standard_normal((k, n)).astype(np.float32)
    w[np.abs(w) < np.quantile(np.abs(w), sparsity)] = 0
    return w


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("m", BATCHES)
@pytest.mark.parametrize("k,n", SHAPES, ids=[f"{k}x{n}" for k, n in SHAPES])
def test_pruned_dense(benchmark, k, n, m, sparsity, peer):
    w = pruned_weights(k, n, sparsity)
    x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
    b = np.zeros(n, np.float32)
    y = np.empty((m, n), np.float32)
    benchmark.group = f"pruned dense {k}x{n} batch {m} sparsity {sparsity:.2f}"
    benchmark.extra_info["flop"] = 2 * m * k * n      # of the dense product, so that rates compare
    if peer == "pynn":          # the sparse kernel
        s = _C.SparseMatrix(w)

        def run():
            s.matmul(x, y, bias=b, activation="relu")
    elif peer == "pynn_dense":
        def run():
            _C.gemm(x, w, y, 1.0, 0.0, False, False, b, "relu")
    elif peer == "numpy":
        def run():
            np.matmul(x, w, out=y)
            np.maximum(y, 0, out=y)
    else:
        wt = torch.from_numpy(w.T.copy()).to_sparse_csr()          # (n, k): y^T = W^T x^T
        xt = torch.from_numpy(x)

        def run():
            y[...] = torch.relu(torch.sparse.mm(wt, xt.T).T).numpy()
    rounds = max(5, min(2000, int(1e9 / (2 * m * k * n))))
    benchmark.pedantic(run, rounds=rounds, warmup_rounds=2)
    np.testing.assert_allclose(y, np.maximum(x.astype(np.float64) @ w, 0), rtol=1e-4, atol=1e-4)
