"""Resizing and CenterCrop: images brought to a fixed size, in training and inference alike."""
import numpy as np

from pynn.layers.image_utils import check_image_rank, normalize_data_format, spatial_axes
from pynn.layers.layer import Layer
from pynn.layers.preprocessing.resampling import (
    INTERPOLATIONS, aspect_crop_box, aspect_padding, resample, resample_backward,
)


def check_size(value, name, layer_name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Layer '{layer_name}': {name} must be a positive integer, got {value!r}")
    return int(value)


class BaseResizing(Layer):
    """An image layer whose output has the size (height, width): NHWC resampling with its adjoint as backward."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = check_size(height, "height", self.name)
        self.width = check_size(width, "width", self.name)
        self.data_format = normalize_data_format(data_format, self.name)

    def build(self, input_shape):
        check_image_rank(self, input_shape)

    def compute_output_shape(self, input_shape):
        check_image_rank(self, input_shape)
        shape = list(input_shape)
        h_axis, w_axis = spatial_axes(self.data_format)
        shape[h_axis], shape[w_axis] = self.height, self.width
        return tuple(shape)

    def to_nhwc(self, x):
        return x if self.data_format == "channels_last" else np.ascontiguousarray(np.moveaxis(x, 1, -1))

    def from_nhwc(self, y):
        return y if self.data_format == "channels_last" else np.ascontiguousarray(np.moveaxis(y, -1, 1))

    def resize(self, images):
        """(y, ctx) for NHWC images."""
        raise NotImplementedError

    def forward(self, x, training=False):
        y, ctx = self.resize(self.to_nhwc(x))
        return self.from_nhwc(y), ctx

    def backward(self, ctx, dy):
        return self.from_nhwc(resample_backward(ctx, self.to_nhwc(np.ascontiguousarray(dy))))

    def backward_weights(self, ctx, dy):
        """No weights: nothing to do as a model's first layer."""

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "data_format": self.data_format}


class Resizing(BaseResizing):
    """Resizes images to (height, width), in training and inference.

    Bilinear interpolation has half-pixel centres, as Keras 3 on every backend (PyTorch's align_corners=False,
    TF's half_pixel_centers): output pixel o samples the input at (o + 0.5) * in / out - 0.5, clamped to the
    image. Nearest takes input pixel floor((o + 0.5) * in / out) (PyTorch's 'nearest-exact', which Keras uses
    on that backend).

    Args:
        height, width: the output size.
        interpolation: 'bilinear' (default) or 'nearest'.
        crop_to_aspect_ratio: crop each image first to the largest centred window with the output's aspect
            ratio (no distortion).
        pad_to_aspect_ratio: pad each image first, evenly on its short side, to the output's aspect ratio.
        fill_mode: 'constant' (the only mode, as in Keras). fill_value: the padding's value (0).
        antialias: False only.
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels) (channels first likewise). Output shape: (batch, height,
    width, channels).

    Example:
        y = pynn.layers.Resizing(64, 64)(images)        # (n, 64, 64, c)
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False, data_format=None,
                 **kwargs):
        super().__init__(height, width, data_format=data_format, **kwargs)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"Layer '{self.name}': interpolation must be one of {INTERPOLATIONS}, got "
                             f"{interpolation!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"Layer '{self.name}': only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be "
                             "True")
        if fill_mode != "constant":
            raise ValueError(f"Layer '{self.name}': fill_mode must be 'constant', got {fill_mode!r}")
        if antialias:
            raise ValueError(f"Layer '{self.name}': antialias=True is not supported")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.antialias = False

    def resize(self, images):
        _, h, w, _ = images.shape
        size = (self.height, self.width)
        if self.crop_to_aspect_ratio:
            return resample(images, size, self.interpolation, box=aspect_crop_box(h, w, *size))
        if self.pad_to_aspect_ratio:
            return resample(images, size, self.interpolation, padding=aspect_padding(h, w, *size),
                            fill_value=self.fill_value)
        return resample(images, size, self.interpolation)

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(BaseResizing):
    """Crops the centre (height, width) of each image, in training and inference.

    The window starts at ((in_height - height) // 2, (in_width - width) // 2). An image smaller than the target
    on either axis is instead cropped to the target's aspect ratio and resized to it (bilinear), as Keras does.

    Args:
        height, width: the output size.
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels) (channels first likewise). Output shape: (batch, height,
    width, channels).

    Example:
        y = pynn.layers.CenterCrop(24, 24)(np.zeros((2, 28, 28, 1), np.float32))   # (2, 24, 24, 1)
    """

    def resize(self, images):
        _, h, w, _ = images.shape
        size = (self.height, self.width)
        if h >= self.height and w >= self.width:
            box = ((h - self.height) // 2, (w - self.width) // 2, self.height, self.width)
        else:
            box = aspect_crop_box(h, w, *size)
        return resample(images, size, "bilinear", box=box)
