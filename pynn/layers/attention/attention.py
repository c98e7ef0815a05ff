"""Attention: dot-product (Luong-style) attention over [query, value(, key)], Keras 3's layer.

    scores = query @ key^T (times `scale` with use_scale)                 score_mode="dot"
    scores = w * sum(tanh(scale * (query_i + key_j)), over features)      score_mode="concat"
    weights = softmax(scores, masked; over the key steps), dropped out in training
    output = weights @ value, zero at the masked query steps

query (B, Tq, dim), key (B, Tv, dim), value (B, Tv, value_dim) -> output (B, Tq, value_dim), weights
(B, Tq, Tv). The softmax runs in place on the score buffer, and the probabilities are the only (Tq x Tv)
array kept for backward (the dropout mask is drawn again; the concat scores' (Tq x Tv x dim) tanh is
recomputed, a batch row at a time).
"""
import numpy as np

from pynn import kernels
from pynn.layers.attention.base import (
    AttentionLayer, CallOptions, as_bool, batched_gemm, causal_keep, dims_match, softmax_in_place,
)
from pynn.layers.random_stream import SeededStream, check_seed

_CHUNK = 1 << 20    # elements of a (rows, Tv, dim) block of the concat / additive scores, computed at once


def row_blocks(b, tq, tv, dim):
    """(batch row, query-step slice) blocks of at most about _CHUNK elements of (Tq, Tv, dim)."""
    rows = max(1, _CHUNK // max(1, tv * dim))
    for i in range(b):
        for start in range(0, tq, rows):
            yield i, slice(start, min(tq, start + rows))


class Attention(SeededStream, AttentionLayer):
    """Dot-product attention layer (Luong-style), Keras 3's arguments and results.

    Args:
        use_scale: learn a scalar `scale` (initially 1) multiplying the scores.
        score_mode: "dot" (query . key) or "concat" (sum of tanh(query + key), times a learned scalar).
        dropout: the rate at which attention weights are dropped in training.
        seed: the dropout's seed.

    Call: `layer([query, value])` or `layer([query, value, key], mask=[query_mask, value_mask],
    return_attention_scores=False, training=None, use_causal_mask=False)`. Masks are (B, Tq) and (B, Tv),
    True (or nonzero) where valid: masked values get no weight, masked query steps give zeros. Returns the
    output, or (output, weights) where weights are those after dropout, as in Keras.

    In a functional model, masks carried by query and value (from Embedding(mask_zero=True) or Masking) stand in
    for the query_mask and value_mask not given, as in Keras (which fills them only when no `mask` list is
    given), and the output carries the query mask on.

    Weights: scale () with use_scale, concat_score_weight () with score_mode="concat".
    """

    mask_roles = ("query_mask", "value_mask")
    implicit_roles = ("query_mask", "value_mask")
    fixed_features = ()              # no weight depends on a feature size

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{self._who}: score_mode must be one of {{'dot', 'concat'}}, got {score_mode!r}")
        self.score_mode = score_mode
        try:
            self.dropout = float(dropout)
        except (TypeError, ValueError):
            self.dropout = -1.0
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{self._who}: dropout must be a number in [0, 1), got {dropout!r}")
        self.seed = check_seed(seed, self.name)
        self._init_stream()
        self.scale = self.concat_score_weight = None

    def __call__(self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self._who} must be called on a list of inputs, namely [query, value] or [query, "
                             f"value, key]; got a {type(inputs).__name__}")
        if mask is not None:
            if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
                raise ValueError(f"{self._who}: mask must be a list [query_mask, value_mask], got {mask!r:.80}")
            if len(inputs) not in (2, 3):
                raise ValueError(f"{self._who}: expected inputs [query, value] or [query, value, key], got a list "
                                 f"of {len(inputs)}")
            query, value, key = inputs[0], inputs[1], (inputs[2] if len(inputs) == 3 else None)
            masks = {"query_mask": mask[0], "value_mask": mask[1]}
        else:
            query, value, key, masks, recorded = self._replayed(inputs)
            return_attention_scores = return_attention_scores or recorded.return_attention_scores
            use_causal_mask = use_causal_mask or recorded.use_causal_mask
        return self._call(query, value, key, masks, use_causal_mask, return_attention_scores, training)

    # ------------------------------------------------------------------ shapes and weights
    def check_data_shapes(self, shapes):
        q, v, k = (tuple(s) for s in shapes)
        if len(q) != 3 or len(v) != 3 or len(k) != 3:
            raise ValueError(f"{self._who}: query, value and key must be 3-D (batch, steps, features); got shapes "
                             f"{q}, {v}, {k}")
        if q[-1] is not None and k[-1] is not None and q[-1] != k[-1]:
            raise ValueError(f"{self._who}: the query's last dimension ({q[-1]}) must equal the key's ({k[-1]}) "
                             f"(the key is the value when not given); got query {q} and key {k}")
        if not dims_match(v[1:2], k[1:2]):
            raise ValueError(f"{self._who}: value and key must have the same number of steps; got value {v} and "
                             f"key {k}")
        self._check_batch(shapes)

    def check_mask_shapes(self, shapes, options):
        q, v = shapes[0], shapes[1]
        batch = next((s[0] for s in shapes[:3] if s[0] is not None), None)
        for role, shape in zip(options.masks, shapes[3:]):
            want = (batch, q[1]) if role == "query_mask" else (batch, v[1])
            if not dims_match(tuple(shape), want):
                self._mask_error(role, shape, want)

    def build(self, input_shape):
        if self.use_scale:
            self.scale = self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight("concat_score_weight", (), "ones")

    def compute_output_shape(self, input_shape, options=None):
        q, v = tuple(input_shape[0]), tuple(input_shape[1])
        y = q[:-1] + (v[-1],)
        if (options or self._graph_options or CallOptions()).return_attention_scores:
            return [y, q[:-1] + (v[1],)]
        return y

    # ------------------------------------------------------------------ masks
    @property
    def produces_mask(self):
        """Whether a functional model must track this layer's output mask: an explicit query_mask makes one, as
        in Keras (the output then carries that mask); true when any of its calls gives one."""
        options = [n.call_options["options"] for n in self._inbound_nodes if n.call_options]
        return any("query_mask" in o.masks for o in options + [self._saved_options or CallOptions()])

    def compute_mask(self, x, mask, options=None):
        """The output's mask: the query mask, the explicit one when given, else the one the query carries."""
        options = options or self._graph_options or CallOptions()
        if "query_mask" in options.masks and isinstance(x, (list, tuple)):
            return as_bool(x[3 + options.masks.index("query_mask")])
        return super().compute_mask(x, mask)

    # ------------------------------------------------------------------ scores
    def _concat_factor(self):
        return self.scale.value if self.use_scale else 1.0

    def _scores(self, q, k):
        if self.score_mode == "dot":
            scores = batched_gemm(q, k, np.empty((q.shape[0], q.shape[1], k.shape[1]), q.dtype), trans_b=True)
            if self.use_scale:
                scores *= self.scale.value
            return scores
        c, w = self._concat_factor(), self.concat_score_weight.value
        scores = np.empty((q.shape[0], q.shape[1], k.shape[1]), q.dtype)
        for i, rows in row_blocks(q.shape[0], q.shape[1], k.shape[1], q.shape[2]):
            t = np.tanh(c * (q[i, rows, None, :] + k[i, None, :, :]))
            np.sum(t, axis=-1, out=scores[i, rows])
        scores *= w
        return scores

    def _scores_backward(self, q, k, d_scores):
        """(dq, dk) from the gradient of the scores; the weights' gradients are added."""
        if self.score_mode == "dot":
            s = self.scale.value if self.use_scale else 1.0
            g = batched_gemm(d_scores, k, np.empty_like(q))                      # (B, Tq, dim)
            if self.use_scale and self.scale.requires_grad:
                self.scale.grad += np.vdot(g, q)
            dk = batched_gemm(d_scores, q, np.empty_like(k), trans_a=True)
            if self.use_scale:
                g *= s
                dk *= s
            return g, dk
        c, w = self._concat_factor(), self.concat_score_weight.value
        dq, dk = np.zeros_like(q), np.zeros_like(k)
        dw = dc = 0.0
        for i, rows in row_blocks(q.shape[0], q.shape[1], k.shape[1], q.shape[2]):
            pre = q[i, rows, None, :] + k[i, None, :, :]
            t = np.tanh(c * pre)
            g = d_scores[i, rows]
            dw += np.vdot(g, t.sum(axis=-1))
            t *= t
            np.subtract(1, t, out=t)
            t *= (w * g)[..., None]                                              # d(score) / d(c * pre)
            dq[i, rows] = c * t.sum(axis=1)
            dk[i] += c * t.sum(axis=0)
            dc += np.vdot(t, pre)
        if self.concat_score_weight.requires_grad:
            self.concat_score_weight.grad += dw
        if self.use_scale and self.scale.requires_grad:
            self.scale.grad += dc
        return dq, dk

    # ------------------------------------------------------------------ computing
    def forward(self, xs, training=False, options=None, mask=None):
        options = self._options(xs, options)
        q, v = (np.ascontiguousarray(x, dtype=self.dtype) for x in xs[:2])
        k = np.ascontiguousarray(xs[2], dtype=self.dtype) if len(xs) > 2 else v
        shapes = [q.shape, v.shape, k.shape]
        self._check_shapes(shapes + [np.shape(m) for m in xs[3:]], options)
        masks = self._masks(xs, options, mask, shapes)
        scores = self._scores(q, k)
        dropped = None
        if "value_mask" in masks:
            dropped = ~masks["value_mask"][:, None, :]
        if options.use_causal_mask:
            future = ~causal_keep(q.shape[1], k.shape[1])
            dropped = future if dropped is None else dropped | future
        probs = softmax_in_place(scores, dropped, subtract=1e9)
        stream = None
        weights = probs
        if training and self.dropout > 0.0:
            stream = self._key(probs.size)
            weights = kernels.dropout(probs, self.dropout, *stream)[0]
        y = batched_gemm(weights, v, np.empty((q.shape[0], q.shape[1], v.shape[2]), q.dtype))
        query_mask = masks.get("query_mask")
        if query_mask is not None:
            np.copyto(y, y.dtype.type(0), where=~query_mask[:, :, None])
        ctx = (q, v, k, probs, stream, query_mask, len(xs))
        if options.return_attention_scores:
            return [y, weights], ctx
        return y, ctx

    def backward(self, ctx, dy):
        q, v, k, probs, stream, query_mask, n_inputs = ctx
        d_weights_out = None
        if isinstance(dy, (list, tuple)):
            dy, d_weights_out = dy[0], (dy[1] if len(dy) > 1 else None)
        if query_mask is not None:
            dy = np.where(query_mask[:, :, None], dy, dy.dtype.type(0))
        dy = np.ascontiguousarray(dy, dtype=q.dtype)
        d_weights = batched_gemm(dy, v, np.empty_like(probs), trans_b=True)      # (B, Tq, Tv)
        if d_weights_out is not None:
            d_weights += d_weights_out
        if stream is not None:
            weights, drop_mask = kernels.dropout(probs, self.dropout, *stream)
            dv = batched_gemm(weights, dy, np.empty_like(v), trans_a=True)
            del weights
            kernels.dropout_backward(d_weights, drop_mask, self.dropout, out=d_weights)
        else:
            dv = batched_gemm(probs, dy, np.empty_like(v), trans_a=True)
        d_scores = kernels.softmax_backward(probs, d_weights, out=d_weights)
        dq, dk = self._scores_backward(q, k, d_scores)
        if n_inputs == 2:
            return [dq, dv + dk]
        return [dq, dv, dk] + [None] * (n_inputs - 3)

    def _call_config(self, query, value, key, masks, keywords):
        if masks:
            keywords["mask"] = [masks.get("query_mask"), masks.get("value_mask")]
        return [query, value] + ([] if key is None else [key]), keywords

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}
