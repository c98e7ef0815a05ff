"""LSTM, GRU (reset_after=True) and SimpleRNN against PyTorch's nn.LSTM / nn.GRU / nn.RNN: outputs, final
states and the gradients of the input, the initial states and every weight, with Keras's weights converted
as Keras and PyTorch lay them out (transpose; LSTM i, f, c, o = PyTorch i, f, g, o; GRU z, r, h -> PyTorch r, z, n;
PyTorch's second bias is zero except for the GRU's recurrent bias)."""
import numpy as np
import pytest

from pynn import layers

torch = pytest.importorskip("torch")


def _gru_to_torch(w):
    """Columns z, r, h (Keras) -> rows r, z, n (PyTorch), transposed."""
    u = w.shape[-1] // 3
    return np.concatenate([w[..., u:2 * u], w[..., :u], w[..., 2 * u:]], axis=-1).T


def _torch_module(kind, layer, features, units):
    kernel, recurrent, bias = (w.value for w in layer.weights)
    if kind == "LSTM":
        m = torch.nn.LSTM(features, units, batch_first=True, dtype=torch.float64)
        ih, hh, b_ih, b_hh = kernel.T, recurrent.T, bias, np.zeros_like(bias)
    elif kind == "GRU":
        m = torch.nn.GRU(features, units, batch_first=True, dtype=torch.float64)
        ih, hh, b_ih, b_hh = _gru_to_torch(kernel), _gru_to_torch(recurrent), _gru_to_torch(bias[0]), \
            _gru_to_torch(bias[1])
    else:
        m = torch.nn.RNN(features, units, batch_first=True, nonlinearity="tanh", dtype=torch.float64)
        ih, hh, b_ih, b_hh = kernel.T, recurrent.T, bias, np.zeros_like(bias)
    with torch.no_grad():
        for p, v in zip((m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0), (ih, hh, b_ih, b_hh)):
            p.copy_(torch.from_numpy(np.ascontiguousarray(v)))
    return m


def _keras_grads_from_torch(kind, m):
    g = [p.grad.numpy() for p in (m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)]
    if kind == "GRU":
        back = (lambda w: np.concatenate([w[u:2 * u], w[:u], w[2 * u:]]))  # rows r, z, n -> z, r, h
        u = g[0].shape[0] // 3
        return [back(g[0]).T, back(g[1]).T, np.stack([back(g[2]), back(g[3])])]
    return [g[0].T, g[1].T, g[2]]  # the two PyTorch biases get the same gradient as Keras's one


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_parity_with_torch(rng, kind, go_backwards):
    batch, steps, features, units = 4, 9, 5, 6
    layer = getattr(layers, kind)(units, return_sequences=True, return_state=True, go_backwards=go_backwards,
                                  dtype="float64", bias_initializer="random_normal")
    x = rng.standard_normal((batch, steps, features))
    states = [rng.standard_normal((batch, units)) for _ in range(2 if kind == "LSTM" else 1)]
    layer.build_for(x.shape)
    out, ctx = layer.forward(x, initial_state=[s.copy() for s in states])
    y, finals = out[0], out[1:]

    m = _torch_module(kind, layer, features, units)
    xt = torch.tensor(x[:, ::-1].copy() if go_backwards else x, requires_grad=True)
    st = [torch.tensor(s[None], requires_grad=True) for s in states]
    yt, ft = m(xt, tuple(st) if kind == "LSTM" else st[0])
    ft = list(ft) if kind == "LSTM" else [ft]
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(finals, ft):
        np.testing.assert_allclose(a, b.detach().numpy()[0], rtol=1e-10, atol=1e-12)

    gy = rng.standard_normal(y.shape)
    gf = [rng.standard_normal(f.shape) for f in finals]
    (yt * torch.from_numpy(gy)).sum().add(sum((f[0] * torch.from_numpy(g)).sum() for f, g in zip(ft, gf))).backward()
    dx, *dstates = layer.backward(ctx, [gy] + gf)
    dx_torch = xt.grad.numpy()
    np.testing.assert_allclose(dx, dx_torch[:, ::-1] if go_backwards else dx_torch, rtol=1e-9, atol=1e-11)
    for d, s in zip(dstates, st):
        np.testing.assert_allclose(d, s.grad.numpy()[0], rtol=1e-9, atol=1e-11)
    for w, g in zip(layer.weights, _keras_grads_from_torch(kind, m)):
        np.testing.assert_allclose(w.grad, g, rtol=1e-9, atol=1e-11, err_msg=w.name)
