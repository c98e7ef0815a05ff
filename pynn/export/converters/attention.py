"""MultiHeadAttention, Attention and AdditiveAttention with ONNX's standard ops (MatMul, Softmax, Where).

A layer's ONNX inputs are those of its graph step: [query, value, key, *masks], the key being the value's
tensor when the call gave none, the masks those of the call in the layer's order. The call's options (which
masks, use_causal_mask, return_attention_scores) come from its graph step (`options`, its node's
call_options), so one layer called several ways exports each call its own way. The masks the data inputs
carry (Embedding(mask_zero=True), Masking) fill the mask roles the call left empty, as pynn's functional
engine hands them over (pynn.layers.attention.base): the query's is query_mask, the value's value_mask, the
key's key_mask when the key is another tensor.

MultiHeadAttention: masked scores become -1e9 before the softmax, which gives a query step with no key to
attend to uniform weights (its output the mean of the values), as pynn does it on Keras's fused path (rank-3
inputs, dropout 0, no returned scores); elsewhere, as in Keras's Softmax(mask=...) path, the masked
probabilities are set to 0 after the softmax, so such a step gets zero weights. Attention / AdditiveAttention:
1e9 is subtracted from the masked scores, and masked query steps give zero outputs. All as pynn computes them.
"""
import numpy as np

from pynn import layers
from pynn.export.registry import register_converter
from pynn.layers.attention.base import CallOptions


def _as_bool(g, m):
    if g.dtypes.get(m) == np.bool_:
        return m
    mask = g.cast(m, np.bool_, hint="mask")      # nonzero keeps, as pynn reads a mask
    g.shapes[mask], g.dtypes[mask] = g.shapes[m], np.dtype(np.bool_)
    return mask


def _masks(g, layer, xs, options):
    """(call options, {role: boolean tensor}): the explicit mask inputs, then the masks q, v, k carry.
    options: the call's (None: those of the layer's symbolic calls, when they all agree)."""
    options = options or layer._graph_options or CallOptions()
    masks = {role: _as_bool(g, m) for role, m in zip(options.masks, xs[3:])}
    for i, (role, x) in enumerate(zip(layer.implicit_roles, xs[:3])):
        if i == 2 and xs[2] == xs[1]:
            continue                        # no key given: no key_mask, as in Keras
        if x in g.masks and role not in masks:
            masks[role] = g.masks[x]
    return options, masks


def _join(g, keep, m):
    return m if keep is None else g.op("And", [keep, m], hint="keep")


def _step_grid(g, scores):
    """(rows (T, 1), columns (1, S)): the query and key step numbers of scores (..., T, S)."""
    shape = g.op("Shape", [scores])
    rank = len(g.shapes[scores])

    def steps(axis):
        n = g.op("Gather", [shape, g.const(np.int64(rank + axis))])
        return g.op("Range", [g.const(np.int64(0)), n, g.const(np.int64(1))], hint="steps")
    return g.unsqueeze(steps(-2), [1]), g.unsqueeze(steps(-1), [0])


def _causal_keep(g, scores):
    """(T, S) booleans, True where key step j <= query step i."""
    rows, cols = _step_grid(g, scores)
    return g.op("LessOrEqual", [cols, rows], hint="causal")


def _outputs(g, options, masks, q, y, probs, explicit_query_mask=False):
    """The layer's outputs, and the mask the output carries on (the query's)."""
    carried = masks.get("query_mask") if explicit_query_mask else g.masks.get(q)
    if carried is not None:
        g.masks[y] = carried
    return [y, probs] if options.return_attention_scores else y


# ---------------------------------------------------------------------------------------------- MultiHeadAttention
def _flat_steps(g, x):
    """x (batch, *steps, features) as (batch, steps, features) (unchanged when it has one steps axis)."""
    shape = g.shapes[x]
    return x if len(shape) == 3 else g.op("Reshape", [x, g.ints([0, -1, shape[-1]])], hint="flat_steps")


def _projection(g, x, kernel, bias, rows=None):
    """x @ kernel + bias, the kernel as a matrix of `rows` rows (default its first axis)."""
    y = g.op("MatMul", [x, g.const(kernel.value.reshape(rows or kernel.shape[0], -1), hint="kernel")])
    return y if bias is None else g.op("Add", [y, g.const(bias.value.reshape(-1), hint="bias")])


def _split_heads(g, x, heads, size, perm):
    """(batch, steps, heads * size) -> (batch, steps, heads, size), transposed by perm."""
    return g.transpose(g.op("Reshape", [x, g.ints([0, 0, heads, size])]), perm, hint="heads")


def _mha_keep(g, layer, options, masks, q, v, scores):
    """Booleans broadcastable to scores (batch, heads, T, S), True where attention may look, or None."""
    keep = None
    if "query_mask" in masks:
        keep = _join(g, keep, g.op("Reshape", [masks["query_mask"], g.ints([0, 1, -1, 1])]))
    for role in ("value_mask", "key_mask"):
        if role in masks:
            keep = _join(g, keep, g.op("Reshape", [masks[role], g.ints([0, 1, 1, -1])]))
    if options.use_causal_mask:
        keep = _join(g, keep, _causal_keep(g, scores))
    if layer.sliding_window:
        rows, cols = _step_grid(g, scores)
        near = g.op("Less", [g.op("Abs", [g.op("Sub", [rows, cols])]), g.const(np.int64(layer.sliding_window))])
        keep = _join(g, keep, near)
    m = masks.get("attention_mask")
    if m is not None:
        rank = len(g.shapes[m])
        if len(g.shapes[q]) > 3:       # (batch, *query steps, *key steps) -> (batch, 1, T, S)
            shape = g.op("Shape", [m])
            full = g.op("Concat", [g.op("Slice", [shape, g.ints([0]), g.ints([1])]),
                                   g.op("Slice", [g.op("Shape", [q]), g.ints([1]), g.ints([-1])]),
                                   g.op("Slice", [g.op("Shape", [v]), g.ints([1]), g.ints([-1])])], axis=0)
            s = g.op("Slice", [g.op("Shape", [scores]), g.ints([3]), g.ints([4])])
            m = g.op("Reshape", [g.op("Expand", [m, full]), g.op("Concat", [g.ints([0, 1, -1]), s], axis=0)])
        elif rank == 3:                # (batch, T, S): the heads axis added
            m = g.unsqueeze(m, [1])
        keep = _join(g, keep, m)
    return keep


@register_converter(layers.MultiHeadAttention)
def _multi_head_attention(g, layer, xs, options=None):
    options, masks = _masks(g, layer, xs, options)
    q, v, k = xs[:3]
    n, dk, dv = layer.num_heads, layer.key_dim, layer.value_dim
    qp = _projection(g, _flat_steps(g, q), layer.query_kernel, layer.query_bias)
    qp = g.op("Mul", [qp, g.scalar(layer._scale)], hint="scaled_query")       # Keras scales the projected query
    kp = _projection(g, _flat_steps(g, k), layer.key_kernel, layer.key_bias)
    vp = _projection(g, _flat_steps(g, v), layer.value_kernel, layer.value_bias)
    scores = g.op("MatMul", [_split_heads(g, qp, n, dk, [0, 2, 1, 3]), _split_heads(g, kp, n, dk, [0, 2, 3, 1])],
                  hint="scores")                                                # (batch, heads, T, S)
    g.shapes[scores] = (None, n, None, None)
    keep = _mha_keep(g, layer, options, masks, q, v, scores)
    if keep is not None:
        scores = g.op("Where", [keep, scores, g.scalar(-1e9)], hint="masked_scores")
    probs = g.op("Softmax", [scores], hint="probs", axis=-1)
    uniform_empty_rows = len(g.shapes[q]) == 3 and layer.dropout == 0.0 and not options.return_attention_scores
    if keep is not None and not uniform_empty_rows:
        probs = g.op("Where", [keep, probs, g.scalar(0.0)], hint="probs")
    heads = g.op("MatMul", [probs, _split_heads(g, vp, n, dv, [0, 2, 1, 3])])  # (batch, heads, T, dv)
    heads = g.op("Reshape", [g.transpose(heads, [0, 2, 1, 3]), g.ints([0, 0, n * dv])], hint="heads_joined")
    y = _projection(g, heads, layer.output_kernel, layer.output_bias, rows=n * dv)
    out_features = tuple(layer.output_kernel.shape[2:])
    q_steps = g.shapes[q][1:-1]
    if len(q_steps) > 1 or len(out_features) > 1:
        steps = g.op("Slice", [g.op("Shape", [q]), g.ints([0]), g.ints([-1])])
        y = g.op("Reshape", [y, g.op("Concat", [steps, g.ints(out_features)], axis=0)], hint="output")
        if options.return_attention_scores:
            v_steps = g.op("Slice", [g.op("Shape", [v]), g.ints([1]), g.ints([-1])])
            shape = g.op("Concat", [g.op("Slice", [steps, g.ints([0]), g.ints([1])]), g.ints([n]),
                                    g.op("Slice", [steps, g.ints([1]), g.ints([2 ** 62])]), v_steps], axis=0)
            probs = g.op("Reshape", [probs, shape], hint="probs")
    return _outputs(g, options, masks, q, y, probs)


# ---------------------------------------------------------------------------------------------- Attention
def _dot_scores(g, layer, q, k):
    scores = g.op("MatMul", [q, g.transpose(k, [0, 2, 1])], hint="scores")
    if layer.use_scale:
        scores = g.op("Mul", [scores, g.const(layer.scale.value, hint="scale")], hint="scores")
    return scores


def _pairwise_tanh(g, q, k, factor=None):
    """tanh(factor * (q_i + k_j)) (batch, Tq, Tv, dim)."""
    pairs = g.op("Add", [g.unsqueeze(q, [2]), g.unsqueeze(k, [1])])
    if factor is not None:
        pairs = g.op("Mul", [pairs, g.const(factor, hint="scale")])
    return g.op("Tanh", [pairs])


def _concat_scores(g, layer, q, k):
    t = _pairwise_tanh(g, q, k, layer.scale.value if layer.use_scale else None)
    total = g.reduce("ReduceSum", t, [-1], keepdims=False)
    return g.op("Mul", [total, g.const(layer.concat_score_weight.value, hint="concat_score_weight")], hint="scores")


def _additive_scores(g, layer, q, k):
    t = _pairwise_tanh(g, q, k)
    if layer.use_scale:
        return g.op("MatMul", [t, g.const(layer.scale.value, hint="scale")], hint="scores")
    return g.reduce("ReduceSum", t, [-1], keepdims=False, hint="scores")


@register_converter(layers.Attention, layers.AdditiveAttention)
def _attention(g, layer, xs, options=None):
    options, masks = _masks(g, layer, xs, options)
    q, v, k = xs[:3]
    if isinstance(layer, layers.AdditiveAttention):
        scores = _additive_scores(g, layer, q, k)
    else:
        scores = (_dot_scores if layer.score_mode == "dot" else _concat_scores)(g, layer, q, k)
    g.shapes[scores] = (None, None, None)
    dropped = None
    if "value_mask" in masks:
        dropped = g.op("Not", [g.unsqueeze(masks["value_mask"], [1])], hint="dropped")
    if options.use_causal_mask:
        future = g.op("Not", [_causal_keep(g, scores)], hint="future")
        dropped = future if dropped is None else g.op("Or", [dropped, future], hint="dropped")
    if dropped is not None:
        scores = g.op("Where", [dropped, g.op("Sub", [scores, g.scalar(1e9)]), scores], hint="masked_scores")
    probs = g.op("Softmax", [scores], hint="probs", axis=-1)
    y = g.op("MatMul", [probs, v], hint="attention")
    if "query_mask" in masks:
        y = g.op("Where", [g.unsqueeze(masks["query_mask"], [2]), y, g.scalar(0.0)], hint="attention")
    return _outputs(g, options, masks, q, y, probs, explicit_query_mask="query_mask" in options.masks)
