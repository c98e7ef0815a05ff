"""OpLayer: a pynn.ops call recorded on symbolic tensors (`inputs * 2`, `a + b`, `ops.relu(x)` in a functional
model or a traced call()). The elementwise arithmetic and the activations have ONNX forms; another op is an
error naming it."""
import numpy as np

from pynn import activations, layers
from pynn.export.converters.activations import emit_activation
from pynn.export.registry import register_converter
from pynn.layers.node import KerasTensor

_BINARY = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "true_divide": "Div",
           "maximum": "Max", "minimum": "Min", "power": "Pow"}
_UNARY = {"negative": "Neg", "absolute": "Abs", "abs": "Abs", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
          "square": None, "erf": "Erf", "sin": "Sin", "cos": "Cos", "floor": "Floor", "ceil": "Ceil"}
_ACTIVATIONS = {"relu", "relu6", "sigmoid", "tanh", "gelu", "silu", "swish", "elu", "selu", "softplus", "softsign",
                "leaky_relu", "hard_sigmoid", "hard_silu", "hard_swish", "mish", "log_sigmoid", "softmax",
                "log_softmax"}


def _arguments(g, layer, x):
    """The op's positional arguments: tensor names where the call had symbolic tensors, constants otherwise."""
    names = iter(x if isinstance(x, list) else [x])
    out = []
    for arg in layer.op_args:
        if isinstance(arg, KerasTensor):
            out.append(next(names))
        elif isinstance(arg, (int, float, np.number, np.ndarray, list)) and not isinstance(arg, bool):
            out.append(g.const(np.asarray(arg, g.float_dtype), hint="operand"))
        else:
            return None
    return out


# the parameter of an activation op besides x, and its default in pynn.ops (Keras's: gelu is approximate)
_PARAMETER = {"gelu": ("approximate", True), "elu": ("alpha", 1.0), "leaky_relu": ("negative_slope", 0.2),
              "softmax": ("axis", -1), "log_softmax": ("axis", -1)}


@register_converter(layers.OpLayer)
def _op_layer(g, layer, x):
    name, kwargs = layer.op_name, {k: v for k, v in layer.op_kwargs.items() if v is not None}
    if name in _ACTIVATIONS and isinstance(layer.op_args[0], KerasTensor) and not isinstance(x, list):
        return _activation_op(g, layer, x, kwargs)
    args = _arguments(g, layer, x)
    if args is not None and not kwargs and name in _BINARY and len(args) == 2:
        return g.op(_BINARY[name], args, hint=name)
    if args is not None and not kwargs and name in _UNARY and len(args) == 1:
        if name == "square":
            return g.op("Mul", [args[0], args[0]], hint=name)
        return g.op(_UNARY[name], args, hint=name)
    return _unsupported(layer)


def _activation_op(g, layer, x, kwargs):
    name = layer.op_name
    extra = list(layer.op_args[1:])
    parameter, default = _PARAMETER.get(name, (None, None))
    if len(extra) > (parameter is not None) or set(kwargs) - {parameter}:
        return _unsupported(layer)
    value = extra[0] if extra else kwargs.get(parameter, default)
    if name == "log_sigmoid":
        return g.op("Neg", [g.op("Softplus", [g.op("Neg", [x])])], hint=name)
    if parameter == "axis":
        if value not in (-1, len(g.shapes[x]) - 1):
            return _unsupported(layer)
        return emit_activation(g, activations.get(name), x)
    if name == "gelu":
        return emit_activation(g, activations.ActivationFn("gelu", approximate=bool(value)), x)
    params = {parameter: float(value)} if parameter is not None else {}
    return emit_activation(g, activations.ActivationFn(name, **params), x)


def _unsupported(layer):
    raise ValueError(f"ONNX export: layer '{layer.name}' (OpLayer, ops.{layer.op_name} with arguments "
                     f"{layer.op_args!r}, {layer.op_kwargs!r}) has no ONNX converter; the elementwise arithmetic "
                     "and activation ops have one")
