"""The shared machinery of the 1-D and 2-D max / average pooling layers."""
import numpy as np

from pynn import kernels
from pynn.layers.image_utils import normalize_data_format, normalize_tuple
from pynn.layers.layer import Layer


class BasePooling(Layer):
    """Max or average pooling over `rank` (1 or 2) spatial axes, through the 2-D NHWC kernels.

    A 1-D input (batch, steps, channels) is pooled as an image of height 1; channels_first inputs are
    transposed to channels_last and back.
    """

    mode = None  # "max" or "average"
    rank = 2

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", self.name)
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, self.rank, "strides",
                                                                              self.name)
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"Layer '{self.name}': padding must be 'valid' or 'same', got {padding!r}")
        self.data_format = normalize_data_format(data_format, self.name)

    # 1-D pooling is 2-D pooling of height 1.
    def _pool2d(self):
        if self.rank == 1:
            return (1, self.pool_size[0]), (1, self.strides[0])
        return self.pool_size, self.strides

    def _describe(self):
        return ("(batch, steps, channels)" if self.rank == 1 else "(batch, height, width, channels)") + \
            ("" if self.data_format == "channels_last" else " with channels first")

    def _spatial(self, input_shape):
        """(batch, spatial dims..., channels) in channels_last order."""
        shape = tuple(input_shape)
        if self.data_format == "channels_first":
            shape = (shape[0],) + shape[2:] + (shape[1],)
        return shape

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"Layer '{self.name}': expected an input of rank {self.rank + 2} {self._describe()}, "
                             f"got shape {tuple(input_shape)}")
        shape = self._spatial(input_shape)
        spatial = shape[1:-1]
        pool, strides = self.pool_size, self.strides
        out = []
        for size, p, s in zip(spatial, pool, strides):
            if size is None:
                out.append(None)
            elif self.padding == "same":
                out.append((size + s - 1) // s)
            else:
                if size < p:
                    raise ValueError(f"Layer '{self.name}': pool_size {pool} is larger than the input's spatial "
                                     f"size {tuple(spatial)} with padding 'valid' (input shape {tuple(input_shape)})")
                out.append((size - p) // s + 1)
        if self.data_format == "channels_first":
            return (shape[0], shape[-1]) + tuple(out)
        return (shape[0],) + tuple(out) + (shape[-1],)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def _to_images(self, x):
        if self.data_format == "channels_first":
            x = np.moveaxis(x, 1, -1)
        if self.rank == 1:
            x = x[:, None]
        return np.ascontiguousarray(x)

    def _from_images(self, y):
        if self.rank == 1:
            y = y[:, 0]
        if self.data_format == "channels_first":
            y = np.ascontiguousarray(np.moveaxis(y, -1, 1))
        return y

    def forward(self, x, training=False):
        # The argmax is kept whatever `training` says: a layer frozen in inference mode (called with
        # training=False inside a model being fine-tuned) still passes gradients back. predict() and model(x)
        # go through inference(), which keeps none.
        return self._pool(x, keep_argmax=True, reuse=training)

    def inference(self):
        return lambda x: self._pool(x, keep_argmax=False, reuse=False)[0]

    def _pool(self, x, keep_argmax, reuse):
        images = self._to_images(x)
        pool, strides = self._pool2d()
        if self.mode == "max":
            shape = kernels.pool2d_output_shape(images.shape, pool, strides, self.padding)
            reuse = reuse and min(shape[1:3]) >= 1   # inference may run from several threads: fresh arrays
            out = self._reused_array("y", shape, images.dtype) if reuse else None
            argmax = self._reused_array("argmax", shape, np.int32) if reuse and keep_argmax else None
            y, argmax = kernels.max_pool2d(images, pool, strides, self.padding, keep_argmax=keep_argmax, out=out,
                                       argmax_out=argmax)
            return self._from_images(y), (argmax, images.shape)
        y = kernels.avg_pool2d(images, pool, strides, self.padding)
        return self._from_images(y), (None, images.shape)

    def backward(self, ctx, dy):
        argmax, image_shape = ctx
        dy = self._to_images(dy)
        pool, strides = self._pool2d()
        if self.mode == "max":
            dx = kernels.max_pool2d_backward(dy, argmax, image_shape, pool, strides, self.padding,
                                         out=self._reused_array("dx", image_shape, dy.dtype))
        else:
            dx = kernels.avg_pool2d_backward(dy, image_shape, pool, strides, self.padding)
        return self._from_images(dx)

    def backward_weights(self, ctx, dy):
        """No weights: nothing to do when this is a model's first layer."""

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}
