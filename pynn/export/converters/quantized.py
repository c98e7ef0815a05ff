"""Layers after model.quantize("int8"): pynn's int8 scheme (pynn.layers.quantization, pynn.kernels.quantized) in
standard ONNX ops, in QDQ form. Dense's converter is here; the others (conv.py, core.py, recurrent.py) use the
helpers here.

Weights: each int8 kernel is an int8 initializer in the layout of the float converter's weight, and
DequantizeLinear gives its float values, with one scale per output channel (1 / kernel_scale) along that
layout's output axis: 1 for MatMul's (in, out), 0 for Conv's (out, in, *k), 1 for the recurrent ops' W
(1, gates * units, features), 0 for Embedding's table (one scale per row).

Activations, dynamic (Keras's way): each row is quantized as pynn's kernel does it at every call,
s = 127 / (max |x| + 1e-7) over the row, round half to even, clip to [-127, 127], in Mul / Round / Clip. A row is
what pynn quantizes with one scale: a Dense or recurrent input row, a convolution's window (per group), a
depthwise convolution's image channel. The product of the codes with the dequantized kernel, divided by s (or
the codes divided by s before an op that reads floats: the depthwise Conv, the recurrent ops), is pynn's
float(integer sum) / (s * kernel_scale) up to float32 rounding.

Activations, static (calibrated inputs_scale s): QuantizeLinear -> DequantizeLinear with scale 1 / s and zero
point 0 (int8), preceded by a Clip of x at -127 / s. pynn rounds x * s half to even and clips to [-127, 127];
QuantizeLinear rounds x / (1 / s) half to even and saturates to [-128, 127]: the Clip keeps -128 out (an input
below the calibrated range gives -127, as in pynn), and x / (1 / s) differs from x * s by at most one float32
ulp, which moves a code by one only when x * s lies within an ulp of a half integer (onnxruntime: 2 codes in
2 million normal values), within one quantization step.

onnxruntime's optimizer fuses DequantizeLinear + MatMul into its own int8 products (MatMulNBits, which
quantizes the rows again; static: MatMulIntegerToFloat): within one quantization step of pynn. On x86 without
VNNI, its default turns int8 activations into uint8 for a u8s8 kernel whose int16 pair sums can saturate with
full-range int8 weights; the session option "session.qdqisint8allowed" = "1" keeps them int8.
"""
import numpy as np

from pynn.kernels.quantized import EPSILON


def check_int8(layer):
    """ValueError unless the layer is quantized in a mode this module exports (int8, dynamic or static)."""
    static = getattr(layer, "activation_quantization", None)
    if layer.quantization_mode != "int8" or static not in (None, "static"):
        raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) is quantized "
                         f"({layer.quantization_mode}, activations {static or 'dynamic'}); only int8 with "
                         "activations quantized per row or with a static scale exports")


def int8_weight(g, q, scale, axis, hint="kernel"):
    """DequantizeLinear of the int8 initializer q, one scale per index of `axis` (1 / scale: pynn's scales
    multiply the float weight, DequantizeLinear's multiply the codes)."""
    inverse = np.float32(1.0) / np.asarray(scale, np.float32)
    return g.op("DequantizeLinear", [g.const(q, np.int8, hint=f"{hint}_int8"),
                                     g.const(inverse, np.float32, hint=f"{hint}_inverse_scale")],
                hint=hint, axis=int(axis))


def quantize_rows(g, x, axes=(-1,)):
    """(codes, scale): x quantized per row (the values over `axes` share a scale) as pynn does at each call;
    codes are floats holding integers in [-127, 127], scale keeps the reduced axes (size 1)."""
    amax = g.reduce("ReduceMax", g.op("Abs", [x]), list(axes), keepdims=True)
    scale = g.op("Div", [g.scalar(127.0), g.op("Add", [amax, g.scalar(EPSILON)])], hint="row_scale")
    codes = g.op("Clip", [g.op("Round", [g.op("Mul", [x, scale])]), g.scalar(-127.0), g.scalar(127.0)],
                 hint="quantized_rows")
    return codes, scale


def fake_quantize_rows(g, x, axes=(-1,)):
    """x quantized per row and back to floats (codes / scale): the values an int8 product reads."""
    codes, scale = quantize_rows(g, x, axes)
    return g.op("Div", [codes, scale], hint="dequantized_rows")


def quantize_static(g, x, scale):
    """Clip -> QuantizeLinear -> DequantizeLinear of x with the calibrated input scale (see the module)."""
    inverse = np.float32(1.0) / np.float32(scale)
    step = g.const(inverse, np.float32, hint="input_inverse_scale", keep_0d=True)
    zero = g.const(np.int8(0), np.int8, hint="zero", keep_0d=True)
    x = g.op("Clip", [x, g.const(np.float32(-127.0) * inverse, np.float32, hint="input_min", keep_0d=True)],
             hint="clip")
    q = g.op("QuantizeLinear", [x, step, zero], hint="quantized_input")
    return g.op("DequantizeLinear", [q, step, zero], hint="dequantized_input")


def quantized_input(g, layer, x, axes=(-1,), which=0):
    """The values the layer's int8 product reads of x: static (its inputs scale `which`) or per row (the
    values over `axes` share a scale). They keep x's Keras shape, for the converters that read it."""
    if layer.activation_quantization == "static":
        y = quantize_static(g, x, getattr(layer, layer._static_inputs[which]).value)
    else:
        y = fake_quantize_rows(g, x, axes)
    if x in g.shapes:
        g.shapes[y] = g.shapes[x]
    return y


def int8_matmul(g, layer, x, attr, which=0):
    """x @ kernel of the int8 kernel `attr` seen as a matrix (in, out), its input quantized on the last axis
    as the layer's mode says: dynamic, the codes times the dequantized kernel, over the row scale (as pynn
    rounds it); static, the quantized-dequantized input times the dequantized kernel."""
    q = np.asarray(getattr(layer, attr).value)
    kernel = int8_weight(g, q.reshape(-1, q.shape[-1]), getattr(layer, f"{attr}_scale").value, 1, hint=attr)
    if layer.activation_quantization == "static":
        return g.op("MatMul", [quantized_input(g, layer, x, which=which), kernel], hint="int8_matmul")
    codes, scale = quantize_rows(g, x)
    return g.op("Div", [g.op("MatMul", [codes, kernel]), scale], hint="int8_matmul")


def quantized_dense(g, layer, x):
    """x @ kernel + bias of an int8 Dense (the activation is the caller's)."""
    check_int8(layer)
    y = int8_matmul(g, layer, x, "kernel")
    if layer.use_bias:
        y = g.op("Add", [y, g.const(layer.bias.value, hint="bias")])
    return y
