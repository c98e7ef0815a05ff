"""The merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate (NumPy broadcasting, as
ONNX's elementwise ops), Dot (a batched MatMul), and the masks they pass on, by Keras's rules
(pynn.layers.merge): the elementwise merges keep the steps every input's mask keeps; Concatenate joins the
masks along its axis; Dot passes none."""
import numpy as np

from pynn import layers
from pynn.export.registry import register_converter

_VARIADIC = {layers.Add: "Sum", layers.Maximum: "Max", layers.Minimum: "Min"}


def _elementwise_mask(g, xs, y):
    masks = [g.masks[x] for x in xs if x in g.masks]
    if masks:
        g.masks[y] = masks[0] if len(masks) == 1 else g.op("And", masks[:2], hint="mask")
        for m in masks[2:]:
            g.masks[y] = g.op("And", [g.masks[y], m], hint="mask")
    return y


@register_converter(*_VARIADIC)
def _variadic(g, layer, xs):
    return _elementwise_mask(g, xs, g.op(_VARIADIC[type(layer)], list(xs)))


@register_converter(layers.Subtract)
def _subtract(g, layer, xs):
    return _elementwise_mask(g, xs, g.op("Sub", list(xs), hint="subtract"))


@register_converter(layers.Multiply)
def _multiply(g, layer, xs):
    y = xs[0]
    for x in xs[1:]:
        y = g.op("Mul", [y, x], hint="multiply")
    return _elementwise_mask(g, xs, y)


@register_converter(layers.Average)
def _average(g, layer, xs):
    return _elementwise_mask(g, xs, g.op("Mul", [g.op("Sum", list(xs)), g.scalar(1.0 / len(xs))], hint="average"))


@register_converter(layers.Concatenate)
def _concatenate(g, layer, xs):
    y = g.op("Concat", list(xs), hint="concatenate", axis=int(layer.axis))
    if any(x in g.masks for x in xs):
        # each input's mask (all True where it has none) spread over its shape, joined along the axis; a
        # position is kept where any of its features is
        full = []
        for x in xs:
            shape = g.op("Shape", [x])
            if x in g.masks:
                mask = g.cast(g.masks[x], g.float_dtype)
                if len(g.shapes[x]) > 2:
                    mask = g.unsqueeze(mask, [-1])
                full.append(g.op("Expand", [mask, shape]))
            else:
                full.append(g.op("Expand", [g.const(np.ones(1), hint="one"), shape]))
        joined = g.op("Concat", full, axis=int(layer.axis))
        g.masks[y] = g.cast(g.reduce("ReduceMax", joined, [-1], keepdims=False), np.bool_, hint="mask")
    return y


def _l2_normalize(g, x, axis):
    """x / sqrt(max(sum(x^2), 1e-12)) along `axis`, as pynn's Dot(normalize=True)."""
    total = g.reduce("ReduceSumSquare", x, [axis], keepdims=True)
    return g.op("Div", [x, g.op("Sqrt", [g.op("Max", [total, g.scalar(1e-12)])])], hint="normalized")


@register_converter(layers.Dot)
def _dot(g, layer, xs):
    """(batch, [p,] k) @ (batch, k, [q]): each input's dot axis moved into place, a MatMul, and the size-1 axes
    of a 2-D input squeezed out."""
    a, b = xs
    rank_a, rank_b = len(g.shapes[a]), len(g.shapes[b])
    ax = layer._axes([g.shapes[a], g.shapes[b]])
    if layer.normalize:
        a, b = _l2_normalize(g, a, ax[0]), _l2_normalize(g, b, ax[1])
    if ax[0] != rank_a - 1:
        a = g.transpose(a, [i for i in range(rank_a) if i != ax[0]] + [ax[0]])
    if ax[1] != 1:
        b = g.transpose(b, [0, ax[1]] + [i for i in range(1, rank_b) if i != ax[1]])
    a = g.unsqueeze(a, [1]) if rank_a == 2 else a
    b = g.unsqueeze(b, [2]) if rank_b == 2 else b
    y = g.op("MatMul", [a, b], hint="dot")                    # (batch, p or 1, q or 1)
    if rank_b == 2:
        return g.squeeze(y, [2], hint="dot")
    return g.squeeze(y, [1], hint="dot") if rank_a == 2 else y
