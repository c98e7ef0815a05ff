"""Conv1D / Conv2D, Conv1DTranspose / Conv2DTranspose, DepthwiseConv2D and SeparableConv2D.

pynn's layers are channels-last (NHWC); ONNX's Conv is channels-first (NCHW). Each layer's Conv runs between
two Transposes (to NCHW and back); ONNX Runtime's optimizer removes the pairs that meet between consecutive
layers, so a chain of convolutions and pooling layers stays in NCHW. Kernels are stored in ONNX's layout.

Quantized (model.quantize("int8"), see quantized.py): the int8 kernel in that layout, DequantizeLinear on its
output-channel axis (0). Static inputs: QuantizeLinear -> DequantizeLinear before the Conv. Dynamic inputs: pynn
quantizes each window of a Conv1D / Conv2D (per group) with its own scale, which no Conv computes: the windows
are taken as rows (a depthwise Conv with 0 / 1 weights, exact: one product by 1 per value), quantized per row
(and group) and multiplied by the kernel as a matrix; a DepthwiseConv2D quantizes each channel of each image,
which its Conv reads as it is; SeparableConv2D's pointwise product quantizes each pixel.
"""
import numpy as np

from pynn import layers
from pynn.export.converters import quantized
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
    """Conv of channels-last x with an OIHW weight (an array, or the name of a tensor): channels-first Conv
    between Transposes."""
    rank = len(g.shapes[x]) - 2
    kernel = tuple(kernel or layer.kernel_size)
    strides = tuple(strides or layer.strides)
    dilations = tuple(dilations or layer.dilation_rate)
    pads = conv_pads(g.shapes[x][1:-1], padding or layer.padding, kernel, strides, dilations)
    weight = weight if isinstance(weight, str) else g.const(weight, hint="kernel")
    inputs = [to_channels_first(g, x, rank), weight]
    if bias is not None:
        inputs.append(g.const(bias, hint="bias"))
    y = g.op("Conv", inputs, hint="conv", kernel_shape=list(kernel), strides=list(strides),
             dilations=list(dilations), group=int(group), **pads)
    return to_channels_last(g, y, rank)


def _bias(layer):
    return layer.bias.value if layer.use_bias else None


@register_converter(layers.Conv1D, layers.Conv2D, quantized=True)
def _conv(g, layer, x):
    if layer.quantization_mode is not None:
        return emit_activation(g, layer.activation, _int8_conv(g, layer, x))
    kernel = np.asarray(layer.kernel.value)                    # (*k, in / groups, filters)
    rank = kernel.ndim - 2
    weight = kernel.transpose([rank + 1, rank] + list(range(rank)))
    y = _conv_node(g, layer, x, weight, _bias(layer), group=layer.groups)
    return emit_activation(g, layer.activation, y)


def _depthwise_weight(kernel):
    """(kh, kw, c, m) -> (c * m, 1, kh, kw): output channel c * m + j, as Keras orders them."""
    kh, kw, c, m = kernel.shape
    return np.asarray(kernel).reshape(kh, kw, c * m).transpose(2, 0, 1)[:, None]


@register_converter(layers.DepthwiseConv2D, quantized=True)
def _depthwise(g, layer, x):
    kernel = layer.kernel.value
    if layer.quantization_mode is not None:
        y = _int8_depthwise(g, layer, x, "kernel", _bias(layer))
    else:
        y = _conv_node(g, layer, x, _depthwise_weight(kernel), _bias(layer), group=kernel.shape[2])
    return emit_activation(g, layer.activation, y)


@register_converter(layers.SeparableConv2D, quantized=True)
def _separable(g, layer, x):
    depthwise = layer.depthwise_kernel.value
    if layer.quantization_mode is not None:
        mid = _int8_depthwise(g, layer, x, "depthwise_kernel", None)
        y = quantized.int8_matmul(g, layer, mid, "pointwise_kernel", which=1)     # a pixel's 1 x 1 product
        if layer.use_bias:
            y = g.op("Add", [y, g.const(layer.bias.value, hint="bias")])
        return emit_activation(g, layer.activation, y)
    mid = _conv_node(g, layer, x, _depthwise_weight(depthwise), None, group=depthwise.shape[2])
    g.shapes[mid] = g.shapes[x][:-1] + (None,)                 # only its rank is read
    pointwise = np.asarray(layer.pointwise_kernel.value).transpose(3, 2, 0, 1)
    y = _conv_node(g, layer, mid, pointwise, _bias(layer), kernel=(1, 1), strides=(1, 1), dilations=(1, 1),
                   padding="valid")
    return emit_activation(g, layer.activation, y)


# ---------------------------------------------------------------------------------------------- int8
def _int8_conv(g, layer, x):
    """The int8 Conv1D / Conv2D, bias added (see the module)."""
    quantized.check_int8(layer)
    q = np.asarray(layer.kernel.value)                         # (*k, in / groups, filters) int8
    scale, rank = layer.kernel_scale.value, q.ndim - 2
    if layer.activation_quantization == "static":
        weight = quantized.int8_weight(g, q.transpose([rank + 1, rank] + list(range(rank))), scale, 0)
        return _conv_node(g, layer, quantized.quantized_input(g, layer, x), weight, _bias(layer), group=layer.groups)
    windows = _windows(g, layer, x)                            # (batch, *out, in * taps): in c * taps + t
    groups, filters, keep = layer.groups, q.shape[-1], [0] * (rank + 1)
    if groups > 1:                                             # each group's part of a window: its own scale
        windows = g.op("Reshape", [windows, g.ints(keep + [groups, -1])], hint="group_rows")
    codes, row_scale = quantized.quantize_rows(g, windows)
    if groups > 1:
        codes = g.op("Reshape", [codes, g.ints(keep + [-1])], hint="rows")
    y = g.op("MatMul", [codes, quantized.int8_weight(g, _window_kernel(q, groups), scale, 1)], hint="int8_matmul")
    if groups > 1:
        y = g.op("Reshape", [y, g.ints(keep + [groups, filters // groups])], hint="group_columns")
    y = g.op("Div", [y, row_scale], hint="int8_conv")
    if groups > 1:
        y = g.op("Reshape", [y, g.ints(keep + [filters])], hint="int8_conv")
    if layer.use_bias:
        y = g.op("Add", [y, g.const(layer.bias.value, hint="bias")])
    return y


def _windows(g, layer, x):
    """The windows of x as channels-last rows (batch, *out, in * taps), value c * taps + t being tap t of
    channel c: a depthwise Conv (the layer's padding, strides, dilations) whose weights are one-hot."""
    kernel, channels = tuple(layer.kernel_size), g.shapes[x][-1]
    taps = int(np.prod(kernel))
    one_hot = np.eye(taps, dtype=np.float32).reshape((taps, 1) + kernel)
    weight = np.tile(one_hot, (channels, 1) + (1,) * len(kernel))          # (in * taps, 1, *k)
    return _conv_node(g, layer, x, weight, None, group=channels)


def _window_kernel(q, groups):
    """The int8 kernel (*k, in / groups, filters) as the matrix (in * taps, filters) that multiplies _windows'
    rows: block diagonal over the groups."""
    rank = q.ndim - 2
    per_group = np.moveaxis(q, rank, 0).reshape(-1, q.shape[-1])          # (in / groups * taps, filters)
    if groups == 1:
        return per_group
    rows, cols = per_group.shape[0], q.shape[-1] // groups
    matrix = np.zeros((rows * groups, q.shape[-1]), np.int8)
    for i in range(groups):
        matrix[i * rows:(i + 1) * rows, i * cols:(i + 1) * cols] = per_group[:, i * cols:(i + 1) * cols]
    return matrix


def _int8_depthwise(g, layer, x, attr, bias):
    """The int8 depthwise convolution by kernel `attr`: x quantized per image channel (or static), a Conv with
    the dequantized kernel."""
    quantized.check_int8(layer)
    q = np.asarray(getattr(layer, attr).value)                 # (kh, kw, channels, multiplier) int8
    weight = quantized.int8_weight(g, _depthwise_weight(q), getattr(layer, f"{attr}_scale").value, 0, hint=attr)
    return _conv_node(g, layer, quantized.quantized_input(g, layer, x, axes=(1, 2)), weight, bias, group=q.shape[2])


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
