"""Activation functions by name, as Keras's `activation=` arguments take them.

`get(identifier)` returns an `ActivationFn`: forward and backward on the C++ kernels. Identifiers: None or
"linear", a name ("relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "softplus", "softsign",
"swish"/"silu", "hard_sigmoid", "leaky_relu", "exponential", "log_softmax", "relu6", "mish",
"hard_silu"/"hard_swish"), one of the functions of this module (pynn.activations.relu), or an ActivationFn.
relu6 is the relu kernel capped at 6; mish and hard_silu, which have no kernel, run in NumPy (_NUMPY).
"""
import numpy as np

from pynn import _C, kernels

_ROW_WISE = {"softmax", "log_softmax"}
_ALIASES = {"silu": "swish", "hard_swish": "hard_silu", "linear": "linear", None: "linear"}
# Keras names that a kernel computes with fixed parameters: name -> (kernel name, parameters).
_PRESETS = {"relu6": ("relu", {"max_value": 6.0})}


def _kernel(name, x):
    return kernels.activation(np.ascontiguousarray(x), name)


def _mish(x):                      # x tanh(softplus(x))
    return x * _kernel("tanh", _kernel("softplus", x))


def _mish_derivative(x):           # t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x))
    t = _kernel("tanh", _kernel("softplus", x))
    return t + x * (1 - t * t) * _kernel("sigmoid", x)


def _hard_silu(x):                 # x relu6(x + 3) / 6
    return x * _kernel("hard_sigmoid", x)


def _hard_silu_derivative(x):      # as torch's hardswish (Keras 3's): 0 up to -3, 1 from 3, x / 3 + 1/2 between
    return np.where(x <= -3, 0, np.where(x >= 3, 1, x / 3 + 0.5)).astype(x.dtype, copy=False)


# Keras activations with no kernel: name -> (f(x), f'(x)), elementwise in NumPy (on the kernels' pieces).
_NUMPY = {"mish": (_mish, _mish_derivative), "hard_silu": (_hard_silu, _hard_silu_derivative)}


class ActivationFn:
    """One activation with its parameters: y = forward(x); dx = backward(dy, x, y).

    `elementwise` is True for the activations a C++ kernel applies elementwise, which layers fuse into their
    own kernels (GEMM, convolution, recurrent) as the spec `name` / `(name, params)`; it is False for
    softmax / log_softmax (over the last axis) and for the NumPy ones (mish, hard_silu), which layers apply
    after their kernel. `uses_output` says backward needs only y, so a layer may drop x. `name` is the
    kernel's ("relu" for relu6, with params max_value=6); get_config gives Keras's name.
    """

    def __init__(self, name, **params):
        name = _ALIASES.get(name, name)
        self._keras_name = None
        if name in _PRESETS or name in _NUMPY:
            if params:
                raise ValueError(f"activation {name!r}: takes no parameters, got {sorted(params)}")
            if name in _PRESETS:
                self._keras_name = name
                name, params = _PRESETS[name][0], dict(_PRESETS[name][1])
        elif name not in _ROW_WISE and name not in kernels.ACTIVATIONS:
            known = set(kernels.ACTIVATIONS) | _ROW_WISE | set(_PRESETS) | set(_NUMPY) | set(_ALIASES) - {None}
            raise ValueError(f"activation: unknown name {name!r}; expected one of {sorted(known)}")
        self.name = name
        self.params = params
        self._numpy = _NUMPY.get(name)
        self.elementwise = name not in _ROW_WISE and self._numpy is None
        if self._numpy is not None:
            self.uses_output = False
        else:
            self.uses_output = True if not self.elementwise else kernels.activation_backward_uses_output(name, **params)
        self._spec = (name, dict(params)) if params else name

    def forward(self, x, out=None):
        if self._numpy is not None:
            y = self._numpy[0](x)
            if out is None:
                return y
            out[...] = y
            return out
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
        if self._numpy is not None:
            if x is None:
                raise ValueError(f"activation {self.name!r}: backward needs the forward input x")
            return np.multiply(dy, self._numpy[1](x), out=out)
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
        if self._keras_name is not None:
            return self._keras_name
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
    exponential, log_softmax, linear, relu6, mish, hard_silu = (_function(n) for n in (
        "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "softplus", "softsign", "swish",
        "hard_sigmoid", "leaky_relu", "exponential", "log_softmax", "linear", "relu6", "mish", "hard_silu"))
silu = swish
hard_swish = hard_silu
_BY_FUNCTION = {f: f.__name__ for f in (relu, sigmoid, softmax, tanh, elu, selu, gelu, softplus, softsign,
                                       swish, hard_sigmoid, leaky_relu, exponential, log_softmax, linear,
                                       relu6, mish, hard_silu)}


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
