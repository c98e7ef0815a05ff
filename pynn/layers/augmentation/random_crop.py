"""RandomCrop: crop a random (height, width) window of each batch in training, the centre otherwise."""
import numpy as np

from pynn.layers.augmentation.base_augmentation import BaseAugmentation
from pynn.layers.image_utils import check_image_rank, spatial_axes
from pynn.layers.preprocessing.resampling import aspect_crop_box, resample, resample_backward
from pynn.layers.preprocessing.resizing import check_size


class RandomCrop(BaseAugmentation):
    """Crops a (height, width) window at a random position in training: one position per batch, as Keras 3.

    The window's top-left corner is drawn uniformly from the valid positions. At inference, and in training
    when an image is not larger than the target on both axes, the image is cropped to the largest centred
    window with the target's aspect ratio and resized to (height, width) (bilinear), so the output always has
    the target size. (Keras 3 documents this for inference but returns the input unchanged there, of another
    shape than its compute_output_shape says.)

    Args:
        height, width: the output size.
        seed: an integer for a reproducible sequence of crops, or None.
        data_format: 'channels_last' (default) or 'channels_first'.

    Input shape: (batch, height, width, channels) (channels first likewise). Output shape: (batch, height,
    width, channels).

    Example:
        layer = pynn.layers.RandomCrop(24, 24, seed=1)
        y = layer(np.zeros((8, 28, 28, 1), np.float32), training=True)   # (8, 24, 24, 1)
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = check_size(height, "height", self.name)
        self.width = check_size(width, "width", self.name)

    def compute_output_shape(self, input_shape):
        check_image_rank(self, input_shape)
        shape = list(input_shape)
        h_axis, w_axis = spatial_axes(self.data_format)
        shape[h_axis], shape[w_axis] = self.height, self.width
        return tuple(shape)

    def forward(self, x, training=False):
        images = self.to_nhwc(x)
        _, h, w, _ = images.shape
        if training and h > self.height and w > self.width:
            top = int(self.uniform(1, 1, 0.0, h - self.height + 1)[0, 0])
            left = int(self.uniform(1, 1, 0.0, w - self.width + 1)[0, 0])
            box = (top, left, self.height, self.width)
        else:
            box = aspect_crop_box(h, w, self.height, self.width)
        y, ctx = resample(images, (self.height, self.width), "bilinear", box=box)
        return self.from_nhwc(y), ctx

    def backward(self, ctx, dy):
        return self.from_nhwc(resample_backward(ctx, self.to_nhwc(np.ascontiguousarray(dy))))

    def inference(self):
        """The centre crop (not the identity: the output has the target size)."""
        def run(x):
            return self.forward(x, False)[0]
        return run

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
