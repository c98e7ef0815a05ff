"""What the attention layers share: a call with several inputs and masks, the boolean masks, and the softmax
over the key axis computed in place on the score buffer.

A call is made canonical before it runs: its inputs become one list [query, value, key, *masks] (key is value
when not given; only the masks given are listed) and its options a CallOptions (which masks, in the layer's
order, and the flags). On arrays the layer builds and runs forward(list, training, options=...); on pynn Tensors
(inside a recorded call()) it is one graph node; on symbolic tensors the list is recorded as the node's inputs,
so that a functional model reads query, value, key and the masks from its graph and gets their gradients.

Each symbolic call keeps its own options on its node (node.call_options = {"options": CallOptions}), which the
functional engine hands to forward, compute_mask and compute_output_shape whenever it runs that call: one layer
may be called with a causal mask in one place and without in another, as in Keras. A functional model's config
writes them in the call's "kwargs" the way the call is written (`mha(q, value=v, attention_mask=m,
use_causal_mask=True)`, `attention([q, v], mask=[qm, None])`: `call_config`), so that rebuilding it calls the layer
the same way. Configs written before that kept one set of options per layer ("call_options" in the layer's
config, its calls listing [query, value, key, *masks]): those still load (`_saved_options`).

Implicit masks, as in Keras: when query, value or key carry a mask in a functional model (they come from
Embedding(mask_zero=True), Masking, or a layer passing such a mask on), the model hands the inputs' masks to
forward(list, training, mask=[...]), and each fills the mask role the layer reads it as (`implicit_roles`: the
query's is query_mask, the value's value_mask, the key's key_mask when the key is another tensor than the
value) unless that mask is given explicitly. The output carries the query's mask on (compute_mask).
"""
from typing import NamedTuple

import numpy as np

from pynn import kernels
from pynn.layers.layer import Layer, _has_tensor, _recording
from pynn.layers.node import KerasTensor, is_symbolic, symbolic_call

DATA_ROLES = ("query", "value", "key")


class CallOptions(NamedTuple):
    masks: tuple = ()                    # the roles of the mask inputs after [query, value, key], in order
    use_causal_mask: bool = False
    return_attention_scores: bool = False


def as_bool(mask):
    """A mask as booleans: True (or nonzero) keeps a position."""
    mask = np.asarray(mask)
    return mask if mask.dtype == np.bool_ else mask != 0


def dims_match(got, want, broadcast=False):
    """Whether shape `got` fits `want` (None: any size; broadcast: a size of 1 fits too)."""
    return len(got) == len(want) and all(
        g is None or w is None or g == w or (broadcast and g == 1) for g, w in zip(got, want))


def causal_keep(t, s):
    """(t, s) booleans, True where query step i may see key step j: j <= i (Keras's causal mask)."""
    return np.tri(t, s, dtype=np.bool_)


def softmax_in_place(scores, dropped=None, fill=None, subtract=None):
    """Softmax over the last axis, written over `scores` (nothing else of its size is kept).

    dropped: None, or booleans broadcastable to scores, True where a score is masked. A masked score becomes
    `fill` (MultiHeadAttention: -1e9, and its probability 0 afterwards, so a row with nothing to attend to is
    all zeros) or score - `subtract` (Attention: score - 1e9, as Keras does it).
    """
    if dropped is not None:
        if fill is not None:
            np.copyto(scores, scores.dtype.type(fill), where=dropped)
        else:
            np.subtract(scores, scores.dtype.type(subtract), out=scores, where=dropped)
    kernels.softmax(scores, out=scores)
    if dropped is not None and fill is not None:
        np.copyto(scores, scores.dtype.type(0), where=dropped)
    return scores


def batched_gemm(a, b, c, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i] for every index i of the leading axes, on the GEMM kernel.

    The matrices may be views with strided rows (a head's columns of a projection), so no operand is copied;
    NumPy's matmul falls back to a slow loop on such views. One kernel call: the products run one per
    thread."""
    if a.ndim == 2:
        return kernels.gemm(a, b, c, alpha, beta, trans_a, trans_b)
    return kernels.gemm_batched(a, b, c, alpha, beta, trans_a, trans_b)


def add_matmul_grad(var, a, b):
    """var.grad += a^T @ b (a, b 2-D, same rows), on the GEMM kernel; nothing when var takes no gradient."""
    if var is None or not var.requires_grad:
        return
    grad, beta = var.grad_for_update()
    kernels.gemm(a, b, grad.reshape(a.shape[1], b.shape[1]), 1.0, beta, trans_a=True)


def add_sum_grad(var, rows):
    """var.grad += the sum of `rows` (2-D) over its first axis."""
    if var is None or not var.requires_grad:
        return
    var.grad += kernels.sum_rows(np.ascontiguousarray(rows)).reshape(var.shape)


class AttentionLayer(Layer):
    """Base of the attention layers: the canonical call (see the module docstring), the data-input checks at
    build and at each call, and the saved call options. Subclasses define `mask_roles`, check_data_shapes,
    check_mask_shapes, build, forward(xs, training, options=None) and backward(ctx, dy)."""

    takes_list = True
    uses_mask = True                 # a functional model hands over the masks its inputs carry
    mask_roles = ()
    implicit_roles = ()              # the mask role filled by the mask of query, value, key (in that order)
    fixed_features = DATA_ROLES      # the inputs whose last dimension the weights fix at build
    _saved_options = None            # the per-layer options of an older config (see the module docstring)

    @property
    def _who(self):
        return f"{type(self).__name__} '{self.name}'"

    # ------------------------------------------------------------------ calls
    def _call(self, query, value, key, masks, use_causal_mask, return_attention_scores, training):
        unknown = set(masks) - set(self.mask_roles)
        if unknown:
            raise ValueError(f"{self._who}: unknown mask(s) {sorted(unknown)}")
        roles = tuple(r for r in self.mask_roles if masks.get(r) is not None)
        xs = [query, value, value if key is None else key] + [masks[r] for r in roles]
        if any(x is None for x in xs[:2]):
            raise ValueError(f"{self._who}: a call needs both query and value")
        options = CallOptions(roles, bool(use_causal_mask), bool(return_attention_scores))
        if is_symbolic(xs):
            # A list, as every layer with several outputs gives on symbolic tensors (a functional config's
            # replay takes the outputs from it).
            return self._symbolic_call(xs, options, training)
        if _has_tensor(xs) or _recording():
            from pynn.layers import call_support
            from pynn.ops.tensor import value_of
            self._check_shapes([np.shape(value_of(x)) for x in xs], options)
            out = call_support.record_builtin(self, xs, training, options=options)
        else:
            arrays = [np.ascontiguousarray(x, dtype=self.dtype) for x in xs[:3]] + [np.asarray(m) for m in xs[3:]]
            self._check_shapes([a.shape for a in arrays], options)      # before the layer builds
            self.build_for([a.shape for a in arrays])
            out = self.forward(arrays, bool(training), options=options)[0]
        return tuple(out) if isinstance(out, list) else out

    def _replayed(self, inputs):
        """A call on one list [query, value(, key)], or a functional config's replay of a recorded call
        [query, value, key, *masks] (the masks and flags are then the saved options): (query, value, key,
        masks, options)."""
        inputs = list(inputs)
        recorded = self._saved_options or CallOptions()
        if len(inputs) in (2, 3) and not recorded.masks:
            return inputs[0], inputs[1], (inputs[2] if len(inputs) == 3 else None), {}, recorded
        if len(inputs) == 3 + len(recorded.masks) and recorded.masks:
            return inputs[0], inputs[1], inputs[2], dict(zip(recorded.masks, inputs[3:])), recorded
        raise ValueError(f"{self._who}: expected a list [query, value] or [query, value, key], got a list of "
                         f"{len(inputs)}")

    def _symbolic_call(self, xs, options, training):
        for role, t in zip(DATA_ROLES + options.masks, xs):
            if not isinstance(t, KerasTensor):
                raise ValueError(f"{self._who}: in a functional model every input, masks included, must be a "
                                 f"symbolic tensor (from Input or another layer); {role} is a {type(t).__name__}")
        self._check_shapes([t.shape for t in xs], options)
        return symbolic_call(self, xs, training=training, call_options={"options": options})

    @property
    def _graph_options(self):
        """The options of this layer's symbolic calls when they all use the same (else NotImplementedError: each
        call's are on its node, `layer._inbound_nodes[i].call_options["options"]`); None before any call."""
        found = list(dict.fromkeys(n.call_options["options"] for n in self._inbound_nodes if n.call_options))
        if len(found) > 1:
            raise NotImplementedError(
                f"{self._who} is called with different masks or options in functional models "
                f"({[o._asdict() for o in found]}): read each call's options from its node")
        return found[0] if found else self._saved_options

    def _options(self, xs, options):
        """The options of a forward call: given (a functional model gives each call's own), else those of the
        symbolic calls, else the defaults."""
        if options is None:
            options = self._graph_options or CallOptions()
        if not isinstance(xs, (list, tuple)) or len(xs) not in (2, 3 + len(options.masks)):
            got = f"a list of {len(xs)}" if isinstance(xs, (list, tuple)) else f"one {type(xs).__name__}"
            raise ValueError(f"{self._who}: expected the inputs [query, value, key] followed by the masks "
                             f"{list(options.masks)}, got {got}")
        return options

    # ------------------------------------------------------------------ masks
    def _masks(self, xs, options, mask, shapes):
        """{role: booleans}: the explicit masks (the inputs after [query, value, key]) and, for the roles they
        leave empty, the masks the data inputs carry (`mask`, one entry per input, from a functional model),
        each checked against `shapes` ([query, value, key] shapes)."""
        masks = dict(zip(options.masks, xs[3:]))
        implicit = {}
        for i, (role, m) in enumerate(zip(self.implicit_roles, mask or ())):
            if i == 2 and len(xs) > 2 and xs[2] is xs[1]:
                continue             # no key given (it is the value): as in Keras, no key_mask
            if m is not None and role not in masks:
                implicit[role] = m
        if implicit:
            try:
                self.check_mask_shapes(list(shapes) + [np.shape(m) for m in implicit.values()],
                                       options._replace(masks=tuple(implicit)))
            except ValueError as e:
                raise ValueError(f"{e} (a mask carried by the input, e.g. from Embedding(mask_zero=True))") from None
            masks.update(implicit)
        return {role: as_bool(m) for role, m in masks.items()}

    def compute_mask(self, x, mask, options=None):
        """The output's mask: the mask the query carries (Keras's), or None."""
        if not isinstance(mask, (list, tuple)) or not mask or mask[0] is None:
            return None
        return as_bool(mask[0])

    # ------------------------------------------------------------------ shapes
    def build_for(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        if len(shapes) < 2:
            raise ValueError(f"{self._who}: expected inputs [query, value] or [query, value, key], got "
                             f"{len(shapes)} input(s)")
        data = shapes[:3] if len(shapes) >= 3 else [shapes[0], shapes[1], shapes[1]]
        self.check_data_shapes(data)
        if not self.built:
            # Only the feature axis is fixed: batch and sequence lengths may change from call to call.
            self.input_shape = [(None,) * (len(s) - 1) + (s[-1],) for s in data]
            self.build(self.input_shape)
            self.built = True
            return
        for role, want, got in zip(DATA_ROLES, self.input_shape, data):
            if role in self.fixed_features and (len(got) != len(want) or got[-1] != want[-1]):
                raise ValueError(f"{self._who}: {role} expected shape {want} (the layer was built for it), got "
                                 f"{got}")

    def _check_shapes(self, shapes, options):
        self.check_data_shapes([tuple(s) for s in shapes[:3]])
        self.check_mask_shapes(shapes, options)

    def check_data_shapes(self, shapes):
        """Raise ValueError naming the layer when [query, value, key] shapes cannot go together."""

    def check_mask_shapes(self, shapes, options):
        """Raise ValueError naming the layer when a mask's shape does not fit (shapes: every input's)."""

    def _check_batch(self, shapes):
        batches = {s[0] for s in shapes if s[0] is not None}
        if len(batches) > 1:
            raise ValueError(f"{self._who}: query, value and key have different batch sizes: "
                             f"{[s[0] for s in shapes]}")

    def _mask_error(self, role, got, want):
        raise ValueError(f"{self._who}: {role} must have shape {want}, got {tuple(got)}")

    # ------------------------------------------------------------------ config
    def call_config(self, inputs, call_options):
        """(argument, keyword arguments) of the call `layer(argument, **keywords)` that records a node with these
        inputs [query, value, key, *masks] and call_options again (a functional model's config; the inputs stay
        what they are, tensors or their descriptions)."""
        options = call_options["options"]
        keywords = {}
        if options.use_causal_mask:
            keywords["use_causal_mask"] = True
        if options.return_attention_scores:
            keywords["return_attention_scores"] = True
        masks = dict(zip(options.masks, inputs[3:]))
        return self._call_config(inputs[0], inputs[1], None if inputs[2] is inputs[1] else inputs[2], masks,
                                 keywords)

    def _call_config(self, query, value, key, masks, keywords):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        saved = config.pop("call_options", None)
        layer = cls(**config)
        if saved is not None:
            masks = tuple(saved.get("masks", ()))
            if any(m not in cls.mask_roles for m in masks):
                raise ValueError(f"{cls.__name__}.from_config: call_options masks must be among {cls.mask_roles}, "
                                 f"got {list(masks)}")
            layer._saved_options = CallOptions(masks, bool(saved.get("use_causal_mask", False)),
                                               bool(saved.get("return_attention_scores", False)))
        return layer
