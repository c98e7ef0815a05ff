"""Masks the inputs of the attention layers carry (Embedding(mask_zero=True), Masking) in functional models, as
Keras 3 uses them: MultiHeadAttention reads the query's, value's and key's masks as query_mask, value_mask and
key_mask, Attention / AdditiveAttention the query's and value's; the output carries the query's mask on, and
GlobalAveragePooling1D averages over the valid steps. Checked against Keras (same weights: predictions and
weight gradients), float64 finite differences of the masked path, and a .keras round trip."""
import numpy as np
import pytest

import pynn
from pynn import layers
from pynn.layers.attention.base import CallOptions
from gradcheck import numeric_gradient

V, E = 13, 6     # vocabulary, embedding size


def _padded(rng, b, t, lead=False):
    """Token ids (b, t): row i ends with i % t padding steps (0); `lead` reverses the last row (padding first)."""
    x = rng.integers(1, V, (b, t))
    for i in range(b):
        x[i, t - i % t:] = 0
    if lead:
        x[-1] = x[-1, ::-1]
    return x


def _perturb(model, rng, scale=0.3):
    model.set_weights([w + scale * rng.standard_normal(w.shape).astype(w.dtype) for w in model.get_weights()])


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _pynn_weight_grads(model, xs, g):
    outs, ctx = model.forward(xs, training=True)
    for w in model.weights:
        w.grad.fill(0)
    model.backward_weights(ctx, g)
    return outs, [w.grad.copy() for w in model.weights]


def _keras_weight_grads(keras, model, xs, g):
    import torch
    for v in model.trainable_weights:
        v.value.grad = None
    inputs = [torch.as_tensor(x) for x in xs] if isinstance(xs, list) else torch.as_tensor(xs)
    y = model(inputs)
    (y * torch.as_tensor(g)).sum().backward()
    return _np(y), [_np(v.value.grad) for v in model.trainable_weights]


def _compare_with_keras(keras, ours, theirs, xs, rng):
    _perturb(ours, rng)
    theirs.set_weights(ours.get_weights())
    want = _np(theirs.predict(xs, verbose=0))
    np.testing.assert_allclose(ours.predict(xs, verbose=0), want, rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(want.shape).astype("float32")
    y, grads = _pynn_weight_grads(ours, xs, g)
    ky, kgrads = _keras_weight_grads(keras, theirs, xs, g)
    np.testing.assert_allclose(y, ky, rtol=1e-5, atol=1e-6)
    assert len(grads) == len(kgrads)
    for w, got, exp in zip(ours.weights, grads, kgrads):
        np.testing.assert_allclose(got, exp, rtol=1e-4, atol=1e-6, err_msg=w.name)
    return want


# ---------------------------------------------------------------------------------------------- Keras
def test_multi_head_attention_uses_the_masks_of_its_inputs_like_keras(keras, rng):
    t = 7
    x = _padded(rng, 7, t, lead=True)

    def build(lib, layers_):
        i = lib.Input((t,), dtype="int32")
        e = layers_.Embedding(V, E, mask_zero=True)(i)
        h = layers_.MultiHeadAttention(2, 3, value_dim=4)(e, e)
        h = layers_.LayerNormalization()(h)
        return lib.Model(i, layers_.Dense(2)(layers_.GlobalAveragePooling1D()(h)))
    ours, theirs = build(pynn, layers), build(keras, keras.layers)
    want = _compare_with_keras(keras, ours, theirs, x, rng)
    # The masks matter: the padded steps change the result when nothing masks them.
    unmasked = build(pynn, layers)
    unmasked.layers[1].mask_zero = False
    unmasked.set_weights(ours.get_weights())
    assert not np.allclose(unmasked.predict(x, verbose=0)[1:], want[1:], atol=1e-3)


def test_merge_layers_combine_their_inputs_masks_like_keras(keras, rng):
    """A Transformer block's residual x + attention(x, x), concatenated with x, still masks the padded steps
    of its pooling: Add keeps where every input's mask keeps, Concatenate joins them as Keras does."""
    t = 6
    x = _padded(rng, 6, t)

    def build(lib, layers_):
        i = lib.Input((t,), dtype="int32")
        e = layers_.Embedding(V, E, mask_zero=True)(i)
        h = layers_.Add()([e, layers_.MultiHeadAttention(2, 3)(e, e)])
        h = layers_.Concatenate()([h, layers_.Multiply()([e, e])])
        return lib.Model(i, layers_.Dense(2)(layers_.GlobalAveragePooling1D()(h)))
    _compare_with_keras(keras, build(pynn, layers), build(keras, keras.layers), x, rng)


def test_cross_attention_reads_the_query_value_and_key_masks_like_keras(keras, rng):
    t, s = 5, 6
    xq, xv, xk = _padded(rng, 4, t), _padded(rng, 4, s), _padded(rng, 4, s)
    xk[:, 0] = rng.integers(1, V, 4)        # key padding unlike the value's, with a valid step in every row
    xv[:, 1] = rng.integers(1, V, 4)

    def build(lib, layers_):
        q_in, v_in, k_in = (lib.Input((n,), dtype="int32") for n in (t, s, s))
        q = layers_.Embedding(V, E, mask_zero=True)(q_in)
        v = layers_.Embedding(V, E + 1, mask_zero=True)(v_in)
        k = layers_.Embedding(V, E - 1, mask_zero=True)(k_in)
        h = layers_.MultiHeadAttention(3, 2, output_shape=4)(q, v, key=k)
        return lib.Model([q_in, v_in, k_in], layers_.GlobalAveragePooling1D()(h))
    _compare_with_keras(keras, build(pynn, layers), build(keras, keras.layers), [xq, xv, xk], rng)


@pytest.mark.parametrize("name", ["Attention", "AdditiveAttention"])
def test_attention_layers_use_the_masks_of_their_inputs_like_keras(keras, rng, name):
    t, s = 5, 6
    xq, xv = _padded(rng, 4, t), _padded(rng, 4, s)

    def build(lib, layers_):
        q_in, v_in = lib.Input((t,), dtype="int32"), lib.Input((s,), dtype="int32")
        embed = layers_.Embedding(V, E, mask_zero=True)
        h = getattr(layers_, name)(use_scale=True)([embed(q_in), embed(v_in)])
        return lib.Model([q_in, v_in], layers_.GlobalAveragePooling1D()(h))
    _compare_with_keras(keras, build(pynn, layers), build(keras, keras.layers), [xq, xv], rng)


def test_an_explicit_attention_query_mask_masks_the_output_like_keras(keras, rng):
    """Attention(mask=[query_mask, value_mask]) with masks as model inputs: the output carries the query mask,
    which GlobalAveragePooling1D then uses (with no Embedding or Masking in the model)."""
    t, s = 4, 5

    def build(lib, layers_):
        q_in, v_in = lib.Input((t, 3)), lib.Input((s, 3))
        dtype = "int32" if lib is pynn else "bool"         # pynn's inputs are numbers
        qm_in, vm_in = lib.Input((t,), dtype=dtype), lib.Input((s,), dtype=dtype)
        h = layers_.Attention(use_scale=True, name="att")([q_in, v_in], mask=[qm_in, vm_in])
        return lib.Model([q_in, v_in, qm_in, vm_in], layers_.GlobalAveragePooling1D()(h))
    xs = [rng.standard_normal((3, t, 3)).astype("float32"), rng.standard_normal((3, s, 3)).astype("float32"),
          np.array([[1, 1, 0, 0], [1, 0, 1, 1], [1, 1, 1, 1]], bool), np.array([[1, 1, 1, 0, 0]] * 3, bool)]
    ours = build(pynn, layers)
    want = _compare_with_keras(keras, ours, build(keras, keras.layers), xs, rng)
    y = ours.get_layer("att")([xs[0], xs[1]], mask=xs[2:])
    np.testing.assert_allclose(want, y.sum(1) / xs[2].sum(1, keepdims=True), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("data_format,keepdims", [("channels_last", False), ("channels_first", True)])
def test_global_average_pooling_1d_with_a_mask_matches_keras(keras, rng, data_format, keepdims):
    x = rng.standard_normal((3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 1], [1] * 5], bool)
    if data_format == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 2, 1))
    layer = layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims)
    ref = keras.layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims)
    np.testing.assert_allclose(layer(x, mask=mask), _np(ref(x, mask=mask)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(layer(x), _np(ref(x)), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------- gradients
def _check_model_gradients(model, xs, rng, input_entries=None):
    """model.backward (weights, and the first input's gradient at `input_entries`) against central differences
    of sum(g * y) in float64."""
    y, ctx = model.forward(xs, training=False)
    g = rng.standard_normal(y.shape)
    for w in model.weights:
        w.grad.fill(0)
    dx = model.backward(ctx, g.copy())

    def f():
        return float(np.sum(g * model.forward(xs, training=False)[0]))
    for w in model.trainable_weights:
        np.testing.assert_allclose(w.grad, numeric_gradient(f, w.value), rtol=1e-5, atol=1e-8, err_msg=w.name)
    if input_entries is not None:
        x = xs[0] if isinstance(xs, list) else xs
        d = dx[0] if isinstance(xs, list) else dx
        np.testing.assert_allclose(d[input_entries], numeric_gradient(f, x)[input_entries], rtol=1e-5, atol=1e-8)
        np.testing.assert_array_equal(d[~input_entries], 0)     # padded steps: Masking passes no gradient back


def _assert_padding_is_ignored(model, xs, valid, rtol=1e-9, atol=1e-12):
    """Each row's prediction equals that of the row cut to its valid steps (valid: per input, booleans (batch,
    steps), True on one contiguous run per row): the padding, masked, plays no part."""
    xs, valid = (list(xs), list(valid)) if isinstance(xs, list) else ([xs], [valid])
    full = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    for i in range(len(xs[0])):
        cut = [x[i:i + 1][:, v[i]] for x, v in zip(xs, valid)]
        np.testing.assert_allclose(model.predict(cut if len(cut) > 1 else cut[0], verbose=0)[0], full[i],
                                   rtol=rtol, atol=atol, err_msg=f"row {i}")


def test_masked_multi_head_attention_model_gradients_float64(rng):
    t = 5
    i = pynn.Input((None,), dtype="int32")
    e = layers.Embedding(V, 4, mask_zero=True, dtype="float64")(i)
    h = layers.MultiHeadAttention(2, 2, dtype="float64", bias_initializer="random_normal")(e, e)
    h = layers.LayerNormalization(dtype="float64")(h)
    model = pynn.Model(i, layers.Dense(2, dtype="float64")(layers.GlobalAveragePooling1D(dtype="float64")(h)))
    _perturb(model, rng)
    x = _padded(rng, 4, t, lead=True)
    _check_model_gradients(model, x, rng)
    _assert_padding_is_ignored(model, x, x != 0)


@pytest.mark.parametrize("causal", [False, True])
def test_masking_into_self_attention_gradients_float64(rng, causal):
    t, f = 5, 3
    i = pynn.Input((None, f), dtype="float64")
    h = layers.Masking(dtype="float64")(i)
    h = layers.MultiHeadAttention(2, 2, dtype="float64", bias_initializer="random_normal")(h, h, use_causal_mask=causal)
    model = pynn.Model(i, layers.GlobalAveragePooling1D(dtype="float64")(h))
    x = rng.standard_normal((3, t, f))
    x[0, 3:] = 0
    x[1, :2] = 0
    _check_model_gradients(model, x, rng, input_entries=np.broadcast_to((x != 0).any(-1, keepdims=True), x.shape))
    _assert_padding_is_ignored(model, x, (x != 0).any(-1))


@pytest.mark.parametrize("name", ["Attention", "AdditiveAttention"])
def test_masked_attention_layers_gradients_float64(rng, name):
    t, s, f = 4, 5, 3
    q_in, v_in = pynn.Input((None, f), dtype="float64"), pynn.Input((None, f), dtype="float64")
    q, v = layers.Masking(dtype="float64")(q_in), layers.Masking(dtype="float64")(v_in)
    model = pynn.Model([q_in, v_in], layers.GlobalAveragePooling1D(dtype="float64")(
        getattr(layers, name)(use_scale=True, dtype="float64")([q, v])))
    _perturb(model, rng)
    xq, xv = rng.standard_normal((2, t, f)), rng.standard_normal((2, s, f))
    xq[0, 2:] = 0
    xv[1, 3:] = 0
    _check_model_gradients(model, [xq, xv], rng, input_entries=np.broadcast_to((xq != 0).any(-1, keepdims=True),
                                                                               xq.shape))
    _assert_padding_is_ignored(model, [xq, xv], [(xq != 0).any(-1), (xv != 0).any(-1)])


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_average_pooling_1d_mask_gradients_float64(rng, data_format):
    layer = layers.GlobalAveragePooling1D(data_format=data_format, dtype="float64")
    x = rng.standard_normal((3, 4, 5) if data_format == "channels_first" else (3, 5, 4))
    mask = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1] * 5], bool)
    y, ctx = layer.forward(x, mask=mask)
    np.testing.assert_array_equal(y[1], 0)               # no valid step: zeros (Keras: 0 / 0)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(ctx, g)
    np.testing.assert_allclose(dx, numeric_gradient(lambda: float(np.sum(g * layer.forward(x, mask=mask)[0])), x),
                               rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match=r"global_average_pooling1d.*mask of shape \(3, 5\).*got \(3, 4\)"):
        layer(x, mask=mask[:, :4])


# ---------------------------------------------------------------------------------------------- behaviour
def test_implicit_masks_equal_the_explicit_ones_and_explicit_masks_win(rng):
    t, s = 4, 6
    q_in, v_in = pynn.Input((t,), dtype="int32"), pynn.Input((s,), dtype="int32")
    vm_in = pynn.Input((s,), dtype="int32")
    embed_q, embed_v = layers.Embedding(V, E, mask_zero=True), layers.Embedding(V, E, mask_zero=True)
    q, v = embed_q(q_in), embed_v(v_in)
    mha = layers.MultiHeadAttention(2, 3, name="mha")
    y, scores = mha(q, v, value_mask=vm_in, return_attention_scores=True)
    model = pynn.Model([q_in, v_in, vm_in], [y, scores])
    xq, xv = _padded(rng, 3, t), _padded(rng, 3, s)
    vm = rng.random((3, s)) > 0.3
    vm[:, 0] = True
    got_y, got_s = model.predict([xq, xv, vm], verbose=0)
    eq, ev = embed_q(xq), embed_v(xv)
    want_y, want_s = mha(eq, ev, query_mask=xq != 0, value_mask=vm, return_attention_scores=True)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got_s, want_s, rtol=1e-6, atol=1e-7)
    assert not np.allclose(want_s, mha(eq, ev, query_mask=xq != 0, value_mask=xv != 0,
                                       return_attention_scores=True)[1])


def test_output_mask_is_the_query_mask_and_a_bad_one_names_the_layer(rng):
    mha = layers.MultiHeadAttention(2, 2, name="mha")
    q, v = rng.standard_normal((2, 3, 4)).astype("float32"), rng.standard_normal((2, 5, 4)).astype("float32")
    qm, vm = np.array([[1, 1, 0], [1, 0, 0]], bool), np.array([[1, 1, 1, 0, 0], [1] * 5], bool)
    mha(q, v)
    assert mha.compute_mask([q, v, v], [qm, vm, None]) is not None
    np.testing.assert_array_equal(mha.compute_mask([q, v, v], [qm, vm, None]), qm)
    assert mha.compute_mask([q, v, v], [None, vm, vm]) is None
    y, ctx = mha.forward([q, v, v], mask=[qm, vm, vm])
    np.testing.assert_allclose(y, mha(q, v, query_mask=qm, value_mask=vm), rtol=1e-6)
    with pytest.raises(ValueError, match=r"'mha'.*value_mask must have shape \(2, 5\), got \(2, 4\).*carried by"):
        mha.forward([q, v, v], mask=[None, vm[:, :4], None])
    with pytest.raises(ValueError, match=r"'mha'"):
        mha.forward([q, v, v, vm], options=CallOptions(("value_mask",)), mask=[qm[:, :2], None, None])


def test_masked_model_round_trips_through_keras_files_and_config(rng, tmp_path):
    t = 6
    i = pynn.Input((None,), dtype="int32")
    e = layers.Embedding(V, E, mask_zero=True)(i)
    h = layers.MultiHeadAttention(2, 3, use_bias=False)(e, e, use_causal_mask=True)
    model = pynn.Model(i, layers.Dense(1)(layers.GlobalAveragePooling1D()(h)))
    _perturb(model, rng)
    x = _padded(rng, 5, t, lead=True)
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "masked.keras")
    loaded = pynn.models.load_model(tmp_path / "masked.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-6)
    clone = pynn.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), want, rtol=1e-6)
    _assert_padding_is_ignored(loaded, x, x != 0, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- fully masked rows
# A query row whose keys are all masked (a padded query step, or an attention_mask row of zeros). Keras 3 (torch)
# gives two answers, by path. MultiHeadAttention with dropout=0, no returned scores and rank-3 inputs runs
# ops.dot_product_attention, which adds -0.7 * 3.39e38 at masked scores: a row masked everywhere is shifted by one
# constant that absorbs the scores, so its weights are uniform and its output is the mean of the values. Every
# other path (dropout > 0, in training or not; return_attention_scores=True) runs Softmax(mask=...), which zeroes
# the masked weights afterwards: the row's weights and attention output are zeros (the output is the output
# bias). pynn follows the same split. The uniform row does not depend on query or key: its gradient goes to the
# values only (1 / S of the row's gradient each); Keras's torch autograd also sends softmax's backward at the
# uniform weights to query and key, which finite differences do not see, so those two are checked against
# float64 finite differences instead (and against Keras where the row's gradient is zero).
T_Q, T_K, DIM = 4, 5, 6


def _fully_masked_inputs(rng, dtype="float32"):
    q = rng.standard_normal((3, T_Q, DIM)).astype(dtype)
    v = rng.standard_normal((3, T_K, DIM)).astype(dtype)
    attention_mask = rng.random((3, T_Q, T_K)) > 0.3
    attention_mask[:, :, 2] = True
    attention_mask[0, 1] = False                      # an attention_mask row of zeros
    attention_mask[1, :, 3:] = False
    value_mask = np.ones((3, T_K), bool)
    value_mask[2, 2:] = False
    attention_mask[2, 3, :2] = False                  # with the value mask: nothing left for query step 3
    empty = ~(attention_mask & value_mask[:, None, :]).any(-1)
    return q, v, value_mask, attention_mask, empty


def _mha_pair(keras, rng, dropout=0.0):
    ours = layers.MultiHeadAttention(2, 3, value_dim=2, dropout=dropout, bias_initializer="random_normal", seed=1)
    theirs = keras.layers.MultiHeadAttention(2, 3, value_dim=2, dropout=dropout, seed=1)
    x = np.zeros((1, T_Q, DIM), "float32")
    ours(x, x)
    theirs(x, x)
    ours.set_weights([w + 0.3 * rng.standard_normal(w.shape).astype("float32") for w in ours.get_weights()])
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _mha_forward(mha, q, v, value_mask, attention_mask, training=False, scores=False):
    options = CallOptions(("value_mask", "attention_mask"), False, scores)
    return mha.forward([q, v, v, value_mask, attention_mask], training, options=options)


def _keras_mha(keras, mha, q, v, value_mask, attention_mask, g=None, training=False, scores=False):
    import torch
    for w in mha.trainable_weights:
        w.value.grad = None
    tq, tv = torch.tensor(q, requires_grad=True), torch.tensor(v, requires_grad=True)
    out = mha(tq, tv, value_mask=torch.as_tensor(value_mask), attention_mask=torch.as_tensor(attention_mask),
              return_attention_scores=scores, training=training)
    y = out[0] if scores else out
    if g is None:
        return [_np(o) for o in out] if scores else _np(out)
    (y * torch.as_tensor(g)).sum().backward()
    return _np(y), [_np(w.value.grad) for w in mha.trainable_weights], _np(tq.grad), _np(tv.grad)


def test_multi_head_attention_fully_masked_rows_are_uniform_on_keras_fused_path(keras, rng):
    ours, theirs = _mha_pair(keras, rng)
    q, v, vm, am, empty = _fully_masked_inputs(rng)
    want = _keras_mha(keras, theirs, q, v, vm, am)
    vp = (v @ ours.value_kernel.value.reshape(DIM, -1) + ours.value_bias.value.reshape(-1)).reshape(3, T_K, 2, 2)
    mean = np.einsum("bshd,hdo->bo", vp.mean(1, keepdims=True), ours.output_kernel.value)[:, None]
    np.testing.assert_allclose(want[empty], np.broadcast_to(mean + ours.output_bias.value, want.shape)[empty],
                               rtol=1e-5, atol=1e-6)                    # Keras: the mean of the values
    y, ctx = _mha_forward(ours, q, v, vm, am)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_mha_forward(ours, q, v, vm, am, training=True)[0], want, rtol=1e-5, atol=1e-6)
    # Gradients: the value and output projections' everywhere; query's and key's where the empty rows get none.
    for g_empty in (1.0, 0.0):
        g = rng.standard_normal(y.shape).astype("float32") * np.where(empty[..., None], g_empty, 1.0)
        for w in ours.weights:
            w.grad.fill(0)
        y, ctx = _mha_forward(ours, q, v, vm, am, training=True)
        dq, dv, dk = ours.backward(ctx, g.copy())[:3]
        dv = dv + dk                                                     # v is the value and the key
        ky, kgrads, kdq, kdv = _keras_mha(keras, theirs, q, v, vm, am, g)
        for w, exp in zip(ours.weights, kgrads):
            if g_empty == 0.0 or w.name.startswith(("value", "attention_output")):
                np.testing.assert_allclose(w.grad, exp, rtol=1e-4, atol=1e-5, err_msg=w.name)
        if g_empty == 0.0:
            np.testing.assert_allclose(dq, kdq, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(dv, kdv, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", ["scores", "dropout_inference", "dropout_training"])
def test_multi_head_attention_fully_masked_rows_are_zero_on_keras_softmax_path(keras, rng, case):
    """Keras's Softmax(mask=...) path: return_attention_scores, or dropout > 0 (pynn's unfused path in training)."""
    dropout = 0.0 if case == "scores" else 0.5
    ours, theirs = _mha_pair(keras, rng, dropout=dropout)
    q, v, vm, am, empty = _fully_masked_inputs(rng)
    training, scores = case == "dropout_training", case == "scores"
    want = _keras_mha(keras, theirs, q, v, vm, am, training=training, scores=scores)
    got = _mha_forward(ours, q, v, vm, am, training=training, scores=scores)[0]
    if scores:
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
        assert np.all(got[1].transpose(0, 2, 1, 3)[empty] == 0)
        got, want = got[0], want[0]
    bias = np.broadcast_to(ours.output_bias.value, got.shape)
    np.testing.assert_allclose(want[empty], bias[empty], rtol=1e-6)     # Keras: zero weights, the output bias
    np.testing.assert_allclose(got[empty], bias[empty], rtol=1e-6)
    if not training:                                                     # (the dropout draws differ from Keras's)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_multi_head_attention_fully_masked_rows_gradients_float64(rng):
    mha = layers.MultiHeadAttention(2, 3, value_dim=2, dtype="float64", bias_initializer="random_normal")
    q, v, vm, am, empty = _fully_masked_inputs(rng, "float64")
    assert empty.sum() == 2
    mha(q, v)
    y, ctx = _mha_forward(mha, q, v, vm, am)
    g = rng.standard_normal(y.shape)
    for w in mha.weights:
        w.grad.fill(0)
    dq, dv, dk = mha.backward(ctx, g.copy())[:3]

    def f():
        return float(np.sum(g * _mha_forward(mha, q, v, vm, am)[0]))
    for w in mha.trainable_weights:
        np.testing.assert_allclose(w.grad, numeric_gradient(f, w.value), rtol=1e-6, atol=1e-9, err_msg=w.name)
    np.testing.assert_allclose(dq, numeric_gradient(f, q), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dv + dk, numeric_gradient(f, v), rtol=1e-6, atol=1e-9)
    assert np.all(dq[empty] == 0)                                        # the uniform rows ignore their query


def test_fully_masked_rows_in_a_functional_model_with_padding_match_keras(keras, rng):
    """Padded query steps of self-attention after Embedding(mask_zero=True) are fully masked rows: in Keras
    (dropout 0) they hold the mean of the values, which an unmasked Flatten passes on."""
    t = 5
    x = _padded(rng, 4, t)

    def build(lib, layers_):
        i = lib.Input((t,), dtype="int32")
        e = layers_.Embedding(V, E, mask_zero=True)(i)
        h = layers_.MultiHeadAttention(2, 3)(e, e)
        return lib.Model(i, layers_.Dense(2)(layers_.Flatten()(h)))
    ours, theirs = build(pynn, layers), build(keras, keras.layers)
    _perturb(ours, rng)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), _np(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["Attention", "AdditiveAttention"])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_layers_fully_masked_rows_match_keras(keras, rng, name, causal):
    """Attention / AdditiveAttention subtract 1e9 at masked scores, as Keras does: a row masked everywhere is
    shifted by one constant, so its weights are the softmax of the shifted scores (uniform in float32 for
    moderate scores); the output is zero only at masked query steps. Outputs and all gradients as Keras's."""
    import torch
    q = rng.standard_normal((3, T_Q, DIM)).astype("float32")
    v = rng.standard_normal((3, T_K, DIM)).astype("float32")
    qm, vm = np.ones((3, T_Q), bool), np.ones((3, T_K), bool)
    vm[0] = False                                     # batch row 0: every key masked
    vm[1, 0] = False                                  # with causal: query step 0 of batch row 1 sees nothing
    qm[2, 1] = False
    ours, theirs = getattr(layers, name)(use_scale=True), getattr(keras.layers, name)(use_scale=True)
    ours([q, v])
    theirs([q, v])
    ours.set_weights([w + 0.3 * rng.standard_normal(w.shape).astype("float32") for w in ours.get_weights()])
    theirs.set_weights(ours.get_weights())
    y, w_ours = ours([q, v], mask=[qm, vm], use_causal_mask=causal, return_attention_scores=True)
    ky, kw = theirs([q, v], mask=[qm, vm], use_causal_mask=causal, return_attention_scores=True)
    np.testing.assert_allclose(w_ours, _np(kw), rtol=1e-5, atol=1e-6)
    if not causal:
        np.testing.assert_allclose(w_ours[0], 1 / T_K, rtol=1e-5)     # float32 absorbs the scores into -1e9
    np.testing.assert_allclose(y, _np(ky), rtol=1e-5, atol=1e-6)
    xs = [q, v, v, qm, vm]
    options = CallOptions(("query_mask", "value_mask"), causal, False)
    y, ctx = ours.forward(xs, options=options)
    g = rng.standard_normal(y.shape).astype("float32")
    for w in ours.weights:
        w.grad.fill(0)
    dq, dv, dk = ours.backward(ctx, g.copy())[:3]
    tq, tv = torch.tensor(q, requires_grad=True), torch.tensor(v, requires_grad=True)
    out = theirs([tq, tv], mask=[torch.as_tensor(qm), torch.as_tensor(vm)], use_causal_mask=causal)
    (out * torch.as_tensor(g)).sum().backward()
    np.testing.assert_allclose(dq, _np(tq.grad), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dv + dk, _np(tv.grad), rtol=1e-4, atol=1e-5)
    for w, kv in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(w.grad, _np(kv.value.grad), rtol=1e-4, atol=1e-5, err_msg=w.name)


def test_dot_product_attention_op_fully_masked_rows_match_keras(keras, rng):
    from pynn import ops
    q, k, v = (rng.standard_normal((2, 3, 2, 4)).astype("float32") for _ in range(3))
    mask = rng.random((2, 2, 3, 3)) > 0.3
    mask[..., 0] = True
    mask[0, 1, 2] = False
    np.testing.assert_allclose(ops.dot_product_attention(q, k, v, mask=mask),
                               _np(keras.ops.dot_product_attention(q, k, v, mask=mask)), rtol=1e-5, atol=1e-6)
