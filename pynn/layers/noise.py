"""Regularization by noise, active only in training: GaussianNoise, GaussianDropout, SpatialDropout1D / 2D."""
import math
import numbers

from pynn import kernels
from pynn.layers.dropout import Dropout
from pynn.layers.image_utils import normalize_data_format
from pynn.layers.layer import Layer
from pynn.layers.random_stream import SeededStream, check_seed


class _GaussianLayer(SeededStream, Layer):
    """A layer that draws one normal number per input element in training and is the identity otherwise."""

    supports_masking = True

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed(seed, self.name)
        self._init_stream()

    def normal(self, x, mean, stddev):
        """Normal numbers shaped and typed like x, from this layer's stream."""
        seed, offset = self._key(x.size)
        return kernels.random_normal(x.shape, seed, offset, mean, stddev, dtype=x.dtype)

    def inference(self):
        return None  # the identity outside training

    def backward_weights(self, ctx, dy):
        """No weights: nothing to do as a model's first layer."""


class GaussianNoise(_GaussianLayer):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` in training; the identity otherwise.

    The noise comes from the counter-based generator (the layer's stream, as Dropout's), so it is the same for
    every thread count. The gradient passes through unchanged.

    Args:
        stddev: the noise's standard deviation, in [0, 1] (as Keras requires).
        seed: an integer, or None.

    Input shape: any. Output shape: the same.

    Example:
        layer = pynn.layers.GaussianNoise(0.1, seed=1)
        y = layer(x, training=True)          # x + N(0, 0.1**2)
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, numbers.Real) or not 0 <= stddev <= 1:
            raise ValueError(f"Layer '{self.name}': stddev must be a number in [0, 1], got {stddev!r}")
        self.stddev = float(stddev)

    def forward(self, x, training=False):
        if not training or self.stddev == 0:
            return x, None
        noise = self.normal(x, 0.0, self.stddev)
        noise += x
        return noise, None

    def backward(self, ctx, dy):
        return dy

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_GaussianLayer):
    """Multiplies the inputs by Gaussian noise of mean 1 and variance rate / (1 - rate) in training; the
    identity otherwise. The gradient is multiplied by the same noise.

    Args:
        rate: the drop probability that sets the noise's variance, in [0, 1).
        seed: an integer, or None.

    Input shape: any. Output shape: the same.

    Example:
        layer = pynn.layers.GaussianDropout(0.2, seed=1)
        y = layer(x, training=True)          # x * N(1, 0.25)
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"Layer '{self.name}': rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            return x, None
        noise = self.normal(x, 1.0, math.sqrt(self.rate / (1.0 - self.rate)))
        return x * noise, noise

    def backward(self, ctx, dy):
        return dy if ctx is None else dy * ctx

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one draw per (sample, channel), shared along the other axes."""

    rank = None  # the input rank the layer takes
    layout = ""
    _broadcast = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, **kwargs)
        self.seed = check_seed(seed, self.name)

    def build(self, input_shape):
        if len(input_shape) != self.rank:
            raise ValueError(f"Layer '{self.name}': expected an input of rank {self.rank} {self.layout}, got shape "
                             f"{tuple(input_shape)}")

    def get_config(self):
        config = super().get_config()
        del config["noise_shape"]
        return config


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of sequences in training: each (sample, channel) is zeroed at every timestep with
    probability `rate`, and the rest scaled by 1 / (1 - rate). The identity otherwise.

    Args:
        rate: fraction of the channels to drop, in [0, 1). seed: an integer, or None.

    Input shape: (batch, timesteps, channels). Output shape: the same.

    Example:
        layer = pynn.layers.SpatialDropout1D(0.2)
    """

    rank = 3
    layout = "(batch, timesteps, channels)"

    def _noise_dims(self, shape):
        return (shape[0], 1, shape[2])


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images in training: each (sample, channel) is zeroed over all its pixels with
    probability `rate`, and the rest scaled by 1 / (1 - rate). The identity otherwise.

    Args:
        rate: fraction of the channels to drop, in [0, 1).
        data_format: 'channels_last' (default) or 'channels_first'. seed: an integer, or None.

    Input shape: (batch, height, width, channels), or (batch, channels, height, width). Output shape: the same.

    Example:
        layer = pynn.layers.SpatialDropout2D(0.1)
    """

    rank = 4

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed, **kwargs)
        self.data_format = normalize_data_format(data_format, self.name)
        self.layout = ("(batch, height, width, channels)" if self.data_format == "channels_last"
                       else "(batch, channels, height, width)")

    def _noise_dims(self, shape):
        if self.data_format == "channels_first":
            return (shape[0], shape[1], 1, 1)
        return (shape[0], 1, 1, shape[3])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
