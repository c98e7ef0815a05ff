"""W3, W3g, W3r and W4 (bench/README.md, Workloads): recurrent layers trained with Adam.

W3 / W3g / W3r: LSTM(50) / GRU(50) / SimpleRNN(50) on 100 steps x 1 feature -> Dense(1), MSE, Adam, batch 32,
200 train steps (one epoch of 6400 sequences: predict the next value of a noisy sine wave).
W4: LSTM(256) on 50 steps x 128 features -> Dense(1), MSE, Adam, batch 64, 50 train steps.
W4 predict (not one of the standard workloads): W4's model predicting its 3200 sequences at batch 256.
Peers in the same run: pynn (model.fit), PyTorch eager (nn.LSTM / nn.GRU / nn.RNN + nn.Linear, torch.optim.Adam)
and a NumPy step-by-step baseline (the same cells written as one matmul per gate block per step, backward
through time by hand, Adam).

    pytest bench/bench_rnn.py --benchmark-only --benchmark-json=bench/results/rnn.json
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
WORKLOADS = {  # id: (cell, units, steps, features, batch, train steps)
    "W3": ("LSTM", 50, 100, 1, 32, 200),
    "W3g": ("GRU", 50, 100, 1, 32, 200),
    "W3r": ("SimpleRNN", 50, 100, 1, 32, 200),
    "W4": ("LSTM", 256, 50, 128, 64, 50),
}


def make_data(steps, features, n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(steps + 1)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1, features))
    freq = rng.uniform(0.05, 0.3, (n, 1, features))
    wave = np.sin(phase + freq * t) + 0.05 * rng.standard_normal((n, steps + 1, features))
    return wave[:, :-1].astype(np.float32), wave[:, -1, :1].astype(np.float32)


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


class NumpyRNN:
    """One recurrent layer (Keras's gate order) + Dense(1), MSE, Adam: forward and BPTT step by step in NumPy."""

    def __init__(self, cell, features, units, seed=0):
        rng = np.random.default_rng(seed)
        g = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[cell]
        self.cell, self.u = cell, units
        lim = np.sqrt(6 / (features + g * units))
        self.params = [rng.uniform(-lim, lim, (features, g * units)).astype(np.float32),
                       (rng.standard_normal((units, g * units)) / np.sqrt(units)).astype(np.float32),
                       np.zeros(g * units, np.float32), np.zeros(g * units, np.float32),
                       rng.uniform(-0.3, 0.3, (units, 1)).astype(np.float32), np.zeros(1, np.float32)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def predict(self, x):
        """The forward alone (the LSTM cell only, as the inference benchmark uses)."""
        W, U, b, _, Wd, bd = self.params
        u, n = self.u, x.shape[0]
        h = np.zeros((n, u), np.float32)
        c = np.zeros((n, u), np.float32)
        xp = x @ W + b  # every step's input projection at once
        for t in range(x.shape[1]):
            z = xp[:, t] + h @ U
            i, f, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), _sigmoid(z[:, 3 * u:])
            c = f * c + i * np.tanh(z[:, 2 * u:3 * u])
            h = o * np.tanh(c)
        return h @ Wd + bd

    def step(self, x, y, lr=1e-3):
        W, U, b, rb, Wd, bd = self.params
        u, n, steps = self.u, x.shape[0], x.shape[1]
        h = np.zeros((n, u), np.float32)
        c = np.zeros((n, u), np.float32)
        tape = []
        for t in range(steps):
            xp = x[:, t] @ W + b
            if self.cell == "LSTM":
                z = xp + h @ U
                i, f, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), _sigmoid(z[:, 3 * u:])
                cc = np.tanh(z[:, 2 * u:3 * u])
                c_new = f * c + i * cc
                tc = np.tanh(c_new)
                tape.append((h, c, i, f, cc, o, tc))
                h, c = o * tc, c_new
            elif self.cell == "GRU":
                rec = h @ U + rb
                zg, r = _sigmoid(xp[:, :u] + rec[:, :u]), _sigmoid(xp[:, u:2 * u] + rec[:, u:2 * u])
                hh = np.tanh(xp[:, 2 * u:] + r * rec[:, 2 * u:])
                tape.append((h, zg, r, hh, rec[:, 2 * u:]))
                h = zg * h + (1 - zg) * hh
            else:
                h_new = np.tanh(xp + h @ U)
                tape.append((h, h_new))
                h = h_new
        pred = h @ Wd + bd
        dpred = 2 * (pred - y) / pred.size
        grads = [np.zeros_like(p) for p in self.params]
        grads[4], grads[5] = h.T @ dpred, dpred.sum(0)
        dh, dc = dpred @ Wd.T, np.zeros((n, u), np.float32)
        for t in range(steps - 1, -1, -1):
            if self.cell == "LSTM":
                hp, cp, i, f, cc, o, tc = tape[t]
                d = dh * o * (1 - tc * tc) + dc
                dz = np.concatenate([d * cc * i * (1 - i), d * cp * f * (1 - f), d * i * (1 - cc * cc),
                                     dh * tc * o * (1 - o)], axis=1)
                dc = d * f
                drec = dz
            elif self.cell == "GRU":
                hp, zg, r, hh, rech = tape[t]
                dpre_h = dh * (1 - zg) * (1 - hh * hh)
                dpre_z = dh * (hp - hh) * zg * (1 - zg)
                dpre_r = dpre_h * rech * r * (1 - r)
                dz = np.concatenate([dpre_z, dpre_r, dpre_h], axis=1)
                drec = np.concatenate([dpre_z, dpre_r, dpre_h * r], axis=1)
                grads[3] += drec.sum(0)
            else:
                hp, hn = tape[t]
                dz = drec = dh * (1 - hn * hn)
            grads[0] += x[:, t].T @ dz
            grads[1] += hp.T @ drec
            grads[2] += dz.sum(0)
            dh = drec @ U.T + (dh * zg if self.cell == "GRU" else 0)
        self.t += 1
        a = lr * np.sqrt(1 - 0.999 ** self.t) / (1 - 0.9 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m += 0.1 * (g - m)
            v += 0.001 * (g * g - v)
            p -= a * m / (np.sqrt(v) + 1e-7)
        return float(np.mean((pred - y) ** 2))


def pynn_model(cell, units, steps, features):
    model = pynn.models.Sequential([layers.Input((steps, features)), getattr(layers, cell)(units), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def torch_model(cell, units, features):
    rnn = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[cell](
        features, units, batch_first=True)
    head = torch.nn.Linear(units, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    return rnn, head, torch.optim.Adam(params, lr=1e-3, eps=1e-7)


def torch_epoch(rnn, head, opt, x, y, batch):
    lossf = torch.nn.MSELoss()
    for i in range(0, len(x), batch):
        opt.zero_grad()
        out, _ = rnn(x[i:i + batch])
        loss = lossf(head(out[:, -1]), y[i:i + batch])
        loss.backward()
        opt.step()
    return float(loss)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_rnn_training(benchmark, workload, peer):
    cell, units, steps, features, batch, train_steps = WORKLOADS[workload]
    x, y = make_data(steps, features, batch * train_steps)
    benchmark.group = f"{workload} {cell}({units}), {steps} steps x {features}, batch {batch}, {train_steps} Adam steps"
    pynn.utils.set_random_seed(0)
    rounds = 2 if workload == "W4" or peer != "pynn" else 3
    if peer == "pynn":
        model = pynn_model(cell, units, steps, features)
        first = model.evaluate(x, y, batch_size=256, verbose=0)
        benchmark.pedantic(lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False),
                           rounds=rounds, iterations=1)
        last = model.evaluate(x, y, batch_size=256, verbose=0)
    elif peer == "numpy":
        model = NumpyRNN(cell, features, units)

        def epoch():
            return [model.step(x[i:i + batch], y[i:i + batch]) for i in range(0, len(x), batch)]
        losses = benchmark.pedantic(epoch, rounds=1, iterations=1)
        first, last = losses[0], float(np.mean(losses[-10:]))
    else:
        torch.manual_seed(0)
        rnn, head, opt = torch_model(cell, units, features)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        with torch.no_grad():
            first = float(torch.nn.functional.mse_loss(head(rnn(tx[:512])[0][:, -1]), ty[:512]))
        benchmark.pedantic(lambda: torch_epoch(rnn, head, opt, tx, ty, batch), rounds=rounds, iterations=1)
        last = torch_epoch(rnn, head, opt, tx, ty, batch)
    benchmark.extra_info.update(first_loss=float(first), last_loss=float(last))
    assert np.isfinite(last) and last < first, f"{peer}: the loss did not go down ({first} -> {last})"


@pytest.mark.parametrize("peer", PEERS)
def test_rnn_predict(benchmark, peer):
    """W4's LSTM(256) -> Dense(1) predicting 3200 sequences of 50 x 128 at batch 256 (untrained weights)."""
    cell, units, steps, features, _, _ = WORKLOADS["W4"]
    x, _ = make_data(steps, features, 3200)
    batch = 256
    benchmark.group = f"W4 predict: {cell}({units}), {steps} steps x {features}, 3200 sequences, batch {batch}"
    pynn.utils.set_random_seed(0)
    if peer == "pynn":
        model = pynn_model(cell, units, steps, features)
        model.predict(x[:batch], batch_size=batch, verbose=0)
        out = benchmark.pedantic(lambda: model.predict(x, batch_size=batch, verbose=0), rounds=3, iterations=1)
    elif peer == "numpy":
        model = NumpyRNN(cell, features, units)
        out = benchmark.pedantic(lambda: np.concatenate([model.predict(x[i:i + batch])
                                                         for i in range(0, len(x), batch)]), rounds=1, iterations=1)
    else:
        torch.manual_seed(0)
        rnn, head, _ = torch_model(cell, units, features)
        tx = torch.from_numpy(x)

        def run():
            with torch.no_grad():
                return torch.cat([head(rnn(tx[i:i + batch])[0][:, -1]) for i in range(0, len(tx), batch)]).numpy()
        out = benchmark.pedantic(run, rounds=3, iterations=1)
    assert out.shape == (len(x), 1) and np.all(np.isfinite(out))
