"""Dense, Embedding, Masking, the layers that only move data (Flatten, Reshape, Permute, RepeatVector),
Rescaling, and the layers that are the identity at inference (Dropout, the noise and augmentation layers)."""
import numpy as np

from pynn import layers
from pynn.export.converters.activations import emit_activation
from pynn.export.converters.quantized import check_int8, int8_weight, quantized_dense
from pynn.export.registry import register_converter


@register_converter(layers.Dense, quantized=True)
def _dense(g, layer, x):
    if layer.quantization_mode is not None:
        return emit_activation(g, layer.activation, quantized_dense(g, layer, x))
    y = g.op("MatMul", [x, g.const(layer.kernel.value, hint="kernel")])
    if layer.use_bias:
        y = g.op("Add", [y, g.const(layer.bias.value, hint="bias")])
    return emit_activation(g, layer.activation, y)


@register_converter(layers.Embedding, quantized=True)
def _embedding(g, layer, x):
    indices = x if not g.is_float(x) else g.cast(x, np.int64, hint="indices")
    if layer.quantization_mode is not None:      # int8 rows, one scale each: the lookup reads the dequantized table
        check_int8(layer)
        table = int8_weight(g, layer.embeddings.value, layer.embeddings_scale.value, 0, hint="embeddings")
    else:
        table = g.const(layer.embeddings.value, hint="embeddings")
    y = g.op("Gather", [table, indices], axis=0)
    if layer.mask_zero:
        zero = g.const(np.zeros((), g.dtypes.get(indices, np.int64)), hint="zero")
        g.masks[y] = g.op("Not", [g.op("Equal", [indices, zero])], hint="mask")
    return y


@register_converter(layers.Masking)
def _masking(g, layer, x):
    """keep = any(x != mask_value) over the features: the mask, and x times it."""
    differs = g.op("Not", [g.op("Equal", [x, g.scalar(layer.mask_value)])])
    keep = g.reduce("ReduceMax", g.cast(differs, g.float_dtype), [-1], keepdims=True)
    y = g.op("Mul", [x, keep])
    g.masks[y] = g.cast(g.squeeze(keep, [-1]), np.bool_, hint="mask")
    return y


_IDENTITY_AT_INFERENCE = (
    layers.Dropout, layers.GaussianNoise, layers.GaussianDropout, layers.SpatialDropout1D, layers.SpatialDropout2D,
    layers.ActivityRegularization, layers.Identity, layers.RandomFlip, layers.RandomRotation, layers.RandomZoom,
    layers.RandomTranslation, layers.RandomContrast, layers.RandomBrightness)


@register_converter(*_IDENTITY_AT_INFERENCE)
def _identity(g, layer, x):
    return g.op("Identity", [x], hint="identity")


@register_converter(layers.Flatten)
def _flatten(g, layer, x):
    return g.op("Flatten", [x], axis=1)


@register_converter(layers.Reshape)
def _reshape(g, layer, x):
    # 0 copies the batch size (any), the rest is the target shape (one -1 allowed).
    return g.op("Reshape", [x, g.ints((0,) + tuple(layer.target_shape))])


@register_converter(layers.Permute)
def _permute(g, layer, x):
    return g.transpose(x, (0,) + tuple(layer.dims), hint="permute")


@register_converter(layers.RepeatVector)
def _repeat_vector(g, layer, x):
    return g.op("Tile", [g.unsqueeze(x, [1]), g.ints([1, layer.n, 1])], hint="repeat")


@register_converter(layers.Rescaling)
def _rescaling(g, layer, x):
    y = g.op("Mul", [x, g.const(layer._scale, hint="scale")])
    return g.op("Add", [y, g.const(layer._offset, hint="offset")])
