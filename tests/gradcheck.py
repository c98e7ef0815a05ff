"""Finite-difference gradient checks for layers (float64)."""
import numpy as np


def numeric_gradient(f, array, eps=1e-6):
    """Central differences of the scalar f() with respect to every entry of `array` (changed in place)."""
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def check_layer_gradients(layer, x, training=False, rtol=1e-6, atol=1e-8, seed=0):
    """Compare layer.backward (input and weight gradients) with finite differences of sum(g * y)."""
    rng = np.random.default_rng(seed)
    x = np.array(x, dtype=np.float64)
    layer.build_for(x.shape)
    y, ctx = layer.forward(x, training)
    g = rng.standard_normal(y.shape)
    for w in layer.weights:
        w.grad.fill(0)
    dx = layer.backward(ctx, g.copy())

    def f():
        return float(np.sum(g * layer.forward(x, training)[0]))

    np.testing.assert_allclose(dx, numeric_gradient(f, x), rtol=rtol, atol=atol, err_msg="input gradient")
    for w in layer.trainable_weights:
        np.testing.assert_allclose(w.grad, numeric_gradient(f, w.value), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {w.name}")


def replay(layer):
    """Make every forward of a seeded random layer draw the same numbers (finite differences of a fixed draw)."""
    forward = layer.forward

    def replayed(x, training=False):
        layer._offset = 0
        return forward(x, training)
    layer.forward = replayed
    return layer
