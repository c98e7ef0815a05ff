"""Elementwise activations and softmax / log_softmax, forward and backward (csrc/activations/).

Formulas are Keras 3's (keras/src/activations/activations.py). Arrays are float32 or float64 NumPy arrays;
inputs must be C-contiguous (the bindings say so otherwise, they never copy). Every function allocates its
result, or writes into ``out`` when given (``out`` may be the input itself: in place).

Activation names and their parameters (Keras's defaults):
    linear, relu(negative_slope=0, max_value=None, threshold=0), leaky_relu(negative_slope=0.2),
    elu(alpha=1), selu, gelu(approximate=False; exact erf form), gelu_tanh, sigmoid, hard_sigmoid,
    tanh, softplus, softsign, swish, exponential.
Note: Keras's ``activations.gelu`` defaults to approximate=True; pass it to get that form.
"""
import numpy as np

from pynn import _C

ACTIVATIONS = tuple(a.name for a in _C.Activation)


def _spec(name, params):
    return (name, dict(params)) if params else name


def _out_like(x, out, name="x"):
    if out is not None:
        return out
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(x).__name__}")
    return np.empty_like(x, order="C")


def activation(x, name, out=None, **params):
    """y = f(x) elementwise for the activation ``name`` with Keras's ``params``.

    Example: ``activation(x, "relu", max_value=6.0)``.
    """
    y = _out_like(x, out)
    _C.activation_forward(x, y, _spec(name, params))
    return y


def activation_backward(dy, name, x=None, y=None, out=None, **params):
    """dx = dy * f'(x) elementwise.

    x: the forward input; y: the forward output. sigmoid, tanh and exponential need only y (cheaper);
    every other activation needs x. Returns dx (written into ``out`` when given; it may be dy).
    """
    dx = _out_like(dy, out, "dy")
    _C.activation_backward(x, y, dy, dx, _spec(name, params))
    return dx


def activation_backward_uses_output(name, **params):
    """True when ``name``'s derivative is computed from its output alone (x may then be dropped)."""
    return _C.activation_backward_uses_output(_spec(name, params))


def softmax(x, out=None):
    """softmax over the last axis: exp(x - max) / sum(exp(x - max))."""
    y = _out_like(x, out)
    _C.softmax_forward(x, y, False)
    return y


def softmax_backward(y, dy, out=None):
    """Gradient of softmax over the last axis from its output y: dx = y * (dy - sum(dy * y))."""
    dx = _out_like(dy, out, "dy")
    _C.softmax_backward(y, dy, dx, False)
    return dx


def log_softmax(x, out=None):
    """log_softmax over the last axis: x - max - log(sum(exp(x - max)))."""
    y = _out_like(x, out)
    _C.softmax_forward(x, y, True)
    return y


def log_softmax_backward(y, dy, out=None):
    """Gradient of log_softmax over the last axis from its output y: dx = dy - exp(y) * sum(dy)."""
    dx = _out_like(dy, out, "dy")
    _C.softmax_backward(y, dy, dx, True)
    return dx
