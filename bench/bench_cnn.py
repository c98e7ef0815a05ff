"""W2 (bench/README.md, Workloads): the tutorial CNN, one epoch over 10,000 MNIST images, batch 64.

Conv(32, 3x3, relu) - MaxPool 2x2 - Conv(64, 3x3, relu) - MaxPool 2x2 - Flatten - Dense(128, relu) -
Dense(10, softmax), Adam: pynn against PyTorch eager (NCHW) and a from-scratch NumPy CNN (im2col + matmul,
plain SGD: less work per step than Adam). Each peer's test accuracy after its epoch is recorded and must
reach 95%. Skipped until pynn has MaxPooling2D.

    pytest bench/bench_cnn.py --benchmark-only --benchmark-json=bench/results/cnn.json
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
N_TRAIN = 10000


@pytest.fixture(scope="module")
def mnist(raw_mnist):
    x, y, xt, yt = raw_mnist
    return (x[:N_TRAIN, ..., None].astype(np.float32) / 255, y[:N_TRAIN],
            xt[..., None].astype(np.float32) / 255, yt)


def pynn_cnn():
    model = pynn.Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_cnn():
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    return model, torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)


def torch_epoch(model, opt, x, y, batch=64):
    model.train()
    perm = torch.randperm(len(x))
    lossf = torch.nn.CrossEntropyLoss()
    for i in range(0, len(x), batch):
        idx = perm[i:i + batch]
        opt.zero_grad()
        lossf(model(x[idx]), y[idx]).backward()
        opt.step()


def _im2col(x, k=3):
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # (n, oh, ow, c, k, k)
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(-1, k * k * x.shape[3])


def _col2im(dcol, x_shape, k=3):
    n, h, w, c = x_shape
    oh, ow = h - k + 1, w - k + 1
    dcol = dcol.reshape(n, oh, ow, k, k, c)
    dx = np.zeros(x_shape, dcol.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, i:i + oh, j:j + ow] += dcol[:, :, :, i, j]
    return dx


def _pool(x):
    n, h, w, c = x.shape
    xs = x[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c)
    y = xs.max(axis=(2, 4))
    return y, xs == y[:, :, None, :, None, :]


def _unpool(dy, mask, x_shape):
    dx = np.zeros(x_shape, dy.dtype)
    n, h2, _, w2, _, c = mask.shape
    dx[:, :h2 * 2, :w2 * 2] = (mask * dy[:, :, None, :, None, :]).reshape(n, h2 * 2, w2 * 2, c)
    return dx


class NumpyCNN:
    """The W2 CNN written directly in NumPy: im2col convolutions, 2x2 max pooling, plain SGD."""

    def __init__(self, seed=0, lr=0.1):
        rng = np.random.default_rng(seed)

        def glorot(shape, fan_in, fan_out):
            return (rng.uniform(-1, 1, shape) * np.sqrt(6 / (fan_in + fan_out))).astype(np.float32)
        self.w = [glorot((9, 32), 9, 288), glorot((288, 64), 288, 576), glorot((1600, 128), 1600, 128),
                  glorot((128, 10), 128, 10)]
        self.b = [np.zeros(w.shape[1], np.float32) for w in self.w]
        self.lr = lr

    def forward(self, x):
        n = len(x)
        c1 = _im2col(x)
        a1 = np.maximum(c1 @ self.w[0] + self.b[0], 0).reshape(n, 26, 26, 32)
        p1, m1 = _pool(a1)
        c2 = _im2col(p1)
        a2 = np.maximum(c2 @ self.w[1] + self.b[1], 0).reshape(n, 11, 11, 64)
        p2, m2 = _pool(a2)
        f = p2.reshape(n, -1)
        h = np.maximum(f @ self.w[2] + self.b[2], 0)
        return h @ self.w[3] + self.b[3], (c1, a1, m1, p1, c2, a2, m2, f, h)

    def epoch(self, x, y, batch=64, rng=np.random.default_rng(0)):
        perm = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            z, (c1, a1, m1, p1, c2, a2, m2, f, h) = self.forward(xb)
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            dz = p / len(yb)
            dh = (dz @ self.w[3].T) * (h > 0)
            df = (dh @ self.w[2].T).reshape(-1, 5, 5, 64)
            da2 = _unpool(df, m2, a2.shape) * (a2 > 0)
            da2 = da2.reshape(-1, 64)
            dp1 = _col2im(da2 @ self.w[1].T, p1.shape)
            da1 = (_unpool(dp1, m1, a1.shape) * (a1 > 0)).reshape(-1, 32)
            grads = [(c1.T @ da1, da1.sum(0)), (c2.T @ da2, da2.sum(0)), (f.T @ dh, dh.sum(0)), (h.T @ dz, dz.sum(0))]
            for w, b, (dw, db) in zip(self.w, self.b, grads):
                w -= self.lr * dw
                b -= self.lr * db

    def accuracy(self, x, y):
        return float(np.mean(np.concatenate([self.forward(x[i:i + 1000])[0].argmax(1) for i in range(0, len(x), 1000)])
                             == y))


@pytest.mark.parametrize("peer", PEERS)
def test_w2_cnn_epoch(benchmark, mnist, peer):
    x, y, xt, yt = mnist
    benchmark.group = "W2 CNN one epoch of 10k MNIST images (batch 64)"
    pynn.utils.set_random_seed(0)
    if peer == "pynn":
        model = pynn_cnn()
        benchmark.pedantic(lambda: model.fit(x, y, batch_size=64, epochs=1, verbose=0), rounds=3, iterations=1)
        accuracy = model.evaluate(xt, yt, verbose=0)[1]
    elif peer == "numpy":
        model = NumpyCNN()
        benchmark.pedantic(lambda: model.epoch(x, y), rounds=3, iterations=1)
        accuracy = model.accuracy(xt, yt)
    else:
        torch.manual_seed(0)
        model, opt = torch_cnn()
        tx, ty = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y)
        benchmark.pedantic(lambda: torch_epoch(model, opt, tx, ty), rounds=3, iterations=1)
        model.eval()
        with torch.no_grad():
            accuracy = float((model(torch.from_numpy(xt.transpose(0, 3, 1, 2).copy())).argmax(1).numpy()
                              == yt).mean())
    benchmark.extra_info["test_accuracy"] = accuracy
    assert accuracy >= 0.95, f"{peer}: test accuracy {accuracy:.4f} after its epochs"
