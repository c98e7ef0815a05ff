"""UpSampling1D / UpSampling2D: ONNX Resize, on channels-first images for 2-D.

'nearest' repeats each pixel (asymmetric coordinates, floor: output i reads input i // size); 'bilinear' is
Resize's linear mode with half-pixel centres, clamped at the borders, as pynn computes it.
"""
import numpy as np

from pynn import layers
from pynn.export.converters.conv import to_channels_first, to_channels_last
from pynn.export.registry import register_converter


def _resize(g, x, scales, linear=False):
    modes = (dict(mode="linear", coordinate_transformation_mode="half_pixel") if linear else
             dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
    return g.op("Resize", [x, "", g.const(np.asarray(scales, np.float32), np.float32, hint="scales")],
                hint="upsample", **modes)


@register_converter(layers.UpSampling2D)
def _up_sampling_2d(g, layer, x):
    channels_last = layer.data_format == "channels_last"
    xin = to_channels_first(g, x, 2) if channels_last else x
    y = _resize(g, xin, [1.0, 1.0, float(layer.size[0]), float(layer.size[1])], layer.interpolation == "bilinear")
    return to_channels_last(g, y, 2) if channels_last else y


@register_converter(layers.UpSampling1D)
def _up_sampling_1d(g, layer, x):
    return _resize(g, x, [1.0, float(layer.size), 1.0])
