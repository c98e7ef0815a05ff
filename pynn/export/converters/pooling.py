"""Max / average pooling (1-D and 2-D) and the global poolings.

Windowed pooling runs channels-first between Transposes, as the convolutions do (a channels_first layer needs
none). Keras's average pooling with padding="same" averages only the real values (count_include_pad=0).
"""
import numpy as np

from pynn import layers
from pynn.export.converters.conv import conv_pads, to_channels_first, to_channels_last
from pynn.export.registry import register_converter


@register_converter(layers.MaxPooling1D, layers.MaxPooling2D, layers.AveragePooling1D, layers.AveragePooling2D)
def _pool(g, layer, x):
    rank = layer.rank
    channels_last = layer.data_format == "channels_last"
    spatial = g.shapes[x][1:-1] if channels_last else g.shapes[x][2:]
    pads = conv_pads(spatial, layer.padding, layer.pool_size, layer.strides, (1,) * rank)
    op = "MaxPool" if layer.mode == "max" else "AveragePool"
    extra = {} if layer.mode == "max" else {"count_include_pad": 0}
    xin = to_channels_first(g, x, rank) if channels_last else x
    y = g.op(op, [xin], hint="pool", kernel_shape=list(layer.pool_size), strides=list(layer.strides), **pads,
             **extra)
    return to_channels_last(g, y, rank) if channels_last else y


@register_converter(layers.GlobalMaxPooling1D, layers.GlobalMaxPooling2D, layers.GlobalAveragePooling2D)
def _global_pool(g, layer, x):
    first = 1 if layer.data_format == "channels_last" else 2
    op = "ReduceMax" if layer.mode == "max" else "ReduceMean"
    return g.reduce(op, x, range(first, first + layer.rank), keepdims=layer.keepdims, hint="pool")


@register_converter(layers.GlobalAveragePooling1D)
def _global_average_1d(g, layer, x):
    """The mean over the steps, or with a mask over the valid steps only (zeros where none is valid)."""
    mask = g.masks.get(x)
    if mask is None:
        return _global_pool(g, layer, x)
    steps = 1 if layer.data_format == "channels_last" else 2
    # (batch, steps, 1) against channels-last x, (batch, 1, steps) against channels-first x
    weights = g.unsqueeze(g.cast(mask, g.float_dtype), [2 if steps == 1 else 1])
    total = g.reduce("ReduceSum", g.op("Mul", [x, weights]), [steps], keepdims=layer.keepdims)
    count = g.reduce("ReduceSum", weights, [steps], keepdims=layer.keepdims)
    count = g.op("Max", [count, g.scalar(np.ones((), g.float_dtype))])
    return g.op("Div", [total, count], hint="pool")
