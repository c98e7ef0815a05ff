"""The table of pynn.ops functions: each op's name and how it differentiates.

Every public op is registered here with one of three gradient kinds:
  "vjp":  differentiable; its result records a vector-Jacobian product while recording.
  "zero": piecewise constant (floor, round, sign, ...): the gradient through it is zero, as in TensorFlow
          and PyTorch; its result is not traced.
  "none": its result is not a differentiable function of its inputs (comparisons, argmax, shapes, creation,
          random draws); it is never traced.
tests/test_ops_gradients.py checks every "vjp" op against finite differences: an op registered here without
a case there fails that test.
"""
import functools

import numpy as np

from pynn.ops.tensor import Tensor
from pynn.variable import Variable

OPS = {}


_CONCRETE = frozenset({Tensor, Variable, np.ndarray, float, int, bool, str, type(None)})   # never symbolic


def _symbolic(values):
    for v in values:
        kind = type(v)
        if kind in _CONCRETE:
            continue
        if kind.__name__ == "KerasTensor" or ((kind is list or kind is tuple) and _symbolic(v)):
            return True
    return False


def op(kind="vjp", name=None):
    """Register a pynn.ops function; errors it raises name the op and the shapes it was given."""
    def register(fn):
        op_name = name or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if _symbolic(args) or (kwargs and _symbolic(kwargs.values())):
                from pynn.layers.op_layer import symbolic_op      # a functional model's graph
                return symbolic_op(op_name, args, kwargs)
            try:
                return fn(*args, **kwargs)
            except (ValueError, TypeError, IndexError) as e:
                message = str(e)
                if message.startswith("ops."):
                    raise
                shapes = [tuple(getattr(a, "shape", ())) for a in args if hasattr(a, "shape")]
                where = f" (input shapes {', '.join(map(str, shapes))})" if shapes else ""
                raise type(e)(f"ops.{op_name}{where}: {message}") from e
        wrapper.op_name = op_name
        wrapper.gradient_kind = kind
        OPS[op_name] = wrapper
        return wrapper
    return register
