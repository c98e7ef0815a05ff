"""ZeroPadding1D / 2D and Cropping1D / 2D: Pad and Slice on the spatial axes."""
from pynn import layers
from pynn.export.registry import register_converter
from pynn.layers.image_utils import spatial_axes


def _spatial(layer, rank):
    """The spatial axes of a rank-`rank` input of the layer (its data_format, channels_last by default)."""
    if rank == 4:
        return list(spatial_axes(layer.data_format))
    return [2] if getattr(layer, "data_format", "channels_last") == "channels_first" else [1]


def _pairs(layer, value):
    return [tuple(value)] if isinstance(value[0], int) else [tuple(p) for p in value]


@register_converter(layers.ZeroPadding1D, layers.ZeroPadding2D)
def _zero_padding(g, layer, x):
    rank = len(g.shapes[x])
    before, after = [0] * rank, [0] * rank
    for axis, (b, a) in zip(_spatial(layer, rank), _pairs(layer, layer.padding)):
        before[axis], after[axis] = b, a
    return g.op("Pad", [x, g.ints(before + after, "pads")], hint="pad", mode="constant")


@register_converter(layers.Cropping1D, layers.Cropping2D)
def _cropping(g, layer, x):
    rank = len(g.shapes[x])
    axes = _spatial(layer, rank)
    pairs = _pairs(layer, layer.cropping)
    starts = [b for b, _ in pairs]
    ends = [-a if a else 2 ** 62 for _, a in pairs]
    return g.op("Slice", [x, g.ints(starts, "starts"), g.ints(ends, "ends"), g.ints(axes, "axes")], hint="crop")
