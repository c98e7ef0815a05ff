"""The backward engine's fast path for a chain (each op has at most one input made by another op, the others
being leaves: a call() Dense's x @ w + b -> relu): it runs the same vector-Jacobian products in the same
order as the general engine, so gradients are bit for bit those of the general path; other graphs take the
general path."""
import numpy as np
import pytest

import pynn
from pynn import layers, ops
from pynn.ops import backprop
from pynn.ops.tensor import Tensor, record


def _variables(rng):
    return pynn.Variable(rng.normal(size=(4, 4))), pynn.Variable(rng.normal(size=(4,)))


def _dense_relu(x, w, b, dense):
    return ops.relu(ops.matmul(x, w) + b)


def _square_of_leaf(x, w, b, dense):
    return ops.sum(x * x, axis=1)                          # one leaf, two inputs of one op


def _leaf_at_two_depths(x, w, b, dense):
    return ops.exp(ops.tanh(x)) * x                           # x reached from two ops of the chain


def _kernel_read_twice(x, w, b, dense):
    return ops.matmul(ops.matmul(x, w) + b, w)


def _builtin_layer_node(x, w, b, dense):
    return ops.softmax(dense(ops.relu(x)))                  # a built-in layer is one node of the chain


def _residual(x, w, b, dense):
    h = ops.matmul(x, w)
    return ops.relu(h) + h                                   # h used twice: not a chain


GRAPHS = [_dense_relu, _square_of_leaf, _leaf_at_two_depths, _kernel_read_twice, _builtin_layer_node,
          _residual]


def _run(f, values, variables, dense, want_input, general, monkeypatch):
    """(gradient of the input, the variables' and the layer's .grad) for sum(g * f(x)) through backprop."""
    x0, g = values
    trained = variables + dense.trainable_weights
    for v in trained:
        v.grad[...] = 1e6                                      # garbage zero_grad must make irrelevant
        v.zero_grad()
    with monkeypatch.context() as m:
        if general:
            m.setattr(backprop, "_chain", lambda out: None)
        x = Tensor(x0.copy(), traced=True)
        with record():
            y = f(x, *variables, dense)
        found = backprop.backprop([y], [g if y.shape == g.shape else g[:, 0]], [x] if want_input else [])
    return (found[0] if want_input else None), [v.grad.copy() for v in trained]


@pytest.mark.parametrize("f", GRAPHS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("want_input", [True, False])
def test_the_chain_path_gives_the_general_engines_gradients_bit_for_bit(rng, monkeypatch, f, want_input):
    variables = _variables(rng)
    dense = layers.Dense(4, dtype="float64")
    dense.build_for((3, 4))
    for v in dense.trainable_weights:
        v.requires_grad = True
    values = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    fast = _run(f, values, list(variables), dense, want_input, False, monkeypatch)
    general = _run(f, values, list(variables), dense, want_input, True, monkeypatch)
    if want_input:
        np.testing.assert_array_equal(fast[0], general[0])
        assert fast[0] is not None
    else:
        assert fast[0] is None and general[0] is None
    for a, b in zip(fast[1], general[1]):
        np.testing.assert_array_equal(a, b)


def test_which_graphs_are_chains(rng):
    w, b = _variables(rng)
    dense = layers.Dense(4, dtype="float64")
    x = Tensor(rng.normal(size=(3, 4)), traced=True)
    with record():
        outs = {f.__name__: f(x, w, b, dense) for f in GRAPHS}
    for name, y in outs.items():
        chain = backprop._chain(y)
        assert (chain is None) == (name == "_residual"), name
    nodes, order = backprop._chain(outs["_dense_relu"])
    assert [t._op for t in nodes] == ["relu", "add", "matmul"]
    position = {t._made: k for k, t in enumerate(order)}
    assert all(position[i._made] < position[t._made] for t in nodes for i in t._inputs)   # inputs first


def test_a_call_dense_trains_through_the_chain_path_alone(rng, monkeypatch):
    """A Dense written with call(): its backward never enters the general engine, and its gradients are the
    closed forms."""
    class CallDense(layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 3), name="kernel")
            self.bias = self.add_weight(shape=(3,), initializer="random_normal", name="bias")

        def call(self, x):
            return ops.relu(ops.matmul(x, self.kernel) + self.bias)

    layer = CallDense(dtype="float64")
    x, dy = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    layer(x)
    for v in layer.weights:
        v.requires_grad = True
        v.zero_grad()

    def refuse(*args):
        raise AssertionError("the general engine ran")
    monkeypatch.setattr(backprop, "_run", refuse)
    y, ctx = layer.forward(x, True)
    dx = layer.backward(ctx, dy)
    dz = dy * (x @ layer.kernel.value + layer.bias.value > 0)
    np.testing.assert_allclose(dx, dz @ layer.kernel.value.T, rtol=1e-13)
    np.testing.assert_allclose(layer.kernel.grad, x.T @ dz, rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad, dz.sum(0), rtol=1e-13)


def test_errors_in_a_chains_products_name_the_op():
    x = Tensor(np.ones(3), traced=True)

    def broken(g):
        raise ValueError("no gradient here")
    y = Tensor(np.ones(3), (x,), broken, "broken_op", traced=True)
    with pytest.raises(ValueError, match=r"gradient of ops\.broken_op: no gradient here"):
        backprop.backprop([y], [np.ones(3)], [x])


@pytest.mark.parametrize("bias_shape", [(3,), (1, 3)])
def test_a_bias_variables_gradient_is_written_when_zeroed_and_added_otherwise(rng, bias_shape):
    x = rng.normal(size=(6, 3))
    bias = pynn.Variable(rng.normal(size=bias_shape))
    g1, g2 = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    bias.grad[...] = 1e6
    bias.zero_grad()
    with record():
        y = ops.add(x, bias)
    backprop.backprop([y], [g1])
    np.testing.assert_allclose(bias.grad, g1.sum(0).reshape(bias_shape), rtol=1e-13)
    with record():
        y = ops.add(bias, x)                                      # the bias first: the general unbroadcast
    backprop.backprop([y], [g2])
    np.testing.assert_allclose(bias.grad, (g1 + g2).sum(0).reshape(bias_shape), rtol=1e-13)
    float64_buffer = pynn.Variable(rng.normal(size=(3,)).astype(np.float32))
    float64_buffer.grad = np.zeros(3)                            # the kernel cannot write there: added
    with record():
        y = ops.add(x.astype(np.float32), float64_buffer)
    backprop.backprop([y], [g1.astype(np.float32)])
    np.testing.assert_allclose(float64_buffer.grad, g1.sum(0), rtol=1e-6)
