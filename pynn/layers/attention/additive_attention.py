"""AdditiveAttention: Bahdanau-style attention, Keras 3's layer (Attention with additive scores).

    scores[b, i, j] = sum over features d of scale[d] * tanh(query[b, i, d] + key[b, j, d])

with `scale` a learned vector (dim,) when use_scale (else 1). The (Tq, Tv, dim) tanh is computed a block of
rows at a time, in forward and again in backward, so that only the probabilities are kept.
"""
import numpy as np

from pynn.layers.attention.attention import Attention, row_blocks


class AdditiveAttention(Attention):
    """Additive attention layer (Bahdanau-style), Keras 3's arguments and results.

    Args:
        use_scale: learn a vector `scale` (dim,) (glorot_uniform) weighting the tanh terms.
        dropout: the rate at which attention weights are dropped in training.
        seed: the dropout's seed.

    Call and results as Attention's: `layer([query, value(, key)], mask=[query_mask, value_mask],
    return_attention_scores=False, training=None, use_causal_mask=False)`.
    """

    fixed_features = ("query", "key")    # the size of `scale`

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape):
        if self.use_scale:
            self.scale = self.add_weight("scale", (input_shape[0][-1],), "glorot_uniform")

    def _scores(self, q, k):
        scale = self.scale.value if self.use_scale else None
        scores = np.empty((q.shape[0], q.shape[1], k.shape[1]), q.dtype)
        for i, rows in row_blocks(q.shape[0], q.shape[1], k.shape[1], q.shape[2]):
            t = np.tanh(q[i, rows, None, :] + k[i, None, :, :])
            if scale is None:
                np.sum(t, axis=-1, out=scores[i, rows])
            else:
                np.matmul(t, scale, out=scores[i, rows])
        return scores

    def _scores_backward(self, q, k, d_scores):
        scale = self.scale.value if self.use_scale else None
        dq, dk = np.zeros_like(q), np.zeros_like(k)
        d_scale = np.zeros(q.shape[-1], q.dtype)
        for i, rows in row_blocks(q.shape[0], q.shape[1], k.shape[1], q.shape[2]):
            t = np.tanh(q[i, rows, None, :] + k[i, None, :, :])
            g = d_scores[i, rows]
            if scale is not None:
                d_scale += np.tensordot(g, t, axes=([0, 1], [0, 1]))
            t *= t
            np.subtract(1, t, out=t)
            t *= g[..., None]
            if scale is not None:
                t *= scale
            dq[i, rows] = t.sum(axis=1)
            dk[i] += t.sum(axis=0)
        if scale is not None and self.scale.requires_grad:
            self.scale.grad += d_scale
        return dq, dk

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
