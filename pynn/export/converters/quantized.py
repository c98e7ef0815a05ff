"""Dense after model.quantize("int8"): pynn's int8 scheme (pynn.kernels.quantized) with standard ONNX ops.

The int8 kernel is stored as an int8 initializer and DequantizeLinear gives its float values (per output
column, scale 1 / kernel_scale). Each input row is quantized as pynn's kernel does it at every call:
s = 127 / (max |x| + 1e-7), round half to even, clip to [-127, 127]; the product of the quantized row with the
dequantized kernel, divided by s, is pynn's float(integer sum) / (s * kernel_scale) up to float32 rounding.
"""
import numpy as np

from pynn.kernels.quantized import EPSILON


def quantized_dense(g, layer, x):
    """x @ kernel + bias of an int8 Dense (the activation is the caller's)."""
    static = getattr(layer, "activation_quantization", None)
    if layer.quantization_mode != "int8" or static is not None:
        raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) is quantized "
                         f"({layer.quantization_mode}, activations {static or 'dynamic'}); only int8 with "
                         "activations quantized per row exports")
    kernel_int8 = g.const(layer.kernel.value, np.int8, hint="kernel_int8")
    inverse = np.float32(1.0) / np.asarray(layer.kernel_scale.value, np.float32)
    kernel = g.op("DequantizeLinear", [kernel_int8, g.const(inverse, np.float32, hint="kernel_inverse_scale")],
                  hint="kernel", axis=1)
    amax = g.reduce("ReduceMax", g.op("Abs", [x]), [-1], keepdims=True)
    scale = g.op("Div", [g.scalar(127.0), g.op("Add", [amax, g.scalar(EPSILON)])], hint="row_scale")
    rows = g.op("Clip", [g.op("Round", [g.op("Mul", [x, scale])]), g.scalar(-127.0), g.scalar(127.0)],
                hint="quantized_rows")
    y = g.op("Div", [g.op("MatMul", [rows, kernel]), scale], hint="int8_matmul")
    if layer.use_bias:
        y = g.op("Add", [y, g.const(layer.bias.value, hint="bias")])
    return y
