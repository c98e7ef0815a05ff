"""The fast paths of the ops a Dense written with call() runs (2-D matmul on the GEMM kernel writing a
Variable's gradient in place, a bias's gradient on sum_rows, softmax's vjp on its kernel, the backward
engine writing or adding into `.grad`), each against the general path that computes the same thing and
against finite differences in float64."""
import numpy as np
import pytest

import pynn
from pynn import ops
from pynn.ops import backprop
from pynn.ops.tensor import Tensor, unbroadcast
from gradcheck import numeric_gradient


def _grads(f, arrays, g):
    """Gradients of sum(g * f(*arrays)) with respect to each array, through a GradientTape (the arrays are
    used as they are laid out: a transposed or strided view stays one)."""
    with pynn.GradientTape() as tape:
        xs = [tape.watch(a) for a in arrays]
        y = f(*xs)
    return tape.gradient(y, xs, output_gradients=g)


def _finite_differences(f, arrays, g):
    arrays = [a.copy() for a in arrays]
    return [numeric_gradient(lambda: float(np.sum(g * ops.convert_to_numpy(f(*arrays)))), a) for a in arrays]


def _layouts(rng, m, k, n):
    """(a, b) pairs of shapes (m, k), (k, n) in the layouts the GEMM reads in place (rows, transposed
    views) and in ones it must copy (strided slices)."""
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    yield a, b
    yield np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T
    yield rng.normal(size=(m, 2 * k))[:, ::2], rng.normal(size=(2 * k, n))[::2]


@pytest.mark.parametrize("layout", range(3))
def test_2d_matmul_equals_the_batched_general_path_and_finite_differences(rng, layout):
    a, b = list(_layouts(rng, 5, 4, 3))[layout]
    assert a.flags.c_contiguous == b.flags.c_contiguous == (layout == 0)
    g = rng.normal(size=(5, 3))
    fast = _grads(ops.matmul, [a, b], g)
    general = _grads(lambda x, w: ops.matmul(ops.expand_dims(x, 0), w)[0], [a, b], g)    # 3-D: gemm_batched
    for k in range(2):
        np.testing.assert_allclose(fast[k], general[k], rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(fast[k], _finite_differences(ops.matmul, [a, b], g)[k], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fast[0], g @ b.T, rtol=1e-13)
    np.testing.assert_allclose(fast[1], a.T @ g, rtol=1e-13)


def test_matmul_gradient_with_broadcast_rows_is_read_correctly(rng):
    """A reduction's gradient reaches matmul as a broadcast view (row stride 0): it must be copied, not read
    as if its rows were laid out one after another."""
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    weights = np.array([1.0, -2.0])

    def f(x, w):
        return ops.sum(ops.sum(ops.matmul(x, w), axis=0) * weights)
    ga, gb = _grads(f, [a, b], None)
    np.testing.assert_allclose(ga, np.tile(b @ weights, (4, 1)), rtol=1e-13)
    np.testing.assert_allclose(gb, np.outer(a.sum(0), weights), rtol=1e-13)


def test_matmul_writes_a_variables_gradient_in_place_and_adds_when_it_is_not_zeroed(rng):
    """The kernel's gradient goes into var.grad through the GEMM's beta: 0 after zero_grad (whatever the
    buffer held), 1 otherwise; a kernel read twice gets both products, one written, one added."""
    x1, x2 = rng.normal(size=(5, 4)), rng.normal(size=(6, 4))
    kernel = pynn.Variable(rng.normal(size=(4, 3)))
    g1, g2 = rng.normal(size=(5, 3)), rng.normal(size=(6, 3))
    want = x1.T @ g1 + x2.T @ g2
    kernel.grad[...] = 1e6                    # garbage that zero_grad must make irrelevant
    kernel.zero_grad()
    with pynn.ops.tensor.record():
        y1, y2 = ops.matmul(x1, kernel), ops.matmul(x2, kernel)
    backprop.backprop([y1, y2], [g1, g2])
    np.testing.assert_allclose(kernel.grad, want, rtol=1e-13)
    with pynn.ops.tensor.record():
        y1 = ops.matmul(x1, kernel)
    backprop.backprop([y1], [g1])              # not zeroed: adds
    np.testing.assert_allclose(kernel.grad, want + x1.T @ g1, rtol=1e-13)
    kernel.requires_grad = False               # not trained: left alone
    with pynn.ops.tensor.record():
        y1 = ops.matmul(x1, kernel)
    backprop.backprop([y1], [g1])
    np.testing.assert_allclose(kernel.grad, want + x1.T @ g1, rtol=1e-13)


def test_a_gradient_buffer_matmul_cannot_write_gets_the_gradient_added(rng):
    """A float32 kernel whose .grad was replaced by a float64 array: the GEMM cannot write there, so the
    engine adds the product, and zero_grad's pending zeroing still happens (no stale contents)."""
    x, g = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    kernel = pynn.Variable(rng.normal(size=(4, 3)).astype(np.float32))
    kernel.grad = np.full((4, 3), 1e6)
    kernel.zero_grad()
    with pynn.ops.tensor.record():
        y = ops.matmul(x, kernel)
    backprop.backprop([y], [g])
    assert kernel.grad.dtype == np.float64
    np.testing.assert_allclose(kernel.grad, x.T.astype(np.float64) @ g, rtol=1e-5)


def test_gradient_tape_on_a_variable_read_by_matmul(rng):
    x, w = rng.normal(size=(5, 4)), pynn.Variable(rng.normal(size=(4, 3)))
    g = rng.normal(size=(5, 3))
    with pynn.GradientTape() as tape:
        y = ops.matmul(x, w) * g
    np.testing.assert_allclose(tape.gradient(y, w), x.T @ g, rtol=1e-13)


@pytest.mark.parametrize("bias_shape", [(3,), (1, 3)])
def test_bias_gradient_is_the_row_sum(rng, bias_shape):
    a, b = rng.normal(size=(6, 3)), rng.normal(size=bias_shape)
    g = rng.normal(size=(6, 3))
    ga, gb = _grads(ops.add, [a, b], g)
    np.testing.assert_allclose(ga, g, rtol=0)
    np.testing.assert_allclose(gb, g.sum(0).reshape(bias_shape), rtol=1e-13)
    np.testing.assert_allclose(gb, _finite_differences(ops.add, [a, b], g)[1], rtol=1e-6)


def test_unbroadcast_row_sum_matches_numpy_for_every_layout(rng):
    g = rng.normal(size=(7, 3))
    for view in (g, np.asfortranarray(g), rng.normal(size=(7, 6))[:, ::2],
                 np.broadcast_to(g[:1], (7, 3)), g.astype(np.float32)):
        for shape in [(3,), (1, 3)]:
            got = unbroadcast(view, shape)
            assert got.shape == shape and got.dtype == view.dtype
            rtol = 1e-6 if view.dtype == np.float32 else 1e-13
            np.testing.assert_allclose(got, view.sum(0).reshape(shape), rtol=rtol)
    np.testing.assert_array_equal(unbroadcast(np.ones((0, 3)), (3,)), np.zeros(3))


def test_softmax_kernel_vjp_equals_the_general_formula(rng):
    x, g = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    (last,) = _grads(ops.softmax, [x], g)                                         # the kernel
    (first,) = _grads(lambda t: ops.transpose(ops.softmax(ops.transpose(t), axis=0)), [x], g)   # NumPy
    np.testing.assert_allclose(last, first, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(last, _finite_differences(ops.softmax, [x], g)[0], rtol=1e-6, atol=1e-9)
    noncontiguous = np.asfortranarray(g)
    with pynn.GradientTape() as tape:
        t = tape.watch(x.copy())
        y = ops.softmax(t)
    np.testing.assert_allclose(tape.gradient(y, t, output_gradients=noncontiguous), last, rtol=1e-13)


def test_backward_skips_products_nothing_wanted_needs(rng):
    """A first layer's input gradient is not computed when only weights are trained: matmul's vjp is asked
    for the kernel's gradient alone."""
    x = Tensor(rng.normal(size=(5, 4)), traced=True)
    kernel = pynn.Variable(rng.normal(size=(4, 3)))
    kernel.zero_grad()
    with pynn.ops.tensor.record():
        y = ops.matmul(x, kernel)
    calls = []
    vjp = y._vjp
    y._vjp = lambda g: calls.append(vjp(g)) or calls[-1]
    assert backprop.backprop([y], [np.ones((5, 3))], []) == []
    assert calls[0][0] is None                      # x's gradient: not wanted, not computed
    np.testing.assert_allclose(kernel.grad, x.value.T @ np.ones((5, 3)), rtol=1e-13)
    (gx,) = backprop.backprop([y], [np.ones((5, 3))], [x])
    np.testing.assert_allclose(gx, np.ones((5, 3)) @ kernel.value.T, rtol=1e-13)


def test_call_dense_float64_matches_finite_differences_with_a_reused_kernel(rng):
    """A call() layer whose kernel is read twice and whose bias broadcasts: the engine's writes and adds
    into .grad together give the exact gradient."""
    class Twice(pynn.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], input_shape[-1]), name="kernel")
            self.bias = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="bias")

        def call(self, x):
            h = ops.relu(ops.matmul(x, self.kernel) + self.bias)
            return ops.softmax(ops.matmul(h, self.kernel) + self.bias)
    from gradcheck import check_layer_gradients
    check_layer_gradients(Twice(dtype="float64"), rng.normal(size=(6, 4)))
