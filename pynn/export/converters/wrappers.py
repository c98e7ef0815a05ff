"""TimeDistributed: the wrapped layer's converter on the input with its batch and time axes merged.
PruneLowMagnitude (pynn.pruning): the wrapped layer's converter."""
from pynn import layers
from pynn.export.registry import converter_for, register_converter
from pynn.pruning import PruneLowMagnitude


@register_converter(layers.TimeDistributed)
def _time_distributed(g, layer, x):
    inner = layer.layer
    convert = converter_for(inner)
    shape = g.op("Shape", [x])
    batch_and_steps = g.op("Slice", [shape, g.ints([0], "starts"), g.ints([2], "ends")])
    rows = g.op("Concat", [g.ints([-1], "minus_one"), g.op("Slice", [shape, g.ints([2], "starts"),
                                                                        g.ints([2 ** 62], "ends")])], axis=0)
    merged = g.op("Reshape", [x, rows], hint="merge_steps")
    g.shapes[merged] = (None,) + tuple(g.shapes[x][2:])
    y = convert(g, inner, merged)
    y_shape = g.op("Slice", [g.op("Shape", [y]), g.ints([1], "starts"), g.ints([2 ** 62], "ends")])
    return g.op("Reshape", [y, g.op("Concat", [batch_and_steps, y_shape], axis=0)], hint="split_steps")


@register_converter(PruneLowMagnitude)
def _prune_low_magnitude(g, layer, x, **kwargs):
    """A layer wrapped for pruning exports as the layer itself (its weights already hold the zeros)."""
    return converter_for(layer.layer)(g, layer.layer, x, **kwargs)
