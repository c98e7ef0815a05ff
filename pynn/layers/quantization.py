"""int8 quantization of Conv1D / Conv2D, DepthwiseConv2D, SeparableConv2D, Embedding and the recurrent layers
(Dense has its own, in dense.py, with the same scheme, weights and config key).

Weights, as Keras 3 quantizes Dense and Embedding: each quantized kernel becomes an int8 variable of the same
name and shape, and gains a float32 `<name>_scale` (kernel_scale, embeddings_scale, ...) of one scale per output
channel, 127 / (max |w| + 1e-7) over the rest of the kernel (Embedding: one per row of its table), the values
rounded half to even into [-127, 127]. The scales come after the layer's other weights (kernel, bias,
kernel_scale), and x = q / scale gives the float values back.

Activations: the products are exact integer sums of int8 values (csrc/quantized/'s int8 GEMM), their inputs
quantized at each call per row of the product (dynamic: each output pixel's window, per group, of a convolution
after im2col; each sample and step of a recurrent input; DepthwiseConv2D, which has no GEMM: each channel of each
image), or with one fixed scale per tensor (static: `inputs_scale` = 127 / (max |x| + 1e-7) for the max measured
by Model.quantize("int8", calibration_data=...), a float32 scalar weight saved with the model; values beyond the
calibrated range clip to +-127).

A saved quantized layer's config says so (`"quantization_mode": "int8"`, plus `"activation_quantization":
"static"` for static inputs); building it from that config makes int8 placeholders for the saved values.

Example:
    >>> model.quantize("int8")                                   # every layer that quantizes
    >>> model.quantize("int8", calibration_data=x_train[:1000])  # static activation scales
    >>> layer.quantize("int8", input_absmax=6.0)                 # one layer, static, its input max given
"""
import numbers

import numpy as np
from numpy.lib.stride_tricks import as_strided

from pynn import _C, kernels
from pynn.kernels.quantized import EPSILON
from pynn.variable import Variable

MODE = "int8"


def absmax_scale(absmax):
    """Keras's abs-max scale for a maximum |x|: 127 / (absmax + 1e-7), float32."""
    return np.float32(np.float32(127.0) / (np.float32(absmax) + np.float32(EPSILON)))


def _columns(w, reduced):
    """The 2-D view whose columns get one scale each: the first `reduced` axes flattened against the others
    (None: all but the last), or "rows": the transpose (one scale per row)."""
    if reduced == "rows":
        return w.T
    r = w.ndim - 1 if reduced is None else reduced
    return w.reshape(int(np.prod(w.shape[:r])), -1)


def quantize_kernel(w, reduced=None):
    """(q, scale): w quantized to int8 with one scale per column of _columns(w, reduced); q has w's shape."""
    q2, scale = kernels.quantize_columns(_columns(np.asarray(w, np.float32), reduced))
    q = q2.T if reduced == "rows" else q2.reshape(w.shape)
    return np.ascontiguousarray(q), scale


def dequantize_kernel(q, scale, reduced=None):
    """The float32 values q / scale, in q's shape."""
    w2 = _columns(q, reduced).astype(np.float32) / scale
    return np.ascontiguousarray(w2.T if reduced == "rows" else w2.reshape(q.shape))


def explicit_padding(in_hw, kernel, strides, padding, dilation):
    """((top, bottom), (left, right)) for a padding name or explicit pairs (the 2-D kernels' argument)."""
    if isinstance(padding, str):
        return tuple(kernels.conv_padding(in_hw[a], kernel[a], strides[a], padding, dilation[a]) for a in range(2))
    return tuple((int(p[0]), int(p[1])) for p in padding)


def image_windows(x4, kernel, strides, padding, dilation):
    """The (N, OH, OW, KH, KW, C) read-only view of the windows of x4 (N, H, W, C) zero-padded by `padding`
    (explicit pairs): im2col without the copy; reshaping it to rows copies."""
    (top, bottom), (left, right) = padding
    if top or bottom or left or right:
        x4 = np.pad(x4, ((0, 0), (top, bottom), (left, right), (0, 0)))
    n, h, w, c = x4.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilation
    oh, ow = (h - (kh - 1) * dh - 1) // sh + 1, (w - (kw - 1) * dw - 1) // sw + 1
    s0, s1, s2, s3 = x4.strides
    return as_strided(x4, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)


def fused_activation(act):
    """(spec the int8 product applies in its store or None, function to apply after it or None)."""
    if act.name == "linear":
        return None, None
    if act.elementwise:
        return ((act.name, act.params) if act.params else act.name), None
    return None, act.forward


def input_absmax(x):
    """(max |x|,): what static mode measures of a layer's input (the default _calibration_absmax)."""
    return (float(np.abs(x).max()) if x.size else 0.0,)


def _frozen(value, name):
    var = Variable(value, name=name, trainable=False)
    var.requires_grad = False
    return var


class Int8Quantizable:
    """quantize / dequantize / training refusal / config for a layer whose kernels turn int8 (mixed in before
    the layer's base class). The layer lists its kernels in `_int8_kernels` ((attribute, reduced axes), see
    _columns), the fixed input scales of static mode in `_static_inputs`, calls `_quantized_build()` at the end
    of build, and runs its int8 forward when `quantization_mode` is set."""

    quantization_mode = None          # "int8" after quantize()
    activation_quantization = None    # "static": inputs quantized with the calibrated inputs_scale
    _int8_kernels = (("kernel", None),)
    _static_inputs = ("inputs_scale",)

    @property
    def _who(self):
        return f"{type(self).__name__} '{self.name}'"

    # ------------------------------------------------------------------ quantize / dequantize
    def quantize(self, mode, input_absmax=None):
        """Quantize the kernel(s) to int8 (mode "int8" only): one scale per output channel, Keras's abs-max
        rule (see pynn.layers.quantization). input_absmax: None (inputs quantized per row at each call), or the
        largest |input| to expect (a number; SeparableConv2D: a pair, its input's and its depthwise output's),
        which fixes the input scale (static). A quantized layer runs inference only; dequantize() undoes it."""
        statics = self._check_quantize(mode, input_absmax)
        self._to_int8([quantize_kernel(getattr(self, attr).value, reduced) for attr, reduced in self._int8_kernels],
                      None if statics is None else [absmax_scale(a) for a in statics])
        self.quantization_mode = MODE

    def _check_quantize(self, mode, input_absmax):
        """Every argument and state check of quantize, before anything changes; returns the maxima or None."""
        if mode != MODE:
            raise ValueError(f"{self._who}: quantization mode {mode!r} is not supported; pynn quantizes to 'int8'")
        if not self.built:
            raise ValueError(f"{self._who}: build the layer (call it once) before quantizing it")
        if self.quantization_mode is not None:
            raise ValueError(f"{self._who} is already quantized ({self.quantization_mode})")
        if self.dtype != np.float32:
            raise ValueError(f"{self._who}: int8 quantization takes a float32 layer, this one is {self.dtype}")
        if input_absmax is None:
            return None
        want = len(self._static_inputs)
        if want == 0:
            raise ValueError(f"{self._who} quantizes no input activations: input_absmax must be None, got "
                             f"{input_absmax!r}")
        values = [input_absmax] if isinstance(input_absmax, numbers.Real) else list(np.ravel(input_absmax))
        if len(values) != want or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real)
                                      or not np.isfinite(v) or v < 0 for v in values):
            what = (f"{want} finite numbers >= 0 ({', '.join(self._static_inputs)})" if want > 1
                    else "a finite number >= 0")
            raise ValueError(f"{self._who}: input_absmax must be {what}, got {input_absmax!r}")
        return [float(v) for v in values]

    def _to_int8(self, values, static_scales):
        """Replace each kernel by its int8 values (values: (q, scale) per _int8_kernels entry), append the
        scales, then the fixed input scales (static_scales, or None for dynamic inputs)."""
        self._float_kernel_args = {}
        for (attr, _), (q, _) in zip(self._int8_kernels, values):
            old = getattr(self, attr)
            self._float_kernel_args[attr] = (old.regularizer, old.constraint)
            new = _frozen(q, old.name)
            self._weights[self._weights.index(old)] = new
            setattr(self, attr, new)
        for (attr, _), (_, scale) in zip(self._int8_kernels, values):
            var = _frozen(scale, f"{attr}_scale")
            self._weights.append(var)
            setattr(self, f"{attr}_scale", var)
        if static_scales is not None:
            for name, scale in zip(self._static_inputs, static_scales):
                var = _frozen(np.asarray(scale, np.float32), name)
                self._weights.append(var)
                setattr(self, name, var)
            self.activation_quantization = "static"

    def _quantized_build(self):
        """At the end of build: a layer made from a quantized config gets int8 placeholders for its weights."""
        if self.quantization_mode is None:
            return
        values = []
        for attr, reduced in self._int8_kernels:
            shape = getattr(self, attr).shape
            columns = _columns(np.empty(shape, np.int8), reduced).shape[1]
            values.append((np.zeros(shape, np.int8), np.ones(columns, np.float32)))
        static = self.activation_quantization == "static"
        self._to_int8(values, [np.float32(1)] * len(self._static_inputs) if static else None)

    def dequantize(self):
        """The float32 kernels back (q / scale), trainable again, and no input scales: to fine-tune a quantized
        layer before quantizing it anew (pynn's; Keras has no inverse of quantize)."""
        if self.quantization_mode is None:
            return
        args = getattr(self, "_float_kernel_args", {})
        for attr, reduced in self._int8_kernels:
            q, scale = getattr(self, attr), getattr(self, f"{attr}_scale")
            regularizer, constraint = args.get(attr, (None, None))
            new = Variable(dequantize_kernel(q.value, scale.value, reduced), name=q.name, trainable=True,
                           regularizer=regularizer, constraint=constraint)
            new.requires_grad = self._trainable
            self._weights[self._weights.index(q)] = new
            setattr(self, attr, new)
            self._weights.remove(scale)
            setattr(self, f"{attr}_scale", None)
        if self.activation_quantization == "static":
            for name in self._static_inputs:
                self._weights.remove(getattr(self, name))
                setattr(self, name, None)
        self.quantization_mode = self.activation_quantization = None

    def _refuse_training(self):
        raise ValueError(f"{self._who} is quantized ({self.quantization_mode}) and runs inference only; call "
                         "dequantize() on it (or on the model) to train it")

    # ------------------------------------------------------------------ computing
    def _input_scale(self, which=0):
        """The fixed scale of static input `which`, or None (per-row scales at each call)."""
        if self.activation_quantization != "static":
            return None
        return np.float32(getattr(self, self._static_inputs[which]).value)

    def _calibration_absmax(self, x):
        """The maxima static mode fixes, for one calibration input x: max |x| (one per _static_inputs entry)."""
        return input_absmax(x)

    def _int8_product(self, x2, attr, bias=None, activation=None, which=0, columns=None):
        """act(x2 @ w + bias) on the int8 kernel `attr` seen as a (k, n) matrix (its columns `columns`, a slice,
        or all). x2: (m, k) float32, quantized here per row or with static input scale `which`; or int16 values
        already quantized with that static scale.

        The kernel is packed for the product at each call (k * n int16: microseconds against the product,
        and never stale after set_weights / load_weights assign new int8 values in place)."""
        reduced = dict(self._int8_kernels)[attr]
        w = _columns(getattr(self, attr).value, reduced)
        scale = getattr(self, f"{attr}_scale").value
        if columns is not None:
            w, scale = np.ascontiguousarray(w[:, columns]), scale[columns]
        k, packed, static = w.shape[0], kernels.pack_weights(w), self._input_scale(which)
        if x2.dtype != np.int16:
            return kernels.int8_matmul(x2, packed, scale, k, bias=bias, activation=activation, input_scale=static)
        if k % 2:                        # the product reads k rounded up to even columns, the last one zeros
            x2 = np.concatenate([x2, np.zeros((x2.shape[0], 1), np.int16)], axis=1)
        y = np.empty((x2.shape[0], scale.shape[0]), np.float32)
        _C.qgemm(np.ascontiguousarray(x2), np.full(x2.shape[0], static, np.float32), packed, scale, y, k, bias=bias,
                 activation=activation)
        return y

    def _depthwise_int8(self, x4, attr, strides, padding, dilation, which=0):
        """The depthwise convolution of x4 (N, H, W, C) by the int8 kernel `attr` (KH, KW, C, M), no bias:
        (N, OH, OW, C * M) float32, float(sum) / (x_scale * w_scale) as the int8 product rounds it.

        Each channel of each image is quantized with its own scale (127 / (max |x[n, :, :, c]| + 1e-7); static
        mode: the calibrated one), so that a channel's sums share one scale and the C++ float depthwise kernel
        can add them: its operands are the integers themselves, whose products and sums stay below 2^24 (exact
        in float32) while KH * KW * 127^2 < 2^24 (float64 beyond). A depthwise product has no GEMM, and a scale
        per window (the rows of a Conv2D) would need a C++ kernel of its own: in NumPy it ran 100x slower."""
        q_w = getattr(self, attr).value
        kh, kw, c, m = q_w.shape
        x_scale = self._input_scale(which)
        if x_scale is None:
            amax = np.abs(x4).max(axis=(1, 2), keepdims=True) if x4.size else np.zeros((x4.shape[0], 1, 1, c))
            x_scale = (np.float32(127.0) / (amax.astype(np.float32) + np.float32(EPSILON))).astype(np.float32)
        exact = np.float32 if kh * kw * 127 * 127 < 2 ** 24 else np.float64
        xq = np.multiply(x4, x_scale, dtype=np.float32)
        np.clip(np.rint(xq, out=xq), -127, 127, out=xq)
        sums = kernels.conv2d(xq.astype(exact, copy=False), q_w.reshape(kh, kw, 1, c * m).astype(exact), None,
                              strides, padding, dilation, groups=c)
        if np.ndim(x_scale):
            x_scale = np.repeat(x_scale, m, axis=-1)             # (N, 1, 1, C * M): output channel c * M + k
        w_scale = getattr(self, f"{attr}_scale").value
        return sums.astype(np.float32, copy=False) / (x_scale * w_scale)

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {**super().get_config(), **quantization_config(self)}

    @classmethod
    def from_config(cls, config):
        """A saved quantized layer's config says so: it builds int8 weights for the saved values."""
        config = dict(config)
        mode, inputs = pop_quantization_config(config, cls.__name__)
        layer = super().from_config(config)
        layer.quantization_mode, layer.activation_quantization = mode, inputs
        return layer


def quantization_config(layer):
    """The config keys of a quantized layer (pynn's, written only when it is): its mode, and "static" inputs."""
    config = {}
    if layer.quantization_mode is not None:
        config["quantization_mode"] = layer.quantization_mode
        if layer.activation_quantization is not None:
            config["activation_quantization"] = layer.activation_quantization
    return config


def pop_quantization_config(config, who):
    """(quantization_mode, activation_quantization) taken out of a layer's config, checked."""
    mode = config.pop("quantization_mode", None)
    inputs = config.pop("activation_quantization", None)
    if mode not in (None, MODE):
        raise ValueError(f"{who}.from_config: quantization_mode must be 'int8', got {mode!r}")
    if inputs not in (None, "static") or (inputs is not None and mode is None):
        raise ValueError(f"{who}.from_config: activation_quantization must be 'static' (with quantization_mode "
                         f"'int8') or absent, got {inputs!r}")
    return mode, inputs


# ---------------------------------------------------------------------------------------------- models
def calibrate(model, layers, data, steps=None):
    """{id(layer): maxima}: each layer's _calibration_absmax over the float model's predict(data, steps),
    the largest of every batch. The layers' forward and inference are wrapped for the run only."""
    stats = {}

    def recorder(layer):
        measure = getattr(layer, "_calibration_absmax", input_absmax)     # Dense has none of its own

        def record(x):
            new = measure(np.asarray(x))
            old = stats.get(id(layer))
            stats[id(layer)] = new if old is None else tuple(max(a, b) for a, b in zip(old, new))
        return record

    for layer in layers:
        record, forward, inference = recorder(layer), layer.forward, layer.inference

        def recording_forward(x, *args, _record=record, _forward=forward, **kwargs):
            _record(x)
            return _forward(x, *args, **kwargs)

        def recording_inference(_record=record, _inference=inference):
            run = _inference()

            def recording_run(x):
                _record(x)
                return x if run is None else run(x)
            return recording_run
        layer.forward, layer.inference = recording_forward, recording_inference
    model._forget_compiled_steps()
    try:
        model.predict(data, steps=steps, verbose=0)
    finally:
        for layer in layers:
            del layer.forward, layer.inference
        model._forget_compiled_steps()
    unseen = [layer.name for layer in layers if id(layer) not in stats]
    if unseen:
        raise ValueError(f"Model '{model.name}': the calibration data never reached layer(s) {unseen}")
    return stats
