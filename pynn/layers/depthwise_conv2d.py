"""DepthwiseConv2D: each input channel convolved with its own depth_multiplier filters."""
import numpy as np

from pynn import kernels
from pynn.layers.base_conv import BaseConv
from pynn.layers.layer import serialize_argument as _serialize
from pynn.layers.quantization import Int8Quantizable


class DepthwiseConv2D(Int8Quantizable, BaseConv):
    """y[n, i, j, c * m + k] = act(bias + sum_{a, b} x[n, i*s - pad + a*d, j*s - pad + b*d, c] * kernel[a, b, c, k]).

    A grouped convolution with one group per input channel: the C++ conv entry points run it on their
    channel-vectorised depthwise loops (csrc/conv/depthwise_kernels.inc).

    Args:
        kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
        dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
        bias_initializer="zeros", depthwise_regularizer, bias_regularizer, activity_regularizer,
        depthwise_constraint, bias_constraint (Keras 3's names and defaults).

    Input shape: (batch, h, w, channels). Output shape: (batch, new_h, new_w, channels * depth_multiplier).
    Weights: kernel (kh, kw, channels, depth_multiplier), bias (channels * depth_multiplier,).

    `quantize("int8")` (usually through `model.quantize("int8")`): the kernel turns int8 with one scale per
    output channel (kernel_scale of channels * depth_multiplier; pynn.layers.quantization). Each call quantizes
    every channel of each image with its own scale (or the calibrated inputs_scale in static mode) and sums the
    integers exactly on the float depthwise kernel (see Int8Quantizable._depthwise_int8). Inference only.
    """

    _int8_kernels = (("kernel", 2),)     # one scale per (channel, multiplier): over the kh x kw taps

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, activity_regularizer, bias_constraint, **kwargs)
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, (int, np.integer)) \
                or depth_multiplier < 1:
            raise ValueError(f"{self._who}: depth_multiplier must be a positive integer, got {depth_multiplier!r}")
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = depthwise_initializer
        self.depthwise_regularizer = depthwise_regularizer
        self.depthwise_constraint = depthwise_constraint
        self.kernel = None

    def build(self, input_shape):
        self._check_input_rank(input_shape)
        self._output_spatial(input_shape[1:-1])
        channels = input_shape[-1]
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels, self.depth_multiplier),
                                      self.depthwise_initializer, self.depthwise_regularizer,
                                      self.depthwise_constraint)
        self._add_bias((channels * self.depth_multiplier,))
        self._quantized_build()

    def compute_output_shape(self, input_shape):
        return ((input_shape[0],) + self._output_spatial(input_shape[1:-1])
                + (input_shape[-1] * self.depth_multiplier,))

    def _grouped_kernel(self):
        kh, kw, c, m = self.kernel.shape
        return self.kernel.value.reshape(kh, kw, 1, c * m), c

    def forward(self, x, training=False):
        if self.quantization_mode is not None:
            if training:
                self._refuse_training()
            return self._int8_forward(x), None
        w, groups = self._grouped_kernel()
        bias = self.bias.value if self.use_bias else None
        y, z, fused = self._activate(lambda act: kernels.conv2d(x, w, bias, self.strides, self.padding,
                                                            self.dilation_rate, groups, act))
        return y, (x, y, z, fused)

    def backward_weights(self, ctx, dy):
        """kernel.grad and bias.grad += their gradients; returns (dz, mask) as Conv.backward_weights does."""
        if self.quantization_mode is not None:
            self._refuse_training()
        x, y, z, fused = ctx
        dz, mask = self._kernel_gradient(dy, y, z, fused)
        if self.kernel.requires_grad:
            w, groups = self._grouped_kernel()
            kernels.conv2d_backward_weights(x, dz, w.shape, self.strides, self.padding, self.dilation_rate, groups,
                                        bias=self.use_bias, dw=self.kernel.grad.reshape(w.shape),
                                        dbias=self.bias.grad if self.use_bias else None, accumulate=True,
                                        mask=mask)
        return dz, mask

    def backward(self, ctx, dy):
        if self.quantization_mode is not None:
            self._refuse_training()
        x = ctx[0]
        dz, mask = self.backward_weights(ctx, dy)
        w, groups = self._grouped_kernel()
        return kernels.conv2d_backward_data(dz, w, x.shape, self.strides, self.padding, self.dilation_rate, groups,
                                        mask=mask)

    def _int8_forward(self, x):
        y = self._depthwise_int8(x, "kernel", self.strides, self.padding, self.dilation_rate)
        if self.use_bias:
            y += self.bias.value
        return y if self.activation.name == "linear" else self.activation.forward(y)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": _serialize(self.depthwise_initializer),
                "depthwise_regularizer": _serialize(self.depthwise_regularizer),
                "depthwise_constraint": _serialize(self.depthwise_constraint)}
