"""W1 and W5 (bench/README.md, Workloads): the tutorial MLP on MNIST.

W1: one training epoch (60k images, batch 32, Adam, dropout 0.2): pynn against PyTorch eager and a NumPy
from-scratch MLP (plain SGD, no dropout, as W1 defines it). W5: model(x) on one sample.

    pytest bench/bench_mlp.py --benchmark-only --benchmark-json=bench/results/mlp.json
"""
import numpy as np
import pytest

import pynn
from pynn import layers

try:
    import torch
except ImportError:
    torch = None

PEERS = ["pynn", "numpy"] + (["torch"] if torch is not None else [])


@pytest.fixture(scope="module")
def mnist(raw_mnist):
    x, y, xt, yt = raw_mnist
    return (x.reshape(len(x), 784).astype(np.float32) / 255, y,
            xt.reshape(len(xt), 784).astype(np.float32) / 255, yt)


def pynn_mlp():
    model = pynn.models.Sequential([
        layers.Input(shape=(784,)), layers.Dense(128, activation="relu"), layers.Dropout(0.2),
        layers.Dense(64, activation="relu"), layers.Dropout(0.2), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_mlp():
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(64, 10))
    return model, torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)


def torch_epoch(model, opt, x, y, batch=32):
    model.train()
    perm = torch.randperm(len(x))
    lossf = torch.nn.CrossEntropyLoss()
    for i in range(0, len(x), batch):
        idx = perm[i:i + batch]
        opt.zero_grad()
        loss = lossf(model(x[idx]), y[idx])
        loss.backward()
        opt.step()


class NumpyMLP:
    """784-128-64-10 ReLU MLP with softmax cross-entropy and plain SGD, written directly in NumPy."""

    def __init__(self, seed=0, lr=0.1):
        rng = np.random.default_rng(seed)
        sizes = [784, 128, 64, 10]
        self.w = [rng.uniform(-1, 1, (a, b)).astype(np.float32) * np.sqrt(6 / (a + b), dtype=np.float32)
                  for a, b in zip(sizes, sizes[1:])]
        self.b = [np.zeros(b, np.float32) for b in sizes[1:]]
        self.lr = lr

    def epoch(self, x, y, batch=32, rng=np.random.default_rng(0)):
        perm = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            h1 = np.maximum(xb @ self.w[0] + self.b[0], 0)
            h2 = np.maximum(h1 @ self.w[1] + self.b[1], 0)
            z = h2 @ self.w[2] + self.b[2]
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            dz = p / len(yb)
            d2 = (dz @ self.w[2].T) * (h2 > 0)
            d1 = (d2 @ self.w[1].T) * (h1 > 0)
            for w, b, a, d in ((self.w[2], self.b[2], h2, dz), (self.w[1], self.b[1], h1, d2),
                               (self.w[0], self.b[0], xb, d1)):
                w -= self.lr * (a.T @ d)
                b -= self.lr * d.sum(axis=0)

    def accuracy(self, x, y):
        h = np.maximum(np.maximum(x @ self.w[0] + self.b[0], 0) @ self.w[1] + self.b[1], 0)
        return float(((h @ self.w[2] + self.b[2]).argmax(axis=1) == y).mean())


@pytest.mark.parametrize("peer", PEERS)
def test_w1_mlp_epoch(benchmark, mnist, peer):
    x, y, xt, yt = mnist
    benchmark.group = "W1 MLP one epoch of MNIST (batch 32)"
    pynn.utils.set_random_seed(0)
    if peer == "pynn":
        model = pynn_mlp()
        benchmark.pedantic(lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0), rounds=3, iterations=1)
        accuracy = model.evaluate(xt, yt, verbose=0)[1]
    elif peer == "numpy":
        model = NumpyMLP()
        benchmark.pedantic(lambda: model.epoch(x, y), rounds=3, iterations=1)
        accuracy = model.accuracy(xt, yt)
    else:
        torch.manual_seed(0)
        model, opt = torch_mlp()
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        benchmark.pedantic(lambda: torch_epoch(model, opt, tx, ty), rounds=3, iterations=1)
        model.eval()
        with torch.no_grad():
            accuracy = float((model(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean())
    benchmark.extra_info["test_accuracy"] = accuracy
    assert accuracy >= 0.95, f"{peer}: test accuracy {accuracy:.4f} after its epochs"


@pytest.mark.parametrize("peer", PEERS)
def test_w5_single_sample_forward(benchmark, mnist, peer):
    x = mnist[2][:1].copy()
    benchmark.group = "W5 MLP forward of one sample"
    if peer == "pynn":
        model = pynn_mlp()
        model.build_for(x.shape)
        run = lambda: model(x)  # noqa: E731
    elif peer == "numpy":
        m = NumpyMLP()
        run = lambda: np.maximum(np.maximum(x @ m.w[0] + m.b[0], 0) @ m.w[1] + m.b[1], 0) @ m.w[2] + m.b[2]  # noqa: E731
    else:
        model, _ = torch_mlp()
        model.eval()
        tx = torch.from_numpy(x)

        def run():
            with torch.no_grad():
                return model(tx)
    out = run()
    assert tuple(out.shape) == (1, 10)
    benchmark.pedantic(run, rounds=2000, iterations=5, warmup_rounds=100)
