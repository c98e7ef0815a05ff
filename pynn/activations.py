"""Activation functions by name, as Keras's `activation=` arguments take them.

`get(identifier)` returns an `ActivationFn`: forward and backward on the C++ kernels. Identifiers: None or
"linear", a name ("relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "softplus", "softsign",
"swish"/"silu", "hard_sigmoid", "leaky_relu", "exponential", "log_softmax"), one of the functions of this
module (pynn.activations.relu), or an ActivationFn.
"""
import numpy as np

from pynn import _C, kernels

_ROW_WISE = {"softmax", "log_softmax"}
_ALIASES = {"silu": "swish", "linear": "linear", None: "linear"}


class ActivationFn:
    """One activation with its parameters: y = forward(x); dx = backward(dy, x, y).

    `elementwise` is False for softmax / log_softmax (over the last axis). `uses_output` says backward
    needs only y, so a layer may drop x.
    """

    def __init__(self, name, **params):
        name = _ALIASES.get(name, name)
        if name not in _ROW_WISE and name not in kernels.ACTIVATIONS:
            raise ValueError(f"activation: unknown name {name!r}; expected one of "
                             f"{sorted(set(kernels.ACTIVATIONS) | _ROW_WISE | {'silu'})}")
        self.name = name
        self.params = params
        self.elementwise = name not in _ROW_WISE
        self.uses_output = True if not self.elementwise else kernels.activation_backward_uses_output(name, **params)
        self._spec = (name, dict(params)) if params else name

    def forward(self, x, out=None):
        if self.name == "softmax":
            return kernels.softmax(x, out=out)
        if self.name == "log_softmax":
            return kernels.log_softmax(x, out=out)
        if out is None and type(x) is np.ndarray:    # the layers' case: straight to the kernel
            out = np.empty_like(x, order="C")
            _C.activation_forward(x, out, self._spec)
            return out
        return kernels.activation(x, self.name, out=out, **self.params)

    def backward(self, dy, x=None, y=None, out=None):
        if self.name == "softmax":
            return kernels.softmax_backward(y, dy, out=out)
        if self.name == "log_softmax":
            return kernels.log_softmax_backward(y, dy, out=out)
        if out is None and type(dy) is np.ndarray:
            out = np.empty_like(dy, order="C")
            _C.activation_backward(x, y, dy, out, self._spec)
            return out
        return kernels.activation_backward(dy, self.name, x=x, y=y, out=out, **self.params)

    def __call__(self, x):
        x = np.ascontiguousarray(x)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float32)
        return self.forward(x)

    def get_config(self):
        return self.name if not self.params else {"name": self.name, **self.params}

    def __eq__(self, other):
        return isinstance(other, ActivationFn) and (self.name, self.params) == (other.name, other.params)

    def __repr__(self):
        return f"ActivationFn({self.name!r}{''.join(f', {k}={v!r}' for k, v in self.params.items())})"


def _function(name):
    def fn(x, **params):
        return ActivationFn(name, **params)(x)
    fn.__name__ = name
    fn.__doc__ = f"The {name} activation (Keras's formula), elementwise or over the last axis."
    return fn


relu, sigmoid, softmax, tanh, elu, selu, gelu, softplus, softsign, swish, hard_sigmoid, leaky_relu, \
    exponential, log_softmax, linear = (_function(n) for n in (
        "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "softplus", "softsign", "swish",
        "hard_sigmoid", "leaky_relu", "exponential", "log_softmax", "linear"))
silu = swish
_BY_FUNCTION = {f: f.__name__ for f in (relu, sigmoid, softmax, tanh, elu, selu, gelu, softplus, softsign,
                                       swish, hard_sigmoid, leaky_relu, exponential, log_softmax, linear)}


def get(identifier):
    """An ActivationFn for a name, a function of this module, a config dict or an ActivationFn."""
    if isinstance(identifier, ActivationFn):
        return identifier
    if identifier is None or isinstance(identifier, str):
        return ActivationFn(identifier)
    if isinstance(identifier, dict):
        params = dict(identifier)
        return ActivationFn(params.pop("name"), **params)
    if identifier in _BY_FUNCTION:
        return ActivationFn(_BY_FUNCTION[identifier])
    raise ValueError(f"activation: expected a name, a pynn.activations function or None, got {identifier!r} "
                     "(a custom Python function has no backward pass; write a Layer for it)")
