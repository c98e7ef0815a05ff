"""Conv1D / Conv2D, Conv1DTranspose / Conv2DTranspose, DepthwiseConv2D and SeparableConv2D.

pynn's layers are channels-last (NHWC); ONNX's Conv is channels-first (NCHW). Each layer's Conv runs between
two Transposes (to NCHW and back); ONNX Runtime's optimizer removes the pairs that meet between consecutive
layers, so a chain of convolutions and pooling layers stays in NCHW. Kernels are stored in ONNX's layout.
"""
import numpy as np

from pynn import layers
from pynn.export.converters.activations import emit_activation
from pynn.export.registry import register_converter
from pynn.kernels.conv import conv_padding


def to_channels_first(g, x, rank):
    return g.transpose(x, [0, rank + 1] + list(range(1, rank + 1)), hint="to_nchw")


def to_channels_last(g, x, rank):
    return g.transpose(x, [0] + list(range(2, rank + 2)) + [1], hint="to_nhwc")


def conv_pads(spatial, padding, kernel, strides, dilations):
    """Conv's padding attributes for inputs of these spatial sizes: explicit pads (Keras's rule: an odd extra
    zero goes after) where the sizes are known, else auto_pad SAME_UPPER, which is the same rule."""
    if padding == "valid":
        return {"pads": [0] * (2 * len(kernel))}
    if padding == "same" and any(n is None for n in spatial):
        return {"auto_pad": "SAME_UPPER"}
    pairs = [conv_padding(n or 0, k, s, padding, d) for n, k, s, d in zip(spatial, kernel, strides, dilations)]
    return {"pads": [p[0] for p in pairs] + [p[1] for p in pairs]}


def _conv_node(g, layer, x, weight, bias, group=1, kernel=None, strides=None, dilations=None, padding=None):
    """Conv of channels-last x with an OIHW weight: channels-first Conv between Transposes."""
    rank = len(g.shapes[x]) - 2
    kernel = tuple(kernel or layer.kernel_size)
    strides = tuple(strides or layer.strides)
    dilations = tuple(dilations or layer.dilation_rate)
    pads = conv_pads(g.shapes[x][1:-1], padding or layer.padding, kernel, strides, dilations)
    inputs = [to_channels_first(g, x, rank), g.const(weight, hint="kernel")]
    if bias is not None:
        inputs.append(g.const(bias, hint="bias"))
    y = g.op("Conv", inputs, hint="conv", kernel_shape=list(kernel), strides=list(strides),
             dilations=list(dilations), group=int(group), **pads)
    return to_channels_last(g, y, rank)


def _bias(layer):
    return layer.bias.value if layer.use_bias else None


@register_converter(layers.Conv1D, layers.Conv2D)
def _conv(g, layer, x):
    kernel = np.asarray(layer.kernel.value)                    # (*k, in / groups, filters)
    rank = kernel.ndim - 2
    weight = kernel.transpose([rank + 1, rank] + list(range(rank)))
    y = _conv_node(g, layer, x, weight, _bias(layer), group=layer.groups)
    return emit_activation(g, layer.activation, y)


def _depthwise_weight(kernel):
    """(kh, kw, c, m) -> (c * m, 1, kh, kw): output channel c * m + j, as Keras orders them."""
    kh, kw, c, m = kernel.shape
    return np.asarray(kernel).reshape(kh, kw, c * m).transpose(2, 0, 1)[:, None]


@register_converter(layers.DepthwiseConv2D)
def _depthwise(g, layer, x):
    kernel = layer.kernel.value
    y = _conv_node(g, layer, x, _depthwise_weight(kernel), _bias(layer), group=kernel.shape[2])
    return emit_activation(g, layer.activation, y)


@register_converter(layers.SeparableConv2D)
def _separable(g, layer, x):
    depthwise = layer.depthwise_kernel.value
    mid = _conv_node(g, layer, x, _depthwise_weight(depthwise), None, group=depthwise.shape[2])
    g.shapes[mid] = g.shapes[x][:-1] + (None,)                 # only its rank is read
    pointwise = np.asarray(layer.pointwise_kernel.value).transpose(3, 2, 0, 1)
    y = _conv_node(g, layer, mid, pointwise, _bias(layer), kernel=(1, 1), strides=(1, 1), dilations=(1, 1),
                   padding="valid")
    return emit_activation(g, layer.activation, y)


@register_converter(layers.Conv2DTranspose, layers.Conv1DTranspose)
def _conv_transpose(g, layer, x):
    """The transposed convolution is the input gradient of the Conv that maps the output to x. Its padding
    (Keras's rule, on the output size) becomes ConvTranspose's pads; when the output is longer than the
    unpadded transposed convolution (kernel smaller than the stride), output_padding adds the zeros."""
    kernel = np.asarray(layer.kernel.value)                    # (*k, filters, in)
    rank = kernel.ndim - 2
    k, s = kernel.shape[:rank], tuple(layer.strides)[-rank:]
    d = tuple(layer.dilation_rate)[-rank:]
    in_sizes = g.shapes[x][1:-1]
    out_sizes = layer.compute_output_shape(g.shapes[x])[1:-1]
    if any(n is None for n in in_sizes):
        raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) needs known input sizes, "
                         f"got input shape {g.shapes[x]}")
    begin, end, extra = [], [], []
    for n, out, kk, ss, dd in zip(in_sizes, out_sizes, k, s, d):
        full = (n - 1) * ss + (kk - 1) * dd + 1
        before = conv_padding(out, kk, ss, layer.padding, dd)[0]
        after = full - before - out
        begin.append(before)
        end.append(max(after, 0))
        extra.append(max(-after, 0))
    weight = kernel.transpose([rank + 1, rank] + list(range(rank)))   # (in, filters, *k)
    inputs = [to_channels_first(g, x, rank), g.const(weight, hint="kernel")]
    if layer.use_bias:
        inputs.append(g.const(layer.bias.value, hint="bias"))
    y = g.op("ConvTranspose", inputs, hint="conv_transpose", kernel_shape=list(k), strides=list(s),
             dilations=list(d), pads=begin + end, output_padding=extra if any(extra) else None)
    return emit_activation(g, layer.activation, to_channels_last(g, y, rank))
