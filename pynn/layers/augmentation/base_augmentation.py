"""The shared machinery of the random augmentation layers: training-only, seeded, NHWC through the kernels."""
import numpy as np

from pynn import kernels, random_state
from pynn.layers.image_utils import check_image_rank, normalize_data_format
from pynn.layers.layer import Layer

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def factor_range(factor, name, layer_name, bounds=(-1.0, 1.0)):
    """Keras's factor argument: a number f gives (-|f|, |f|); a pair gives (min, max); all within bounds."""
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(isinstance(f, (int, float, np.number)) for f in factor):
            raise ValueError(f"Layer '{layer_name}': {name} must be a number or a pair of numbers in "
                             f"[{bounds[0]}, {bounds[1]}], got {factor!r}")
        lower, upper = sorted(float(f) for f in factor)
    elif isinstance(factor, (int, float, np.number)) and not isinstance(factor, bool):
        lower, upper = -abs(float(factor)), abs(float(factor))
    else:
        raise ValueError(f"Layer '{layer_name}': {name} must be a number or a pair of numbers in "
                         f"[{bounds[0]}, {bounds[1]}], got {factor!r}")
    if lower < bounds[0] or upper > bounds[1]:
        raise ValueError(f"Layer '{layer_name}': {name} must be within [{bounds[0]}, {bounds[1]}], got {factor!r}")
    return lower, upper


class BaseAugmentation(Layer):
    """A layer that changes images at random in training and is the identity otherwise (Keras's preprocessing
    semantics). Random numbers come from the counter-based generator: with `seed`, call i of the layer draws
    the same numbers in every run and for every thread count; without, each call takes a fresh seed from the
    global stream (pynn.utils.set_random_seed fixes it).

    Backward is the exact adjoint of what the forward did (a permutation, or the resampling's transpose), so the
    layer may sit anywhere in a model; as a model's first layer, where Keras puts it, backward is skipped.
    """

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"Layer '{self.name}': seed must be None or a non-negative integer, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.data_format = normalize_data_format(data_format, self.name)
        self._offset = 0

    def build(self, input_shape):
        check_image_rank(self, input_shape)

    def uniform(self, rows, batch, low, high):
        """rows x batch uniform numbers in [low, high) (float64), from this layer's stream."""
        size = rows * batch
        if self.seed is None:
            seed, offset = random_state.next_seed(), 0
        else:
            seed, offset = self.seed, self._offset
            self._offset += size
        if size == 0:
            return np.zeros((rows, batch))
        if not low < high:
            return np.full((rows, batch), float(low))
        return kernels.random_uniform((rows, batch), seed, offset, low, high, dtype="float64")

    def to_nhwc(self, x):
        return x if self.data_format == "channels_last" else np.ascontiguousarray(np.moveaxis(x, 1, -1))

    def from_nhwc(self, y):
        return y if self.data_format == "channels_last" else np.ascontiguousarray(np.moveaxis(y, -1, 1))

    def forward(self, x, training=False):
        if not training:
            return x, None
        y, ctx = self.augment(self.to_nhwc(x))
        return self.from_nhwc(y), ctx

    def backward(self, ctx, dy):
        if ctx is None:
            return dy
        return self.from_nhwc(self.augment_backward(ctx, self.to_nhwc(np.ascontiguousarray(dy))))

    def backward_weights(self, ctx, dy):
        """No weights: nothing to do as a model's first layer."""

    def inference(self):
        """The identity: predict() and model(x) skip the layer."""
        return None

    def get_rng_state(self):
        """Where this layer's seeded stream stands (saved with the model so that training resumes exactly)."""
        return {"offset": self._offset}

    def set_rng_state(self, state):
        self._offset = int(state["offset"])

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class BaseAffineAugmentation(BaseAugmentation):
    """An augmentation that resamples each image through a random affine transform (kernels.affine_transform)."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if fill_mode not in FILL_MODES:
            raise ValueError(f"Layer '{self.name}': fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"Layer '{self.name}': interpolation must be one of {INTERPOLATIONS}, got "
                             f"{interpolation!r}")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = float(fill_value)

    def transforms(self, batch, height, width):
        """(batch, 8) float64 transforms in Keras's layout; one random draw per call."""
        raise NotImplementedError

    def augment(self, images):
        n, h, w, _ = images.shape
        t = self.transforms(n, h, w)
        y = kernels.affine_transform(images, t, self.interpolation, self.fill_mode, self.fill_value)
        return y, t

    def augment_backward(self, transforms, dy):
        return kernels.affine_transform_backward(dy, transforms, self.interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}
