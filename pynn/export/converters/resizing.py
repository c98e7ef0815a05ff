"""Resizing, CenterCrop and RandomCrop (its inference: the centre crop), as pynn's resample computes them.

Each image is cropped to a box (or padded), then resized one axis after the other, columns first. Along an
axis, every output pixel is a weighted sum of input pixels gathered at fixed indices ("taps"); the graph
computes the taps from the input size with the float32 arithmetic of pynn's axis_taps, so they are the same
numbers: bilinear with half-pixel centres clamped to the image, nearest reading pixel floor((o + 0.5) * in /
out). An axis already of the target size (known at export) is left as it is, as in pynn.

The input sizes may be unknown (a dynamic axis) for Resizing without crop_to_aspect_ratio / pad_to_aspect_ratio;
the boxes of those, of CenterCrop and of RandomCrop depend on the sizes, which must then be known.
"""
import numpy as np

from pynn import layers
from pynn.export.registry import register_converter
from pynn.layers.preprocessing.resampling import aspect_crop_box, aspect_padding


def _axes(layer):
    """(height axis, width axis)."""
    return (1, 2) if layer.data_format == "channels_last" else (2, 3)


def _known_sizes(g, layer, x):
    h_axis, w_axis = _axes(layer)
    h, w = g.shapes[x][h_axis], g.shapes[x][w_axis]
    if h is None or w is None:
        raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) needs known image sizes here "
                         f"(its crop or padding depends on them), got input shape {g.shapes[x]}")
    return h, w


def _taps(g, size, out, interpolation):
    """[(indices (out,), weights (out,) or None)] from `size` input pixels (an int64 scalar tensor) to `out`."""
    scale = g.op("Div", [g.cast(size, g.float_dtype), g.scalar(float(out))], hint="scale")
    pos = g.op("Mul", [g.const(np.arange(out) + 0.5, hint="centres"), scale], hint="position")
    last = g.op("Sub", [size, g.const(np.int64(1))], hint="last")
    if interpolation == "nearest":
        return [(g.op("Min", [g.cast(g.op("Floor", [pos]), np.int64), last], hint="index"), None)]
    pos = g.op("Max", [g.op("Sub", [pos, g.scalar(0.5)]), g.scalar(0.0)], hint="position")
    low = g.op("Floor", [pos])
    frac = g.op("Sub", [pos, low], hint="fraction")
    low = g.cast(low, np.int64, hint="index")
    high = g.op("Min", [g.op("Add", [low, g.const(np.int64(1))]), last], hint="index")
    return [(low, g.op("Sub", [g.scalar(1.0), frac], hint="weight")), (high, frac)]


def _resize_axis(g, x, rank, axis, size, out, interpolation):
    y = None
    for index, weight in _taps(g, size, out, interpolation):
        term = g.op("Gather", [x, index], hint="taps", axis=axis)
        if weight is not None:
            weight = g.op("Reshape", [weight, g.ints([-1] + [1] * (rank - 1 - axis))])
            term = g.op("Mul", [term, weight])
        y = term if y is None else g.op("Add", [y, term], hint="resized")
    return y


def _resample(g, layer, x, interpolation, box=None, padding=None, fill_value=0.0):
    """pynn's resample on the layer's image axes: crop to box (top, left, height, width) or pad by (rows,
    columns) on each side, then resize to (layer.height, layer.width)."""
    h_axis, w_axis = _axes(layer)
    shape, rank = list(g.shapes[x]), len(g.shapes[x])
    if box is not None:
        top, left, height, width = box
        x = g.op("Slice", [x, g.ints([top, left], "starts"), g.ints([top + height, left + width], "ends"),
                           g.ints([h_axis, w_axis], "axes")], hint="crop")
        shape[h_axis], shape[w_axis] = height, width
    elif padding is not None and any(padding):
        pads = [0] * (2 * rank)
        for axis, p in zip((h_axis, w_axis), padding):
            pads[axis] = pads[rank + axis] = p
            shape[axis] += 2 * p
        x = g.op("Pad", [x, g.ints(pads, "pads"), g.scalar(float(fill_value))], hint="pad", mode="constant")
    for axis, out in ((w_axis, layer.width), (h_axis, layer.height)):
        if shape[axis] != out:
            size = (g.const(np.int64(shape[axis])) if shape[axis] is not None else
                    g.op("Gather", [g.op("Shape", [x]), g.const(np.int64(axis))], hint="size"))
            x = _resize_axis(g, x, rank, axis, size, out, interpolation)
    return g.op("Identity", [x], hint="resize")


@register_converter(layers.Resizing)
def _resizing(g, layer, x):
    target = (layer.height, layer.width)
    if layer.crop_to_aspect_ratio:
        return _resample(g, layer, x, layer.interpolation, box=aspect_crop_box(*_known_sizes(g, layer, x), *target))
    if layer.pad_to_aspect_ratio:
        padding = aspect_padding(*_known_sizes(g, layer, x), *target)
        return _resample(g, layer, x, layer.interpolation, padding=padding, fill_value=layer.fill_value)
    return _resample(g, layer, x, layer.interpolation)


@register_converter(layers.CenterCrop)
def _center_crop(g, layer, x):
    """The centred window; an image smaller than the target is cropped to its aspect ratio and resized."""
    h, w = _known_sizes(g, layer, x)
    if h >= layer.height and w >= layer.width:
        box = ((h - layer.height) // 2, (w - layer.width) // 2, layer.height, layer.width)
    else:
        box = aspect_crop_box(h, w, layer.height, layer.width)
    return _resample(g, layer, x, "bilinear", box=box)


@register_converter(layers.RandomCrop)
def _random_crop(g, layer, x):
    """At inference pynn's RandomCrop crops to the target's aspect ratio (centred) and resizes (bilinear)."""
    return _resample(g, layer, x, "bilinear", box=aspect_crop_box(*_known_sizes(g, layer, x), layer.height,
                                                                  layer.width))
