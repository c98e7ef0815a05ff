"""BatchNormalization (inference: the moving statistics), LayerNormalization, GroupNormalization,
UnitNormalization and the Normalization preprocessing layer."""
import numpy as np

from pynn import layers
from pynn.export.registry import register_converter
from pynn.layers.layer_normalization import normalize_axes
from pynn.layers.unit_normalization import _MAX_INV_NORM


def _along(values, axis, rank):
    """A per-feature vector shaped to broadcast along `axis` of a rank-`rank` tensor."""
    shape = [1] * rank
    shape[axis] = -1
    return np.asarray(values).reshape(shape[1:])     # without the batch axis: broadcasting adds it


@register_converter(layers.BatchNormalization, layers.SyncBatchNormalization)
def _batch_norm(g, layer, x):
    """y = x * scale + shift, with scale = gamma / sqrt(moving_variance + epsilon) and
    shift = beta - moving_mean * scale (folded in float64)."""
    rank = len(g.shapes[x])
    mean = np.asarray(layer.moving_mean.value, np.float64)
    variance = np.asarray(layer.moving_variance.value, np.float64)
    scale = 1.0 / np.sqrt(variance + layer.epsilon)
    if layer.gamma is not None:
        scale = scale * layer.gamma.value
    shift = -mean * scale
    if layer.beta is not None:
        shift = shift + layer.beta.value
    axis = layer.axis % rank
    y = g.op("Mul", [x, g.const(_along(scale, axis, rank), hint="scale")])
    return g.op("Add", [y, g.const(_along(shift, axis, rank), hint="shift")], hint="batch_norm")


@register_converter(layers.LayerNormalization)
def _layer_norm(g, layer, x):
    """ONNX's LayerNormalization (opset 17) when the normalized axes are the last ones; otherwise, and for
    rms_scaling, the mean / variance formula over those axes."""
    rank = len(g.shapes[x])
    axes = sorted(a % rank for a in ([layer.axis] if isinstance(layer.axis, int) else layer.axis))
    weight_shape = [g.shapes[x][a] if a in axes else 1 for a in range(1, rank)]
    gamma = None if layer.gamma is None else np.asarray(layer.gamma.value)
    beta = None if layer.beta is None else np.asarray(layer.beta.value)
    if axes == list(range(axes[0], rank)) and not layer.rms_scaling:
        features = g.shapes[x][axes[0]:]
        inputs = [x, g.const(gamma if gamma is not None else np.ones(features), hint="gamma")]
        if beta is not None:
            inputs.append(g.const(beta, hint="beta"))
        return g.op("LayerNormalization", inputs, hint="layer_norm", axis=axes[0], epsilon=float(layer.epsilon))
    mean = g.reduce("ReduceMean", x, axes, keepdims=True)
    centered = g.op("Sub", [x, mean])
    variance = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes, keepdims=True)
    inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [variance, g.scalar(float(layer.epsilon))])])])
    y = g.op("Mul", [x if layer.rms_scaling else centered, inv])
    if gamma is not None:
        y = g.op("Mul", [y, g.const(gamma.reshape(weight_shape), hint="gamma")])
    if beta is not None:
        y = g.op("Add", [y, g.const(beta.reshape(weight_shape), hint="beta")])
    return g.op("Identity", [y], hint="layer_norm")


@register_converter(layers.GroupNormalization)
def _group_norm(g, layer, x):
    """pynn's layout: channels moved last, viewed as (batch, positions, groups, channels per group), each
    (sample, group) standardized over axes 1 and 3, then gamma and beta per channel; moved back."""
    rank = len(g.shapes[x])
    axis, groups = layer._resolve(g.shapes[x])
    per_group = g.shapes[x][axis] // groups
    perm = [i for i in range(rank) if i != axis] + [axis]
    moved = x if axis == rank - 1 else g.transpose(x, perm, hint="channels_last")
    x4 = g.op("Reshape", [moved, g.ints([0, -1, groups, per_group])], hint="grouped")
    centered = g.op("Sub", [x4, g.reduce("ReduceMean", x4, [1, 3], keepdims=True)])
    variance = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), [1, 3], keepdims=True)
    inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [variance, g.scalar(float(layer.epsilon))])])])
    y = g.op("Mul", [centered, inv])
    if layer.gamma is not None:
        y = g.op("Mul", [y, g.const(layer.gamma.value.reshape(groups, per_group), hint="gamma")])
    if layer.beta is not None:
        y = g.op("Add", [y, g.const(layer.beta.value.reshape(groups, per_group), hint="beta")])
    y = g.op("Reshape", [y, g.op("Shape", [moved])])
    if axis != rank - 1:
        y = g.transpose(y, [int(i) for i in np.argsort(perm)], hint="channels_back")
    return g.op("Identity", [y], hint="group_norm")


@register_converter(layers.UnitNormalization)
def _unit_norm(g, layer, x):
    """x * min(1 / ||x||, 1e12), the norm over `axis` (Keras's ops.normalize)."""
    axes = normalize_axes(layer.axis, len(g.shapes[x]), layer, batch_axis_allowed=True)
    norm = g.op("Sqrt", [g.reduce("ReduceSumSquare", x, axes, keepdims=True)])
    inv = g.op("Min", [g.op("Reciprocal", [norm]), g.scalar(_MAX_INV_NORM)])
    return g.op("Mul", [x, inv], hint="unit_norm")


@register_converter(layers.Normalization)
def _normalization(g, layer, x):
    """(x - mean) / std, or x * std + mean with invert=True (the adapted or given statistics)."""
    mean, std = layer._statistics()
    if layer.invert:
        return g.op("Add", [g.op("Mul", [x, g.const(std, hint="std")]), g.const(mean, hint="mean")], hint="normalize")
    return g.op("Div", [g.op("Sub", [x, g.const(mean, hint="mean")]), g.const(std, hint="std")], hint="normalize")
