"""The MLP against PyTorch with the same weights: forward pass, loss, and one SGD step (skipped without torch).

Weights convert as Keras and PyTorch lay them out: a Dense kernel (in, out) is torch's Linear.weight transposed.
"""
import numpy as np
import pytest

import pynn
from pynn import layers

torch = pytest.importorskip("torch")


def test_mlp_forward_loss_and_sgd_step_match_pytorch(rng):
    x = rng.random((16, 784), dtype=np.float32)
    y = rng.integers(0, 10, 16)
    model = pynn.Sequential([layers.Input(shape=(784,)), layers.Dense(128, activation="relu"),
                             layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=pynn.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    for w in model.weights:  # non-zero biases, so the bias path is compared too
        if w.name == "bias":
            w.assign(rng.standard_normal(w.shape).astype(np.float32) * 0.1)
    weights = model.get_weights()

    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, 10))
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (kernel, bias) in zip(linears, zip(weights[::2], weights[1::2])):
            lin.weight.copy_(torch.from_numpy(kernel.T.copy()))
            lin.bias.copy_(torch.from_numpy(bias))

    logits = net(torch.from_numpy(x))
    np.testing.assert_allclose(model.predict(x), torch.softmax(logits, 1).detach().numpy(), rtol=1e-4, atol=1e-6)
    loss_t = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
    np.testing.assert_allclose(model.test_on_batch(x, y), loss_t.item(), rtol=1e-5)

    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    opt.zero_grad()
    loss_t.backward()
    opt.step()
    model.train_on_batch(x, y)
    for lin, (kernel, bias) in zip(linears, zip(model.get_weights()[::2], model.get_weights()[1::2])):
        np.testing.assert_allclose(kernel, lin.weight.detach().numpy().T, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(bias, lin.bias.detach().numpy(), rtol=1e-4, atol=1e-6)
