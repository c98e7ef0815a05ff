"""Conv1D and Conv2D: y = activation(conv(x, kernel) + bias), channels last."""
import numpy as np

from pynn import kernels
from pynn.layers.base_conv import BaseConv
from pynn.layers.layer import serialize_argument as _serialize
from pynn.layers.quantization import Int8Quantizable, explicit_padding, fused_activation, image_windows
from pynn.kernels.quantized import quantize_static


class Conv(Int8Quantizable, BaseConv):
    """The convolution of rank 1 or 2 behind Conv1D and Conv2D (the 1-D case runs as images of height 1).

    y[n, i, o] = act(bias[o] + sum_{k, c} x[n, i * stride - pad + k * dilation, g * cin_g + c] * kernel[k, c, o])

    Args:
        filters: output channels.
        kernel_size, strides (default 1), dilation_rate (default 1): an integer or one per spatial axis;
            strides > 1 and dilation_rate > 1 together are an error, as in Keras.
        padding: "valid" (default) or "same" (Keras's rule: with stride > 1 the extra row / column of zeros goes
            at the bottom / right); Conv1D also "causal" (all the zeros before the sequence).
        data_format: "channels_last" (None means it); "channels_first" is not supported.
        groups: input and output channels split into this many independent groups.
        activation, use_bias, kernel_initializer ("glorot_uniform"), bias_initializer ("zeros"),
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint.

    Weights: kernel kernel_size + (in_channels // groups, filters), bias (filters,), Keras's layout.

    `quantize("int8")` (usually through `model.quantize("int8")`): the kernel turns int8 with one scale per
    filter (weights kernel int8, bias, kernel_scale; pynn.layers.quantization), and each call runs im2col (NumPy
    windows) and the int8 product: each output pixel's window quantized per row (and group), or with the
    calibrated inputs_scale in static mode. Inference only; dequantize() gives a float kernel back.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, activity_regularizer, bias_constraint, **kwargs)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{self._who}: filters must be a positive integer, got {filters!r}")
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise ValueError(f"{self._who}: groups must be a positive integer, got {groups!r}")
        if filters % groups:
            raise ValueError(f"{self._who}: filters ({filters}) must be divisible by groups ({groups})")
        self.filters, self.groups = int(filters), int(groups)
        self.kernel_initializer = kernel_initializer
        self.kernel_regularizer = kernel_regularizer
        self.kernel_constraint = kernel_constraint
        self.kernel = None

    def build(self, input_shape):
        self._check_input_rank(input_shape)
        channels = input_shape[-1]
        if channels % self.groups:
            raise ValueError(f"{self._who}: the input channels ({channels}) must be divisible by groups "
                             f"({self.groups}); got input shape {tuple(input_shape)}")
        self._output_spatial(input_shape[1:-1])
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels // self.groups, self.filters),
                                      self.kernel_initializer, self.kernel_regularizer, self.kernel_constraint)
        self._add_bias((self.filters,))
        self._quantized_build()

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._output_spatial(input_shape[1:-1]) + (self.filters,)

    def _args(self, in_hw):
        """(kernel as HWIO, strides, padding, dilation) for the 2-D kernels."""
        k2, s2, d2 = self._as_2d(self.kernel_size), self._as_2d(self.strides), self._as_2d(self.dilation_rate)
        w = self.kernel.value.reshape(k2 + self.kernel.shape[-2:])
        return w, s2, self._padding_2d(in_hw, k2, s2, d2), d2

    def forward(self, x, training=False):
        if self.quantization_mode is not None:
            if training:
                self._refuse_training()
            return self._int8_forward(x), None
        x4 = self._to_4d(x)
        w, s, pad, d = self._args(x4.shape[1:3])
        bias = self.bias.value if self.use_bias else None
        (oh, ow), _ = kernels.conv2d_geometry(x4.shape[1:3], w.shape[:2], s, pad, d)
        reuse = training and oh > 0 and ow > 0   # inference may run from several threads at once: fresh arrays
        out = self._reused_array("y", (x4.shape[0], oh, ow, self.filters), x4.dtype) if reuse else None
        y, z, fused = self._activate(lambda act: kernels.conv2d(x4, w, bias, s, pad, d, self.groups, act, out))
        return y.reshape(x.shape[:1] + y.shape[1 if self.rank == 2 else 2:]), (x4, y, z, fused, x.shape)

    def backward_weights(self, ctx, dy):
        """kernel.grad and bias.grad += their gradients; returns (dz, mask) for the backward-data kernel: the
        gradient before the activation, or dy and the fused relu's output (the kernels apply its mask)."""
        if self.quantization_mode is not None:
            self._refuse_training()
        x4, y, z, fused, _ = ctx
        dz, mask = self._kernel_gradient(dy.reshape(y.shape), y, z, fused)
        if self.kernel.requires_grad:
            w, s, pad, d = self._args(x4.shape[1:3])
            kernels.conv2d_backward_weights(x4, dz, w.shape, s, pad, d, self.groups, bias=self.use_bias,
                                        dw=self.kernel.grad.reshape(w.shape),
                                        dbias=self.bias.grad if self.use_bias else None, accumulate=True,
                                        mask=mask)
        return dz, mask

    def backward(self, ctx, dy):
        if self.quantization_mode is not None:
            self._refuse_training()
        x4, _, _, _, x_shape = ctx
        dz, mask = self.backward_weights(ctx, dy)
        w, s, pad, d = self._args(x4.shape[1:3])
        dx = self._reused_array("dx", x4.shape, dz.dtype)
        return kernels.conv2d_backward_data(dz, w, x4.shape, s, pad, d, self.groups, dx, mask).reshape(x_shape)

    def _int8_forward(self, x):
        x4 = self._to_4d(x)
        k2, s2, d2 = self._as_2d(self.kernel_size), self._as_2d(self.strides), self._as_2d(self.dilation_rate)
        pads = explicit_padding(x4.shape[1:3], k2, s2, self._padding_2d(x4.shape[1:3], k2, s2, d2), d2)
        static = self._input_scale()
        if static is not None:           # one scale for the tensor: quantized once, before the windows repeat it
            x4 = quantize_static(x4, static)
        win = image_windows(x4, k2, s2, pads, d2)
        rows = win.shape[0] * win.shape[1] * win.shape[2]
        fused, after = fused_activation(self.activation)
        bias = self.bias.value if self.use_bias else None
        if self.groups == 1:
            y = self._int8_product(win.reshape(rows, -1), "kernel", bias, fused)
        else:
            cg, fg = x4.shape[-1] // self.groups, self.filters // self.groups
            y = np.empty((rows, self.filters), np.float32)
            for g in range(self.groups):
                cols = slice(g * fg, (g + 1) * fg)
                y[:, cols] = self._int8_product(win[..., g * cg:(g + 1) * cg].reshape(rows, -1), "kernel",
                                                None if bias is None else bias[cols], fused, columns=cols)
        if after is not None:
            y = after(y)
        return y.reshape(x.shape[:1] + win.shape[1 if self.rank == 2 else 2:3] + (self.filters,))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups,
                "kernel_initializer": _serialize(self.kernel_initializer),
                "kernel_regularizer": _serialize(self.kernel_regularizer),
                "kernel_constraint": _serialize(self.kernel_constraint)}


class Conv2D(Conv):
    """2-D convolution over images (batch, height, width, channels) -> (batch, new_h, new_w, filters).

    C++ kernels (an indirect GEMM tile, or im2col + GEMM for few input channels) with the bias and activation
    fused into the store; a fused relu's backward runs inside the backward kernels (see Conv for the arguments).

    Example:
        layer = pynn.layers.Conv2D(32, (3, 3), activation="relu")
        y = layer(np.zeros((64, 28, 28, 1), np.float32))      # (64, 26, 26, 32)
    """

    rank = 2


class Conv1D(Conv):
    """1-D convolution over sequences (batch, steps, channels) -> (batch, new_steps, filters).

    Also padding="causal": (kernel_size - 1) * dilation_rate zeros before the sequence, none after, so
    output step t sees only input steps <= t. Kernel (kernel_size, in_channels // groups, filters).

    Example:
        layer = pynn.layers.Conv1D(16, 5, padding="causal")
        y = layer(np.zeros((8, 100, 3), np.float32))           # (8, 100, 16)
    """

    rank = 1
    paddings = ("valid", "same", "causal")
