"""Activations: Keras's formulas (those of pynn.activations' kernels) as ONNX ops, and the activation layers."""
import math

import numpy as np

from pynn import layers
from pynn.export.registry import register_converter

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946

# The elementwise activations that one ONNX op computes, with its attributes.
_ONE_OP = {"sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}), "softsign": ("Softsign", {}),
           "softplus": ("Softplus", {}), "exponential": ("Exp", {}),
           "hard_sigmoid": ("HardSigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}),    # Keras 3: relu6(x + 3) / 6
           "hard_silu": ("HardSwish", {}),                                          # x relu6(x + 3) / 6
           "selu": ("Selu", {"alpha": _SELU_ALPHA, "gamma": _SELU_SCALE})}


def emit_activation(g, act, x, axis=-1):
    """The nodes computing `act` (a pynn.activations.ActivationFn) on tensor x; returns the output name.
    softmax and log_softmax run over `axis` (the last, as in pynn)."""
    name, params = act.name, act.params
    if name == "linear":
        return x
    if name in _ONE_OP:
        op, attributes = _ONE_OP[name]
        return g.op(op, [x], hint=name, **attributes)
    if name == "softmax":
        return g.op("Softmax", [x], hint="softmax", axis=axis)
    if name == "log_softmax":
        return g.op("LogSoftmax", [x], hint="log_softmax", axis=axis)
    if name == "relu":
        return _relu(g, x, **params)
    if name == "leaky_relu":
        return g.op("LeakyRelu", [x], hint=name, alpha=float(params.get("negative_slope", 0.2)))
    if name == "elu":
        return g.op("Elu", [x], hint=name, alpha=float(params.get("alpha", 1.0)))
    if name == "swish":
        return g.op("Mul", [x, g.op("Sigmoid", [x])], hint=name)
    if name == "mish":
        return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])], hint=name)
    if name == "gelu" and not params.get("approximate", False):
        # 0.5 x (1 + erf(x / sqrt(2)))
        erf = g.op("Erf", [g.op("Mul", [x, g.scalar(1.0 / math.sqrt(2.0))])])
        return g.op("Mul", [g.op("Mul", [x, g.scalar(0.5)]), g.op("Add", [erf, g.scalar(1.0)])], hint=name)
    if name in ("gelu", "gelu_tanh"):
        # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.scalar(0.044715)])])
        tanh = g.op("Tanh", [g.op("Mul", [inner, g.scalar(math.sqrt(2.0 / math.pi))])])
        return g.op("Mul", [g.op("Mul", [x, g.scalar(0.5)]), g.op("Add", [tanh, g.scalar(1.0)])], hint=name)
    raise ValueError(f"ONNX export: layer '{g.scope}': the activation {act.get_config()!r} has no ONNX form")


def _relu(g, x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's relu: x above threshold (else 0), capped at max_value, minus negative_slope * (threshold - x)
    below the threshold."""
    cap = max_value is not None and max_value >= 0
    if threshold == 0.0 and not negative_slope:
        if not cap:
            return g.op("Relu", [x], hint="relu")
        return g.op("Clip", [x, g.scalar(0.0), g.scalar(float(max_value))], hint="relu")
    if threshold == 0.0 and not cap:
        return g.op("LeakyRelu", [x], hint="relu", alpha=float(negative_slope))
    thr = g.scalar(float(threshold))
    above = g.op("Greater", [x, thr])
    y = g.op("Where", [above, x, g.scalar(0.0)])
    if cap:
        y = g.op("Clip", [y, g.scalar(0.0), g.scalar(float(max_value))])
    if negative_slope:
        below = g.op("Relu", [g.op("Sub", [thr, x])])
        y = g.op("Sub", [y, g.op("Mul", [below, g.scalar(float(negative_slope))])])
    return g.op("Identity", [y], hint="relu")


@register_converter(layers.Activation, layers.ReLU, layers.LeakyReLU, layers.ELU, layers.Softmax)
def _activation(g, layer, x):
    return emit_activation(g, layer.activation, x)


@register_converter(layers.PReLU)
def _prelu(g, layer, x):
    alpha = np.asarray(layer.alpha.value)
    return g.op("PRelu", [x, g.const(alpha, hint="alpha")], hint="prelu")
