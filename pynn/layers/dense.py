"""Dense: y = activation(x @ kernel + bias), on the last axis."""
import numpy as np

from pynn import _C, activations, kernels
from pynn.layers import quantization
from pynn.layers.layer import Layer, serialize_argument as _serialize
from pynn.variable import Variable

# Sparse inference (Dense._sparse_kernel): (at least this many rows, the largest fraction of nonzero weights
# at which the sparse kernel beats the dense GEMM), measured by bench/bench_pruning.py (bench/README.md).
SPARSE_CROSSOVER = ((32, 0.4), (8, 0.25), (1, 0.08))
SPARSE_MAX_DENSITY = SPARSE_CROSSOVER[0][1]


class Dense(Layer):
    """A fully connected layer: `y = activation(x @ kernel + bias)`.

    GEMM, bias and an elementwise activation run as one kernel call (the bias and activation are applied
    while the output is in cache). Inputs of rank > 2 are multiplied on their last axis, as in Keras.

    Args:
        units: output features.
        activation: name, pynn.activations function or None (linear).
        use_bias: add a bias vector.
        kernel_initializer, bias_initializer: "glorot_uniform" and "zeros" by default.
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint.

    Input shape: (batch, ..., input_dim). Output shape: (batch, ..., units).
    Weights: kernel (input_dim, units), bias (units,).

    `quantize("int8")` (Keras 3's, usually through `model.quantize("int8")`) turns the kernel into int8 values
    with one scale per output unit (weights: kernel int8, bias, kernel_scale), and each call quantizes its
    input per row on the fly: inference runs on the int8 kernel (csrc/quantized/). The saved kernel is 4x
    smaller; in memory the int8 kernel and the int16 copy the product reads take 3 bytes a weight against 4.
    A quantized layer does not train; `dequantize()` (pynn's) gives a float kernel back to fine-tune.
    `quantize("int8", input_absmax=m)` (pynn's static mode, usually through `model.quantize("int8",
    calibration_data=x)`) quantizes the inputs with the fixed scale 127 / (m + 1e-7) (weight inputs_scale).

    A float32 kernel that is mostly zeros (a pruned layer, see pynn.pruning) runs inference on a sparse kernel
    (csrc/sparse/) when that is faster than the dense GEMM: for a kernel at most 40% nonzero from 32 rows,
    25% from 8 rows, 8% below (the measured crossovers, SPARSE_CROSSOVER). The kernel's array is then read-only
    until the layer trains again (`kernel.assign` and `set_weights` still write it), so that nothing changes
    it behind the sparse copy's back.

    Example:
        layer = pynn.layers.Dense(64, activation="relu")
        y = layer(np.ones((32, 784), np.float32))     # (32, 64)
    """

    supports_masking = True  # the mask of a sequence passes through unchanged
    _static_inputs = ("inputs_scale",)   # static mode's fixed input scale (pynn.layers.quantization)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense '{self.name}': units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.kernel = self.bias = self.kernel_scale = None
        self.quantization_mode = None      # "int8" after quantize
        self.activation_quantization = self.inputs_scale = None    # "static": inputs_scale fixes the input scale
        self._packed = None          # the int8 kernel in the product's panels, made at the first quantized call
        self._sparse = None          # (kernel array, Variable.version, SparseMatrix or None): _sparse_kernel

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}': expected an input of shape (batch, ..., features) with a "
                             f"known last dimension, got {input_shape}")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                                      self.kernel_regularizer, self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer,
                                        self.bias_constraint)
        if self.quantization_mode == "int8":       # rebuilt from a saved quantized layer: its weights follow
            self._to_int8(np.zeros(self.kernel.shape, np.int8), np.ones(self.units, np.float32))
            if self.activation_quantization == "static":
                self._add_inputs_scale(np.float32(1))

    # ------------------------------------------------------------------ int8
    def quantize(self, mode, input_absmax=None):
        """Quantize the kernel as Keras 3's Dense.quantize does: mode "int8" only (per output unit,
        scale = 127 / (max |w| + 1e-7), values rounded into [-127, 127]). input_absmax (pynn's static mode):
        None, or the largest |input| to expect, which fixes the input scale (inputs beyond it clip)."""
        if mode != "int8":
            raise ValueError(f"Dense '{self.name}': quantization mode {mode!r} is not supported; pynn quantizes "
                             "to 'int8'")
        if not self.built:
            raise ValueError(f"Dense '{self.name}': build the layer (call it once) before quantizing it")
        if self.quantization_mode is not None:
            raise ValueError(f"Dense '{self.name}' is already quantized ({self.quantization_mode})")
        if self.dtype != np.float32:
            raise ValueError(f"Dense '{self.name}': int8 quantization takes a float32 layer, this one is {self.dtype}")
        if input_absmax is not None and (not isinstance(input_absmax, (int, float, np.floating, np.integer))
                                         or isinstance(input_absmax, bool) or not np.isfinite(input_absmax)
                                         or input_absmax < 0):
            raise ValueError(f"Dense '{self.name}': input_absmax must be a finite number >= 0, got {input_absmax!r}")
        self._to_int8(*kernels.quantize_columns(self.kernel.value))
        if input_absmax is not None:
            self._add_inputs_scale(quantization.absmax_scale(input_absmax))
        self.quantization_mode = "int8"

    def _add_inputs_scale(self, scale):
        self.inputs_scale = Variable(np.asarray(scale, np.float32), name="inputs_scale", trainable=False)
        self.inputs_scale.requires_grad = False
        self._weights.append(self.inputs_scale)
        self.activation_quantization = "static"

    def _to_int8(self, q, scale):
        position = self._weights.index(self.kernel)
        self._float_kernel_rules = (self.kernel.regularizer, self.kernel.constraint)   # for dequantize
        self.kernel = Variable(q, name="kernel", trainable=False)
        self.kernel.requires_grad = False
        self._weights[position] = self.kernel
        self.kernel_scale = Variable(scale, name="kernel_scale", trainable=False)
        self.kernel_scale.requires_grad = False
        self._weights.append(self.kernel_scale)
        self._packed = None

    def dequantize(self):
        """The float32 kernel back (the int8 values times their scales) and trainable again: to fine-tune a
        quantized model before quantizing it anew (pynn's; Keras has no inverse of quantize)."""
        if self.quantization_mode is None:
            return
        w = self.kernel.value.astype(np.float32) / self.kernel_scale.value
        self._weights.remove(self.kernel_scale)
        position = self._weights.index(self.kernel)
        regularizer, constraint = getattr(self, "_float_kernel_rules", (None, None))
        self.kernel = Variable(w, name="kernel", trainable=True, regularizer=regularizer, constraint=constraint)
        self.kernel.requires_grad = self._trainable
        self._weights[position] = self.kernel
        if self.inputs_scale is not None:
            self._weights.remove(self.inputs_scale)
        self.kernel_scale = self._packed = self.quantization_mode = None
        self.inputs_scale = self.activation_quantization = None

    def _refuse_training(self):
        raise ValueError(f"Dense '{self.name}' is quantized ({self.quantization_mode}) and runs inference only; "
                         "call dequantize() on it (or on the model) to train it")

    def _int8_affine(self, x2, activation):
        kernel = self.kernel
        if self._packed is None or self._packed[0] is not kernel.value or self._packed[1] != kernel.version:
            self._packed = (kernel.value, kernel.version, kernels.pack_weights(kernel.value))
        return kernels.int8_matmul(x2, self._packed[2], self.kernel_scale.value, self.kernel.shape[0],
                                   bias=self.bias.value if self.use_bias else None, activation=activation,
                                   input_scale=None if self.inputs_scale is None else self.inputs_scale.value)

    # ------------------------------------------------------------------ sparse inference
    def _sparse_kernel(self, rows):
        """The kernel as a SparseMatrix when a product of `rows` rows is faster that way, else None. The
        verdict is kept for this kernel array and version; a sparse one makes the array read-only."""
        kernel = self.kernel
        cache = self._sparse
        if cache is None or cache[0] is not kernel.value or cache[1] != kernel.version:
            if self.quantization_mode is not None or kernel.dtype != np.float32:
                return None
            packed = None
            if _C.sparse_count_nonzeros(kernel.value) <= SPARSE_MAX_DENSITY * kernel.value.size:
                packed = _C.SparseMatrix(kernel.value)
                kernel.value.flags.writeable = False
            cache = self._sparse = (kernel.value, kernel.version, packed)
        packed = cache[2]
        if packed is None or packed.density > next(d for r, d in SPARSE_CROSSOVER if rows >= r):
            return None
        return packed

    def _release_sparse(self):
        """Before training: the kernel writeable again, the sparse copy dropped."""
        if self._sparse is not None:
            self.kernel.release()
            self._sparse = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _affine(self, x2, fused_activation, training=True):
        if self.quantization_mode is not None:
            return self._int8_affine(x2, fused_activation)
        shape = (x2.shape[0], self.units)
        # Training writes into the previous step's array when nothing holds it any more (Layer._reused_array);
        # inference hands its arrays to the caller (and may run on several threads at once): fresh ones.
        y = self._reused_array("z", shape, self.dtype) if training else np.empty(shape, self.dtype)
        sparse = None if training else self._sparse_kernel(x2.shape[0])
        if sparse is not None:
            sparse.matmul(x2, y, bias=self.bias.value if self.use_bias else None, activation=fused_activation)
            return y
        _C.gemm(x2, self.kernel.value, y, 1.0, 0.0, False, False,
                bias=self.bias.value if self.use_bias else None, activation=fused_activation)
        return y

    def forward(self, x, training=False, logits=False):
        """logits=True returns the pre-activation output (the model fuses the activation into the loss)."""
        if training:
            if self.quantization_mode is not None:
                self._refuse_training()
            self._release_sparse()
        x2 = x.reshape(-1, x.shape[-1])
        act = self.activation
        if logits or act.name == "linear":
            z = self._affine(x2, None, training)
            return z.reshape(x.shape[:-1] + (self.units,)), (x2, None, None, x.shape)
        if act.elementwise and act.uses_output:
            y = self._affine(x2, (act.name, act.params) if act.params else act.name, training)
            return y.reshape(x.shape[:-1] + (self.units,)), (x2, None, y, x.shape)
        z = self._affine(x2, None, training)
        y = act.forward(z, out=self._reused_array("y", z.shape, z.dtype) if training and act.elementwise else None)
        return y.reshape(x.shape[:-1] + (self.units,)), (x2, z, y, x.shape)

    def inference(self):
        act = self.activation
        fused = None if act.name == "linear" or not act.elementwise else (
            (act.name, act.params) if act.params else act.name)
        after = act.forward if act.name != "linear" and not act.elementwise else None
        gemm, units, dtype, forward = _C.gemm, self.units, self.dtype, self.forward
        kernel = self.kernel
        bias = self.bias if self.use_bias else None
        if self.quantization_mode is not None:
            int8_affine = self._int8_affine

            def run_int8(x):
                if x.ndim != 2:
                    return forward(x, False)[0]
                y = int8_affine(x, fused)
                return y if after is None else after(y)
            return run_int8

        sparse_kernel = self._sparse_kernel

        def run(x):
            if x.ndim != 2:
                return forward(x, False)[0]
            y = np.empty((x.shape[0], units), dtype)
            sparse = sparse_kernel(x.shape[0])
            if sparse is not None:
                sparse.matmul(x, y, None if bias is None else bias.value, fused)
            else:
                gemm(x, kernel.value, y, 1.0, 0.0, False, False, None if bias is None else bias.value, fused)
            return y if after is None else after(y)
        return run

    def backward_weights(self, ctx, dy):
        """kernel.grad += x^T dz, bias.grad += sum(dz); returns dz, the gradient before the activation."""
        if self.quantization_mode is not None:
            self._refuse_training()
        x2, z, y, x_shape = ctx
        dz = dy.reshape(-1, self.units)
        if y is not None:
            act = self.activation
            out = self._reused_array("dz", dz.shape, dz.dtype) if act.elementwise else None
            dz = act.backward(np.ascontiguousarray(dz), x=z, y=y, out=out)
        dz = np.ascontiguousarray(dz)
        if self.kernel.requires_grad:
            grad, beta = self.kernel.grad_for_update()
            _C.gemm(x2, dz, grad, 1.0, beta, True, False)
            if self.use_bias:
                grad, beta = self.bias.grad_for_update()
                if beta:
                    grad += kernels.sum_rows(dz)
                else:
                    _C.sum_rows(dz, grad)
        return dz

    def backward(self, ctx, dy):
        x2, _, _, x_shape = ctx
        dz = self.backward_weights(ctx, dy)
        dx = self._reused_array("dx", x2.shape, x2.dtype)
        _C.gemm(dz, self.kernel.value, dx, 1.0, 0.0, False, True)
        return dx.reshape(x_shape)

    @classmethod
    def from_config(cls, config):
        """A saved quantized layer's config says so (pynn's key, written only then): it builds int8 weights."""
        config = dict(config)
        mode, inputs = quantization.pop_quantization_config(config, "Dense")
        layer = super().from_config(config)
        layer.quantization_mode, layer.activation_quantization = mode, inputs
        return layer

    def get_config(self):
        return {**super().get_config(), **quantization.quantization_config(self), "units": self.units, "activation": self.activation.get_config(),
                "use_bias": self.use_bias,
                "kernel_initializer": _serialize(self.kernel_initializer),
                "bias_initializer": _serialize(self.bias_initializer),
                "kernel_regularizer": _serialize(self.kernel_regularizer),
                "bias_regularizer": _serialize(self.bias_regularizer),
                "kernel_constraint": _serialize(self.kernel_constraint),
                "bias_constraint": _serialize(self.bias_constraint),
                "activity_regularizer": _serialize(self.activity_regularizer)}

