"""A small Transformer encoder training step (issue 18's workload): embedding 128, 4 heads, feed-forward 512,
sequence 128, batch 32, post-norm residual blocks, mean pooling and a 2-way classifier; Adam, sparse
categorical cross-entropy. pynn (the functional API: MultiHeadAttention, LayerNormalization, Dense) against
PyTorch eager (nn.TransformerEncoderLayer, batch_first, dropout 0) and a NumPy baseline of the same forward
pass (inference only: NumPy has no training), 20 steps each.

    pytest bench/bench_transformer.py --benchmark-only --benchmark-json=bench/results/transformer.json
"""
import numpy as np
import pytest

import pynn
from pynn import layers

try:
    import torch
except ImportError:
    torch = None

BATCH, SEQ, DIM, HEADS, FFN, STEPS = 32, 128, 128, 4, 512, 20


def pynn_encoder():
    inputs = layers.Input((SEQ, DIM))
    attn = layers.MultiHeadAttention(num_heads=HEADS, key_dim=DIM // HEADS)(inputs, inputs)
    h = layers.LayerNormalization(epsilon=1e-5)(inputs + attn)
    ffn = layers.Dense(DIM)(layers.Dense(FFN, activation="relu")(h))
    h = layers.LayerNormalization(epsilon=1e-5)(h + ffn)
    outputs = layers.Dense(2)(layers.GlobalAveragePooling1D()(h))
    model = pynn.Model(inputs, outputs)
    model.compile(pynn.optimizers.Adam(1e-3), pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(BATCH * STEPS, SEQ, DIM)).astype(np.float32),
            rng.integers(0, 2, BATCH * STEPS).astype(np.int64))


def numpy_forward(x, w):
    """The same encoder's forward pass in NumPy (weights as random arrays)."""
    b, t, d = x.shape
    q, k, v = (x @ w["q"]).reshape(b, t, HEADS, -1), (x @ w["k"]).reshape(b, t, HEADS, -1), \
        (x @ w["v"]).reshape(b, t, HEADS, -1)
    s = np.einsum("bthd,bshd->bhts", q, k) / np.sqrt(q.shape[-1])
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    a = np.einsum("bhts,bshd->bthd", p, v).reshape(b, t, d) @ w["o"]

    def ln(z):
        return (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5)
    h = ln(x + a)
    h = ln(h + np.maximum(h @ w["f1"], 0) @ w["f2"])
    return h.mean(1) @ w["c"]


@pytest.mark.parametrize("peer", ["pynn", "numpy"] + (["torch"] if torch is not None else []))
def test_transformer_encoder_steps(benchmark, data, peer):
    x, y = data
    benchmark.group = f"Transformer encoder: {STEPS} training steps (batch {BATCH}, seq {SEQ}, dim {DIM})"
    if peer == "pynn":
        pynn.utils.set_random_seed(0)
        model = pynn_encoder()
        model.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, verbose=0)
        benchmark.pedantic(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0),
                           rounds=3, iterations=1)
    elif peer == "numpy":
        rng = np.random.default_rng(0)
        shapes = {"q": (DIM, DIM), "k": (DIM, DIM), "v": (DIM, DIM), "o": (DIM, DIM), "f1": (DIM, FFN),
                  "f2": (FFN, DIM), "c": (DIM, 2)}
        w = {k: rng.normal(size=s).astype(np.float32) / np.sqrt(s[0]) for k, s in shapes.items()}
        benchmark.pedantic(lambda: [numpy_forward(x[i:i + BATCH], w) for i in range(0, len(x), BATCH)],
                           rounds=3, iterations=1)
    else:
        torch.manual_seed(0)
        enc = torch.nn.TransformerEncoderLayer(DIM, HEADS, FFN, dropout=0.0, batch_first=True)
        head = torch.nn.Linear(DIM, 2)
        params = list(enc.parameters()) + list(head.parameters())
        opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        lossf = torch.nn.CrossEntropyLoss()

        def epoch():
            for i in range(0, len(xt), BATCH):
                opt.zero_grad()
                loss = lossf(head(enc(xt[i:i + BATCH]).mean(1)), yt[i:i + BATCH])
                loss.backward()
                opt.step()
        epoch()
        benchmark.pedantic(epoch, rounds=3, iterations=1)
