"""PruneLowMagnitude: a layer wrapper that keeps a 0/1 mask per prunable weight and zeroes the weights of
lowest magnitude as its pruning schedule says (tfmot.sparsity.keras's wrapper, same name and weights)."""
import numpy as np

from pynn.layers.layer import Layer
from pynn.pruning import schedules
from pynn.saving.object_registration import register_keras_serializable
from pynn.variable import Variable

# The weights pruned in the built-in layers, by attribute (the first ones a layer has); biases and
# normalization weights are never pruned. SeparableConv prunes its pointwise kernel only, as tfmot does.
PRUNED_ATTRIBUTES = ("pointwise_kernel", "depthwise_kernel", "kernel", "embeddings")
RECURRENT_ATTRIBUTES = ("kernel", "recurrent_kernel")


def prunable_weights(layer):
    """The Variables of `layer` that pruning masks: the layer's own get_prunable_weights() when it has one,
    else the kernels of the built-in layers ([] for a layer with nothing to prune)."""
    if hasattr(layer, "get_prunable_weights"):
        return list(layer.get_prunable_weights())
    cell = getattr(layer, "cell", None)
    owner = layer if getattr(layer, "recurrent_kernel", None) is not None else cell
    if owner is not None and getattr(owner, "recurrent_kernel", None) is not None:
        return [getattr(owner, a) for a in RECURRENT_ATTRIBUTES if isinstance(getattr(owner, a, None), Variable)]
    for attribute in PRUNED_ATTRIBUTES:
        weight = getattr(layer, attribute, None)
        if isinstance(weight, Variable):
            return [weight]
    return []


@register_keras_serializable(package="pynn_pruning")
class PruneLowMagnitude(Layer):
    """Wraps a layer so that training prunes its weights by magnitude (usually made by
    pynn.pruning.prune_low_magnitude, which wraps every prunable layer of a model).

    At each training step whose pruning step the schedule names, each pruned weight's mask is recomputed:
    the `sparsity` fraction of entries of smallest magnitude (or blocks of `block_size`, compared by their
    mean or max magnitude; or, with `sparsity_m_by_n=(m, n)`, all but the m largest of every n consecutive
    entries along the input axis) get 0, the rest 1. Before every training forward pass and after every
    optimizer step (through the UpdatePruningStep callback) the weights are multiplied by their masks, so
    pruned weights stay at zero while the others train. The pruning step is set by UpdatePruningStep, which
    fit must be given.

    Weights: the wrapped layer's, then for each pruned weight its mask and threshold (non-trainable), then
    pruning_step (non-trainable, -1 until training starts). They save and load with the model.

    Args:
        layer: the layer to prune (Dense, Conv1D/2D/3D and transposed, DepthwiseConv2D, SeparableConv1D/2D,
            Embedding, SimpleRNN / LSTM / GRU, or one defining get_prunable_weights()).
        pruning_schedule: a pynn.pruning schedule (default ConstantSparsity(0.5, 0)).
        block_size: (rows, cols) blocks pruned together, for 2-D weights; (1, 1) prunes single weights.
        block_pooling_type: "AVG" or "MAX", how a block's magnitude is taken.
        sparsity_m_by_n: None, or (m, n): structured m:n sparsity (e.g. (2, 4)), m kept of every n.
    """

    def __init__(self, layer, pruning_schedule=None, block_size=(1, 1), block_pooling_type="AVG",
                 sparsity_m_by_n=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"PruneLowMagnitude: expected a pynn layer to wrap, got {type(layer).__name__}")
        kwargs.setdefault("name", f"prune_low_magnitude_{layer.name}")
        super().__init__(**kwargs)
        self.layer = layer
        self.pruning_schedule = (schedules.ConstantSparsity(0.5, 0) if pruning_schedule is None
                                 else schedules.deserialize(pruning_schedule))
        block_size = tuple(block_size)
        if len(block_size) != 2 or any(isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1
                                       for b in block_size):
            raise ValueError(f"PruneLowMagnitude '{self.name}': block_size must be two positive integers, "
                             f"got {block_size!r}")
        self.block_size = tuple(int(b) for b in block_size)
        if block_pooling_type not in ("AVG", "MAX"):
            raise ValueError(f"PruneLowMagnitude '{self.name}': block_pooling_type must be 'AVG' or 'MAX', "
                             f"got {block_pooling_type!r}")
        self.block_pooling_type = block_pooling_type
        if sparsity_m_by_n is not None:
            m_n = tuple(sparsity_m_by_n)
            if (len(m_n) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in m_n)
                    or not 0 < m_n[0] < m_n[1]):
                raise ValueError(f"PruneLowMagnitude '{self.name}': sparsity_m_by_n must be (m, n) with "
                                 f"0 < m < n, got {sparsity_m_by_n!r}")
            if self.block_size != (1, 1):
                raise ValueError(f"PruneLowMagnitude '{self.name}': sparsity_m_by_n and block_size cannot "
                                 "both be set")
            sparsity_m_by_n = (int(m_n[0]), int(m_n[1]))
        self.sparsity_m_by_n = sparsity_m_by_n
        self.supports_masking = layer.supports_masking
        self.uses_mask = layer.uses_mask
        self.produces_mask = layer.produces_mask
        self.takes_list = layer.takes_list
        self.variable_axes = layer.variable_axes
        self.pruned = []          # [(weight, mask, threshold)]
        self.pruning_step = None
        self._mask_step = None    # the pruning step whose mask update has run

    # ------------------------------------------------------------------ structure
    def build(self, input_shape):
        self.layer.build_for(input_shape)
        weights = prunable_weights(self.layer)
        if not weights:
            raise ValueError(f"PruneLowMagnitude '{self.name}': layer '{self.layer.name}' "
                             f"({type(self.layer).__name__}) has no weights pynn knows how to prune; give it a "
                             "get_prunable_weights() method returning the Variables to prune, or leave it "
                             "unwrapped")
        self.pruned = []
        for w in weights:
            if self.block_size != (1, 1) and w.value.ndim != 2:
                raise ValueError(f"PruneLowMagnitude '{self.name}': block_size {self.block_size} needs 2-D "
                                 f"weights, '{w.name}' has shape {w.shape}")
            if self.sparsity_m_by_n is not None and w.value.ndim < 2:
                raise ValueError(f"PruneLowMagnitude '{self.name}': sparsity_m_by_n needs weights of 2 or more "
                                 f"dimensions, '{w.name}' has shape {w.shape}")
            mask = Variable(np.ones(w.shape, w.dtype), name=f"{w.name}_mask", trainable=False)
            threshold = Variable(np.zeros((), w.dtype), name=f"{w.name}_threshold", trainable=False)
            self.pruned.append((w, mask, threshold))
        self.pruning_step = Variable(np.array(-1, np.int64), name="pruning_step", trainable=False)
        self._weights = (list(self.layer._weights) + [v for _, m, t in self.pruned for v in (m, t)]
                         + [self.pruning_step])

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def compute_mask(self, x, mask):
        return self.layer.compute_mask(x, mask)

    @property
    def activation(self):
        """The wrapped layer's activation, so that a model fuses a final softmax into its loss as without the
        wrapper (forward passes logits=True on)."""
        return getattr(self.layer, "activation", None)

    @property
    def output_activation_fusable(self):
        import inspect
        return (getattr(self.layer, "output_activation_fusable", True)
                and "logits" in inspect.signature(self.layer.forward).parameters)

    # ------------------------------------------------------------------ masks
    def _update_masks(self, sparsity):
        for weight, mask, threshold in self.pruned:
            magnitude = np.abs(weight.value)
            if self.sparsity_m_by_n is not None:
                mask.value[...] = _m_by_n_mask(magnitude, *self.sparsity_m_by_n)
                threshold.value[...] = 0
                continue
            pooled = _pool(magnitude, self.block_size, self.block_pooling_type)
            keep = max(1, int(round(pooled.size * (1.0 - sparsity))))
            cut = np.partition(pooled.ravel(), pooled.size - keep)[pooled.size - keep]
            block_mask = (pooled >= cut).astype(weight.dtype)
            mask.value[...] = _unpool(block_mask, self.block_size, weight.shape)
            threshold.value[...] = cut

    def apply_masks(self):
        """weights *= masks (what keeps pruned weights at zero after an optimizer step)."""
        for weight, mask, _ in self.pruned:
            weight.release()
            np.multiply(weight.value, mask.value, out=weight.value)

    def _before_training_step(self):
        step = int(self.pruning_step.value)
        if step < 0:
            raise ValueError(f"PruneLowMagnitude '{self.name}': the pruning step is not set. Pass "
                             "pynn.pruning.UpdatePruningStep() in fit's callbacks (in a custom training loop, call "
                             "its set_model(model), on_train_begin() and on_train_batch_begin(step) yourself)")
        if self._mask_step != step:
            should_prune, sparsity = self.pruning_schedule(step)
            if should_prune:
                self._update_masks(sparsity)
            self._mask_step = step
        self.apply_masks()

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False, logits=False, **kwargs):
        if training:
            self._before_training_step()
        if logits:
            kwargs["logits"] = True
        return self.layer.forward(x, training, **kwargs)

    def backward(self, ctx, dy):
        return self.layer.backward(ctx, dy)

    def backward_weights(self, ctx, dy):
        return self.layer.backward_weights(ctx, dy)

    def inference(self):
        return self.layer.inference()

    # ------------------------------------------------------------------ config
    def get_config(self):
        from pynn.saving import serialize_keras_object
        config = {**super().get_config(), "layer": serialize_keras_object(self.layer),
                  "pruning_schedule": schedules.serialize(self.pruning_schedule),
                  "block_size": list(self.block_size), "block_pooling_type": self.block_pooling_type,
                  "sparsity_m_by_n": list(self.sparsity_m_by_n) if self.sparsity_m_by_n else None}
        config.pop("input_shape", None)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from pynn import layers
        from pynn.saving import deserialize_keras_object
        config = dict(config)
        layer = deserialize_keras_object(config.pop("layer"), custom_objects, module_objects=vars(layers))
        return cls(layer, **config)


def _pool(magnitude, block, kind):
    """Block magnitudes of a 2-D array (padded with zeros to whole blocks), or the array for (1, 1)."""
    if block == (1, 1):
        return magnitude
    rows, cols = magnitude.shape
    br, bc = block
    padded = np.zeros((-(-rows // br) * br, -(-cols // bc) * bc), magnitude.dtype)
    padded[:rows, :cols] = magnitude
    blocks = padded.reshape(padded.shape[0] // br, br, padded.shape[1] // bc, bc)
    return blocks.mean(axis=(1, 3)) if kind == "AVG" else blocks.max(axis=(1, 3))


def _unpool(block_mask, block, shape):
    if block == (1, 1):
        return block_mask
    full = np.repeat(np.repeat(block_mask, block[0], axis=0), block[1], axis=1)
    return full[:shape[0], :shape[1]]


def _m_by_n_mask(magnitude, m, n):
    """1 for the m largest of every n consecutive entries along the input axis (-2: a Dense kernel's rows, a
    convolution kernel's input channels), 0 elsewhere; a last partial group keeps up to m."""
    moved = np.moveaxis(magnitude, -2, -1)
    length = moved.shape[-1]
    groups = -(-length // n)
    padded = np.full(moved.shape[:-1] + (groups * n,), -1.0, moved.dtype)
    padded[..., :length] = moved
    grouped = padded.reshape(moved.shape[:-1] + (groups, n))
    order = np.argsort(-grouped, axis=-1, kind="stable")
    keep = np.zeros(grouped.shape, bool)
    np.put_along_axis(keep, order[..., :m], True, axis=-1)
    mask = keep.reshape(padded.shape)[..., :length]
    return np.moveaxis(mask, -1, -2).astype(magnitude.dtype)
