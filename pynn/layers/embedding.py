"""Embedding: integer indices to dense vectors (a table lookup)."""
import numpy as np

from pynn.layers.node import is_symbolic, symbolic_call
from pynn.layers.layer import Layer, serialize_argument as _serialize, _has_tensor, _recording
from pynn.layers.quantization import Int8Quantizable


class Embedding(Int8Quantizable, Layer):
    """Maps each index i in [0, input_dim) to row i of a (input_dim, output_dim) table.

    Args:
        input_dim: the vocabulary size. output_dim: the vector size.
        embeddings_initializer: "uniform" (U(-0.05, 0.05), Keras's default).
        embeddings_regularizer, embeddings_constraint, activity_regularizer.
        mask_zero: index 0 is padding: the layer emits a mask (batch, timesteps) that is False there, which
            a Sequential model hands to the next mask-consuming layer (LSTM, GRU, ...).

    Input shape: (batch, ...) of integers (floats holding integers are accepted too). A model input that only
        Embeddings read keeps its integers, so indices above 2**24 (which float32 would round) are exact.
    Output shape: (batch, ..., output_dim). Weights: embeddings (input_dim, output_dim).

    `quantize("int8")` (Keras 3's, usually through `model.quantize("int8")`): the table turns int8 with one
    scale per row (weights embeddings int8, embeddings_scale (input_dim,)), and a lookup divides the int8 row
    by its scale, as Keras does. Inference only; dequantize() gives a float table back.

    Example:
        emb = pynn.layers.Embedding(1000, 64, mask_zero=True)
        y = emb(np.array([[4, 7, 0]]))          # (1, 3, 64); emb.compute_mask(x, None) -> [[True, True, False]]
    """

    produces_mask = True
    takes_indices = True  # a model keeps integer inputs that only Embeddings read as integers
    variable_axes = (1,)  # any number of timesteps
    _int8_kernels = (("embeddings", "rows"),)
    _static_inputs = ()   # a lookup quantizes no activations

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, **kwargs):
        kwargs.pop("input_length", None)  # Keras 2's argument, ignored by Keras 3
        super().__init__(**kwargs)
        for arg, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Embedding '{self.name}': {arg} must be a positive integer, got {v!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer
        self.embeddings_constraint = embeddings_constraint
        self.mask_zero = bool(mask_zero)
        self.embeddings = None

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer, self.embeddings_regularizer,
                                          self.embeddings_constraint)
        self._quantized_build()

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def check_input_shape(self, input_shape):
        if len(input_shape) != len(self.input_shape):
            raise ValueError(f"Layer '{self.name}': expected input of rank {len(self.input_shape)} (shape "
                             f"{self.input_shape}), got {tuple(input_shape)}")

    def compute_mask(self, x, mask):
        return np.asarray(x) != 0 if self.mask_zero else None

    def _indices(self, x):
        idx = np.asarray(x)
        if idx.dtype.kind == "f":
            if not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
                raise ValueError(f"Layer '{self.name}': expected integer indices, got non-integer values")
        idx = idx.astype(np.intp, copy=False)
        if idx.size and (idx.min() < 0 or idx.max() >= self.input_dim):
            raise ValueError(f"Layer '{self.name}': indices must be in [0, {self.input_dim}), got values in "
                             f"[{idx.min()}, {idx.max()}]")
        return idx

    def forward(self, x, training=False):
        if self.quantization_mode is not None and training:
            self._refuse_training()
        idx = self._indices(x)
        if self.quantization_mode is not None:
            return self.embeddings.value[idx].astype(np.float32) / self.embeddings_scale.value[idx][..., None], idx
        return self.embeddings.value[idx], idx

    def backward_weights(self, idx, dy):
        if self.quantization_mode is not None:
            self._refuse_training()
        if self.embeddings.requires_grad:
            np.add.at(self.embeddings.grad, idx.reshape(-1), dy.reshape(-1, self.output_dim))

    def backward(self, idx, dy):
        self.backward_weights(idx, dy)
        return np.zeros(idx.shape, self.dtype)

    def __call__(self, x, training=None, **kwargs):
        if is_symbolic(x):
            return symbolic_call(self, x, training=training, **kwargs)
        if _has_tensor(x) or _recording():      # inside call() or a GradientTape: one graph node
            from pynn.layers import call_support
            return call_support.record_builtin(self, x, training)
        training = bool(training)
        x = np.asarray(x)
        self.build_for(x.shape)
        return self.forward(x, training)[0]

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": _serialize(self.embeddings_initializer),
                "embeddings_regularizer": _serialize(self.embeddings_regularizer),
                "embeddings_constraint": _serialize(self.embeddings_constraint), "mask_zero": self.mask_zero}
