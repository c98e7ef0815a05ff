"""W1 with Keras 3-style custom layers: the tutorial MLP built from a Dense written as call() with pynn.ops
(trained through the recorded graph and its vector-Jacobian products) against the built-in Dense layers
(fused forward / backward, and the one-call Dense chain), the NumPy from-scratch MLP and PyTorch eager, one
epoch of 60k MNIST images, batch 32, Adam (the NumPy MLP: plain SGD, as bench_mlp.py). The call() model's last
layer ends in ops.softmax: training fuses it into the cross-entropy as it does a built-in Dense's softmax
(pynn.layers.call_support.FusedSoftmax), so both models' losses start from the logits.

    pytest bench/bench_autodiff.py --benchmark-only --benchmark-json=bench/results/autodiff.json
"""
import numpy as np
import pytest

import pynn
from bench_mlp import NumpyMLP, PEERS, pynn_mlp, torch, torch_epoch, torch_mlp
from pynn import layers, ops


class CallDense(layers.Layer):
    """Dense as a Keras 3 user writes it: add_weight in build, ops in call."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, activation

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, x):
        y = ops.matmul(x, self.kernel) + self.bias
        if self.activation == "relu":
            return ops.relu(y)
        if self.activation == "softmax":
            return ops.softmax(y)
        return y


def custom_mlp():
    model = pynn.Sequential([
        layers.Input(shape=(784,)), CallDense(128, activation="relu"), layers.Dropout(0.2),
        CallDense(64, activation="relu"), layers.Dropout(0.2), CallDense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def mnist(raw_mnist):
    x, y, _, _ = raw_mnist
    return x.reshape(len(x), 784).astype(np.float32) / 255, y


@pytest.mark.parametrize("peer", ["pynn built-in Dense", "pynn call() Dense"] + PEERS[1:])
def test_w1_epoch_custom_layers(benchmark, mnist, peer):
    x, y = mnist
    benchmark.group = "W1 epoch: call() Dense vs built-in (60k MNIST, batch 32)"
    if peer.startswith("pynn"):
        pynn.utils.set_random_seed(0)
        model = pynn_mlp() if "built-in" in peer else custom_mlp()
        benchmark.pedantic(lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0), rounds=3, iterations=1)
        assert model.evaluate(x[:10000], y[:10000], verbose=0)[1] > 0.9
    elif peer == "numpy":
        mlp = NumpyMLP()
        benchmark.pedantic(lambda: mlp.epoch(x, y), rounds=3, iterations=1)
    else:
        torch.manual_seed(0)
        model, opt = torch_mlp()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        benchmark.pedantic(lambda: torch_epoch(model, opt, xt, yt), rounds=3, iterations=1)
