"""BaseConv: what Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D and Conv2DTranspose share.

Argument checking (Keras 3's rules and messages), the geometry of one spatial rank (1 or 2; 1-D inputs run as
images of height 1), the activation split (fused into the kernel's store when its derivative can be taken from
the output) and the config.
"""
import numpy as np

from pynn import activations, kernels
from pynn.layers.layer import Layer, serialize_argument as _serialize


def _tuple(value, rank, name, layer, allow_zero=False):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * rank
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{layer}: {name} must be an integer or a tuple of {rank} integers, got {value!r}") from None
    if len(value) != rank or any(v < (0 if allow_zero else 1) for v in value):
        raise ValueError(f"{layer}: {name} must be {'non-negative' if allow_zero else 'positive'} integers "
                         f"({rank} of them), got {value!r}")
    return value


def fused_activation(act):
    """The activation spec the kernel can apply in its store, or None when it must run separately.

    Fused: activations whose derivative is computed from the output alone (sigmoid, tanh, exponential), and
    the plain relu, whose derivative (x > 0) equals (relu(x) > 0).
    """
    if act.name == "linear" or not act.elementwise:
        return None
    if act.name == "relu" and not act.params:
        return "relu"
    if act.uses_output:
        return (act.name, act.params) if act.params else act.name
    return None


class BaseConv(Layer):
    """Shared constructor and helpers; subclasses implement build / forward / backward."""

    rank = 2
    paddings = ("valid", "same")

    def __init__(self, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, bias_initializer="zeros", bias_regularizer=None,
                 activity_regularizer=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size", who)
        self.strides = _tuple(strides, self.rank, "strides", who)
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate", who)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{who}: strides > 1 not supported in conjunction with dilation_rate > 1, got "
                             f"strides={self.strides} and dilation_rate={self.dilation_rate}")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in self.paddings:
            raise ValueError(f"{who}: padding must be one of {self.paddings}, got {padding!r}")
        self.padding = padding
        data_format = "channels_last" if data_format is None else data_format
        if data_format != "channels_last":
            raise ValueError(f"{who}: only data_format='channels_last' (NHWC) is supported, got {data_format!r}; "
                             "transpose the data to channels-last")
        self.data_format = data_format
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = bias_initializer
        self.bias_regularizer = bias_regularizer
        self.bias_constraint = bias_constraint
        self.bias = None

    # ------------------------------------------------------------------ geometry
    @property
    def _who(self):
        return f"{type(self).__name__} '{self.name}'"

    def _check_input_rank(self, input_shape):
        if len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            kind = "(batch, steps, channels)" if self.rank == 1 else "(batch, height, width, channels)"
            raise ValueError(f"{self._who}: expected an input of shape {kind} with known channels, got "
                             f"{tuple(input_shape)}")

    def _as_2d(self, values):
        """A rank-1 tuple as the (height 1, width) pair the 2-D kernels take."""
        return values if self.rank == 2 else (1,) + tuple(values)

    def _padding_2d(self, in_hw, kernel, strides, dilation):
        """The kernels' padding argument: a name, or explicit pairs for Conv1D's 'causal'."""
        if self.padding != "causal":
            return self.padding
        return ((0, 0), kernels.conv_padding(in_hw[1], kernel[1], strides[1], "causal", dilation[1]))

    def _output_spatial(self, spatial, kernel_size=None):
        kernel_size = kernel_size or self.kernel_size
        out = tuple(None if n is None else kernels.conv_output_length(n, k, s, self.padding, d)
                    for n, k, s, d in zip(spatial, kernel_size, self.strides, self.dilation_rate))
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(f"{self._who}: the kernel {kernel_size} (dilation {self.dilation_rate}) is larger "
                             f"than the {'padded ' if self.padding != 'valid' else ''}input {tuple(spatial)}; "
                             "use a smaller kernel or padding='same'")
        return out

    def _to_4d(self, x):
        return x if self.rank == 2 else x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])

    # ------------------------------------------------------------------ activation
    def _activate(self, run_kernel):
        """run_kernel(fused_spec) -> pre- or post-activation output; returns (y, z, fused)."""
        fused = fused_activation(self.activation)
        if fused is not None or self.activation.name == "linear":
            y = run_kernel(fused)
            return y, None, fused is not None
        z = run_kernel(None)
        return self.activation.forward(z), z, False

    def _activation_backward(self, dy, y, z, fused):
        if self.activation.name == "linear":
            return np.ascontiguousarray(dy)
        dy = np.ascontiguousarray(dy)
        if fused and self.activation.name == "relu":
            return self.activation.backward(dy, x=y)
        return self.activation.backward(dy, x=z, y=y)

    def _kernel_gradient(self, dy, y, z, fused):
        """(dz, mask) for the conv backward kernels: (dy, y) when a plain relu was fused into the forward (the
        kernels form dy * (y > 0) in their tiles), else (the gradient before the activation, None)."""
        if fused and self.activation.name == "relu":
            return np.ascontiguousarray(dy), y
        return self._activation_backward(dy, y, z, fused), None

    def _add_bias(self, shape):
        if self.use_bias:
            self.bias = self.add_weight("bias", shape, self.bias_initializer, self.bias_regularizer,
                                        self.bias_constraint)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": self.activation.get_config(), "use_bias": self.use_bias,
                "bias_initializer": _serialize(self.bias_initializer),
                "bias_regularizer": _serialize(self.bias_regularizer),
                "bias_constraint": _serialize(self.bias_constraint),
                "activity_regularizer": _serialize(self.activity_regularizer)}
