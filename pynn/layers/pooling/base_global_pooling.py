"""The shared machinery of the global max / average pooling layers: one window covering all steps / pixels."""
import numpy as np

from pynn import kernels
from pynn.layers.image_utils import normalize_data_format
from pynn.layers.layer import Layer


class BaseGlobalPooling(Layer):
    """Max or average over every spatial position, through the 2-D NHWC pooling kernels with one window."""

    mode = None  # "max" or "average"
    rank = 2

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, self.name)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 2:
            layout = "(batch, steps, channels)" if self.rank == 1 else "(batch, height, width, channels)"
            raise ValueError(f"Layer '{self.name}': expected an input of rank {self.rank + 2} {layout}, got shape "
                             f"{tuple(input_shape)}")
        channels_axis = 1 if self.data_format == "channels_first" else -1
        channels = input_shape[channels_axis]
        if not self.keepdims:
            return (input_shape[0], channels)
        ones = (1,) * self.rank
        return (input_shape[0], channels) + ones if channels_axis == 1 else (input_shape[0],) + ones + (channels,)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        if any(d is not None and d < 1 for d in input_shape[1:]):
            raise ValueError(f"Layer '{self.name}': expected non-empty spatial and channel dimensions, got "
                             f"{tuple(input_shape)}")

    def _to_images(self, x):
        if self.data_format == "channels_first":
            x = np.moveaxis(x, 1, -1)
        if self.rank == 1:
            x = x[:, None]
        return np.ascontiguousarray(x)

    def forward(self, x, training=False):
        # The argmax is kept whatever `training` says (a frozen layer called with training=False still passes
        # gradients back); predict() and model(x) go through inference(), which keeps none.
        return self._pool(x, keep_argmax=True)

    def inference(self):
        return lambda x: self._pool(x, keep_argmax=False)[0]

    def _pool(self, x, keep_argmax):
        images = self._to_images(x)
        pool = images.shape[1:3]
        if self.mode == "max":
            y, argmax = kernels.max_pool2d(images, pool, pool, "valid", keep_argmax=keep_argmax)
        else:
            y, argmax = kernels.avg_pool2d(images, pool, pool, "valid"), None
        out_shape = self.compute_output_shape(x.shape)
        return y.reshape(out_shape), (argmax, images.shape, x.shape)

    def backward(self, ctx, dy):
        argmax, image_shape, x_shape = ctx
        pool = image_shape[1:3]
        dy = np.ascontiguousarray(dy).reshape(image_shape[0], 1, 1, image_shape[3])
        if self.mode == "max":
            dx = kernels.max_pool2d_backward(dy, argmax, image_shape, pool, pool, "valid")
        else:
            dx = kernels.avg_pool2d_backward(dy, image_shape, pool, pool, "valid")
        if self.rank == 1:
            dx = dx[:, 0]
        if self.data_format == "channels_first":
            dx = np.ascontiguousarray(np.moveaxis(dx, -1, 1))
        return dx.reshape(x_shape)

    def backward_weights(self, ctx, dy):
        """No weights: nothing to do when this is a model's first layer."""

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}
