"""Argument normalisation and layout helpers shared by the image layers (pooling, padding, resizing, augmentation)."""
import numpy as np


def normalize_data_format(value, layer_name):
    """'channels_last' (the default, None) or 'channels_first'."""
    value = "channels_last" if value is None else str(value).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"Layer '{layer_name}': data_format must be 'channels_last' or 'channels_first', "
                         f"got {value!r}")
    return value


def normalize_tuple(value, rank, name, layer_name, minimum=1):
    """An integer or a sequence of `rank` integers, all >= minimum, as a tuple."""
    try:
        values = (int(value),) * rank if np.ndim(value) == 0 else tuple(int(v) for v in value)
    except (TypeError, ValueError):
        values = None
    if values is None or len(values) != rank or any(v < minimum for v in values):
        kind = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"Layer '{layer_name}': {name} must be an integer or a tuple of {rank} integers, all "
                         f"{kind}, got {value!r}")
    return values


def normalize_pairs(value, name, layer_name):
    """Keras's padding / cropping argument: int, (sym_h, sym_w) or ((top, bottom), (left, right)), all >= 0."""
    try:
        if np.ndim(value) == 0:
            pairs = ((int(value),) * 2,) * 2
        elif all(np.ndim(v) == 0 for v in value):
            h, w = (int(v) for v in value)
            pairs = ((h, h), (w, w))
        else:
            pairs = tuple(tuple(int(v) for v in pair) for pair in value)
    except (TypeError, ValueError):
        pairs = None
    if pairs is None or len(pairs) != 2 or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(f"Layer '{layer_name}': {name} must be an integer, a tuple of 2 integers or a tuple of 2 "
                         f"tuples of 2 integers, all >= 0, got {value!r}")
    return pairs


def check_image_rank(layer, input_shape):
    if len(input_shape) != 4:
        layout = "(batch, height, width, channels)" if layer.data_format == "channels_last" else \
            "(batch, channels, height, width)"
        raise ValueError(f"Layer '{layer.name}': expected an input of rank 4 {layout}, got shape "
                         f"{tuple(input_shape)}")


def spatial_axes(data_format):
    """The (height, width) axes of a 4-D array."""
    return (1, 2) if data_format == "channels_last" else (2, 3)
