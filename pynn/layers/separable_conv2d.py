"""SeparableConv2D: a depthwise convolution followed by a pointwise (1x1) one."""
import numpy as np

from pynn import kernels
from pynn.layers.base_conv import BaseConv
from pynn.layers.layer import serialize_argument as _serialize
from pynn.layers.quantization import Int8Quantizable, fused_activation


class SeparableConv2D(Int8Quantizable, BaseConv):
    """y = act(pointwise(depthwise(x)) + bias): a DepthwiseConv2D without bias, then a 1x1 Conv2D.

    Args:
        filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
        depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer,
        pointwise_regularizer, bias_regularizer, activity_regularizer, depthwise_constraint,
        pointwise_constraint, bias_constraint (Keras 3's names and defaults).

    Weights: depthwise_kernel (kh, kw, channels, depth_multiplier), pointwise_kernel
    (1, 1, channels * depth_multiplier, filters), bias (filters,).

    `quantize("int8")` (usually through `model.quantize("int8")`): both kernels turn int8 with one scale per
    output channel (weights depthwise_kernel, pointwise_kernel (int8), bias, depthwise_kernel_scale,
    pointwise_kernel_scale; pynn.layers.quantization). The depthwise step runs as DepthwiseConv2D's does, its
    float output is quantized again per pixel for the pointwise int8 product. Static mode fixes both inputs'
    scales (inputs_scale, pointwise_inputs_scale). Inference only; dequantize() gives float kernels back.
    """

    _int8_kernels = (("depthwise_kernel", 2), ("pointwise_kernel", None))
    _static_inputs = ("inputs_scale", "pointwise_inputs_scale")

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, activity_regularizer, bias_constraint, **kwargs)
        for name, v in (("filters", filters), ("depth_multiplier", depth_multiplier)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{self._who}: {name} must be a positive integer, got {v!r}")
        self.filters, self.depth_multiplier = int(filters), int(depth_multiplier)
        self.depthwise_initializer, self.pointwise_initializer = depthwise_initializer, pointwise_initializer
        self.depthwise_regularizer, self.pointwise_regularizer = depthwise_regularizer, pointwise_regularizer
        self.depthwise_constraint, self.pointwise_constraint = depthwise_constraint, pointwise_constraint
        self.depthwise_kernel = self.pointwise_kernel = None

    def build(self, input_shape):
        self._check_input_rank(input_shape)
        self._output_spatial(input_shape[1:-1])
        c, m = input_shape[-1], self.depth_multiplier
        self.depthwise_kernel = self.add_weight("depthwise_kernel", self.kernel_size + (c, m),
                                                self.depthwise_initializer, self.depthwise_regularizer,
                                                self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight("pointwise_kernel", (1, 1, c * m, self.filters),
                                                self.pointwise_initializer, self.pointwise_regularizer,
                                                self.pointwise_constraint)
        self._add_bias((self.filters,))
        self._quantized_build()

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._output_spatial(input_shape[1:-1]) + (self.filters,)

    def _depthwise(self):
        kh, kw, c, m = self.depthwise_kernel.shape
        return self.depthwise_kernel.value.reshape(kh, kw, 1, c * m), c

    def forward(self, x, training=False):
        if self.quantization_mode is not None:
            if training:
                self._refuse_training()
            return self._int8_forward(x), None
        wd, groups = self._depthwise()
        t = kernels.conv2d(x, wd, None, self.strides, self.padding, self.dilation_rate, groups)
        bias = self.bias.value if self.use_bias else None
        y, z, fused = self._activate(lambda act: kernels.conv2d(t, self.pointwise_kernel.value, bias, activation=act))
        return y, (x, t, y, z, fused)

    def _backward(self, ctx, dy, need_dx):
        if self.quantization_mode is not None:
            self._refuse_training()
        x, t, y, z, fused = ctx
        dz = self._activation_backward(dy, y, z, fused)
        wd, groups = self._depthwise()
        wp = self.pointwise_kernel.value
        if self.pointwise_kernel.requires_grad:
            kernels.conv2d_backward_weights(t, dz, wp.shape, bias=self.use_bias, dw=self.pointwise_kernel.grad,
                                        dbias=self.bias.grad if self.use_bias else None, accumulate=True)
        if not (need_dx or self.pointwise_kernel.requires_grad):
            return None
        dt = kernels.conv2d_backward_data(dz, wp, t.shape)
        if self.pointwise_kernel.requires_grad:
            kernels.conv2d_backward_weights(x, dt, wd.shape, self.strides, self.padding, self.dilation_rate, groups,
                                        bias=False, dw=self.depthwise_kernel.grad.reshape(wd.shape),
                                        accumulate=True)
        if not need_dx:
            return None
        return kernels.conv2d_backward_data(dt, wd, x.shape, self.strides, self.padding, self.dilation_rate, groups)

    def backward_weights(self, ctx, dy):
        self._backward(ctx, dy, need_dx=False)

    def backward(self, ctx, dy):
        return self._backward(ctx, dy, need_dx=True)

    def _int8_forward(self, x):
        t = self._depthwise_int8(x, "depthwise_kernel", self.strides, self.padding, self.dilation_rate)
        fused, after = fused_activation(self.activation)
        y = self._int8_product(t.reshape(-1, t.shape[-1]), "pointwise_kernel",
                               self.bias.value if self.use_bias else None, fused, which=1)
        y = y if after is None else after(y)
        return y.reshape(t.shape[:3] + (self.filters,))

    def _calibration_absmax(self, x):
        """Static mode's two maxima: of the input and of the depthwise output (the pointwise product's input)."""
        wd, groups = self._depthwise()
        t = kernels.conv2d(x, wd, None, self.strides, self.padding, self.dilation_rate, groups)
        return float(np.abs(x).max()), float(np.abs(t).max())

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": _serialize(self.depthwise_initializer),
                "pointwise_initializer": _serialize(self.pointwise_initializer),
                "depthwise_regularizer": _serialize(self.depthwise_regularizer),
                "pointwise_regularizer": _serialize(self.pointwise_regularizer),
                "depthwise_constraint": _serialize(self.depthwise_constraint),
                "pointwise_constraint": _serialize(self.pointwise_constraint)}
