"""MultiHeadAttention, Attention and AdditiveAttention: float64 finite-difference gradients for every input and
weight (masks, causal masks, dropout, returned scores), parity with torch.nn.MultiheadAttention (converted
weights, forward and gradients) and with Keras 3 (same weights through set_weights), functional models (several
symbolic inputs, masks as inputs, fit, config and .keras round trips), the memory kept for backward, and errors."""
import os

import numpy as np
import pytest

import pynn
from pynn import layers
from pynn.layers.attention.base import CallOptions
from gradcheck import numeric_gradient


# ---------------------------------------------------------------------------------------------- helpers
def _outputs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_gradients(layer, xs, options=None, training=False, rtol=1e-6, atol=1e-8, seed=0):
    """layer.backward against central differences of sum(g * y) (every output) for the float inputs (the first
    three; masks come after) and every trainable weight. With training and dropout, each forward replays the
    same stream position, so that every evaluation draws the same mask."""
    rng = np.random.default_rng(seed)
    layer.build_for([np.shape(x) for x in xs])
    offset = getattr(layer, "_offset", 0)

    def run():
        if training:
            layer._offset = offset
        return _outputs(layer.forward(xs, training, options=options)[0])
    outs = run()
    gs = [rng.standard_normal(o.shape) for o in outs]
    for w in layer.weights:
        w.grad.fill(0)
    if training:
        layer._offset = offset
    y, ctx = layer.forward(xs, training, options=options)
    dxs = layer.backward(ctx, [g.copy() for g in gs] if isinstance(y, list) else gs[0].copy())

    def f():
        return float(sum(np.sum(g * o) for g, o in zip(gs, run())))
    n_data = min(3, len(xs))
    assert len(dxs) == len(xs) and all(d is None for d in dxs[n_data:])
    for i in range(n_data):
        np.testing.assert_allclose(dxs[i], numeric_gradient(f, xs[i]), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    for w in layer.trainable_weights:
        np.testing.assert_allclose(w.grad, numeric_gradient(f, w.value), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {w.name}")


def randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.standard_normal(w.shape) * scale for w in layer.get_weights()])


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("needs Keras with KERAS_BACKEND=torch")
    return keras


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


# ---------------------------------------------------------------------------------------------- gradients
MHA_CASES = [
    # (constructor kwargs, query, value, key (None: value), masks {role: shape or "special"}, options kwargs)
    (dict(num_heads=2, key_dim=3), (2, 4, 5), (2, 4, 5), None, {}, {}),
    (dict(num_heads=3, key_dim=2, value_dim=4, output_shape=(2, 3)), (2, 3, 4), (2, 5, 3), (2, 5, 6), {}, {}),
    (dict(num_heads=2, key_dim=3, use_bias=False, output_shape=5), (1, 4, 3), (1, 6, 2), (1, 6, 4), {}, {}),
    (dict(num_heads=2, key_dim=2), (2, 5, 3), (2, 6, 4), (2, 6, 2),
     {"query_mask": (2, 5), "value_mask": (2, 6), "key_mask": (2, 6), "attention_mask": (2, 5, 6)},
     dict(return_attention_scores=True)),
    (dict(num_heads=2, key_dim=3), (2, 5, 4), (2, 5, 4), None, {"attention_mask": (2, 5, 5)},
     dict(use_causal_mask=True)),
    (dict(num_heads=2, key_dim=2, sliding_window=2), (2, 5, 3), (2, 5, 3), None, {}, dict(use_causal_mask=True)),
    (dict(num_heads=2, key_dim=2), (2, 2, 3, 4), (2, 3, 2, 3), None, {"value_mask": (2, 3, 2)}, {}),
]


def _mask_arrays(specs, rng):
    masks = {}
    for role, shape in specs.items():
        m = rng.random(shape) > 0.3
        m[0, 1] = False                   # a fully masked row / position
        masks[role] = m
    return masks


@pytest.mark.parametrize("case", range(len(MHA_CASES)))
def test_multi_head_attention_gradients_float64(case, rng):
    kwargs, qs, vs, ks, mask_specs, opts = MHA_CASES[case]
    layer = layers.MultiHeadAttention(**kwargs, dtype="float64", bias_initializer="random_normal")
    masks = _mask_arrays(mask_specs, rng)
    roles = tuple(r for r in layer.mask_roles if r in masks)
    xs = [rng.standard_normal(qs), rng.standard_normal(vs)]
    xs.append(rng.standard_normal(ks) if ks else xs[1].copy())
    xs += [masks[r] for r in roles]
    options = CallOptions(roles, opts.get("use_causal_mask", False), opts.get("return_attention_scores", False))
    check_gradients(layer, xs, options, rtol=1e-5, atol=1e-8)


def test_multi_head_attention_gradients_with_dropout_and_self_attention(rng):
    layer = layers.MultiHeadAttention(2, 3, dropout=0.4, seed=5, dtype="float64")
    x = rng.standard_normal((2, 5, 4))
    check_gradients(layer, [x, x.copy(), x.copy()], training=True, rtol=1e-5, atol=1e-8)
    # [query, value] (no key): the value's gradient includes the key's.
    layer2 = layers.MultiHeadAttention(2, 3, dtype="float64")
    check_gradients(layer2, [x, rng.standard_normal((2, 6, 4))], rtol=1e-5, atol=1e-8)


ATTENTION_CASES = [
    (lambda: layers.Attention(), {}),
    (lambda: layers.Attention(use_scale=True), {}),
    (lambda: layers.Attention(score_mode="concat"), {}),
    (lambda: layers.Attention(use_scale=True, score_mode="concat"), {"query_mask", "value_mask"}),
    (lambda: layers.Attention(use_scale=True), {"value_mask", "causal"}),
    (lambda: layers.AdditiveAttention(), {}),
    (lambda: layers.AdditiveAttention(use_scale=False), {"query_mask", "value_mask"}),
    (lambda: layers.AdditiveAttention(), {"value_mask", "scores", "causal"}),
]


@pytest.mark.parametrize("case", range(len(ATTENTION_CASES)))
def test_attention_gradients_float64(case, rng):
    make, what = ATTENTION_CASES[case]
    layer = make()
    layer.dtype = np.dtype("float64")
    q, v, k = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 2)), rng.standard_normal((2, 5, 3))
    xs, roles = [q, v, k], []
    if "query_mask" in what:
        xs.append(np.array([[1, 0, 1, 1], [0, 1, 1, 1]], bool))
        roles.append("query_mask")
    if "value_mask" in what:    # a valid step in every row (Keras subtracts 1e-9 from masked scores: a fully masked
        xs.append(np.array([[1, 1, 0, 1, 0], [1, 0, 0, 1, 1]], bool))     # row is a float32 rounding artefact)
        roles.append("value_mask")
    layer.build_for([x.shape for x in xs])
    randomize(layer, rng)
    options = CallOptions(tuple(roles), "causal" in what, "scores" in what)
    check_gradients(layer, xs, options, rtol=1e-5, atol=1e-8)


def test_attention_gradients_with_dropout(rng):
    layer = layers.Attention(use_scale=True, dropout=0.5, seed=3, dtype="float64")
    xs = [rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 2)), rng.standard_normal((2, 5, 3))]
    check_gradients(layer, xs, CallOptions((), False, True), training=True, rtol=1e-5, atol=1e-8)
    y, w = layer(xs, training=True, return_attention_scores=True)
    assert (w == 0).any() and not np.allclose(w.sum(-1), 1)      # the returned weights are after dropout (Keras)
    y, w = layer(xs, return_attention_scores=True)
    np.testing.assert_allclose(w.sum(-1), 1)


# ---------------------------------------------------------------------------------------------- PyTorch
def _torch_mha(layer, torch):
    """torch.nn.MultiheadAttention with the layer's weights: Keras's per-head kernels (dim, N, hd) and
    (N, hd, E) against torch's (N * hd, dim) projections and (E, N * hd) out_proj."""
    wq, bq, wk, bk, wv, bv, wo, bo = layer.get_weights()
    e, n, hd = wq.shape
    tm = torch.nn.MultiheadAttention(e, n, batch_first=True, kdim=wk.shape[0], vdim=wv.shape[0],
                                     dtype=torch.float64)
    with torch.no_grad():
        projections = [w.reshape(w.shape[0], -1).T for w in (wq, wk, wv)]
        if tm._qkv_same_embed_dim:
            tm.in_proj_weight.copy_(torch.from_numpy(np.concatenate(projections)))
        else:
            for target, w in zip((tm.q_proj_weight, tm.k_proj_weight, tm.v_proj_weight), projections):
                target.copy_(torch.from_numpy(w))
        tm.in_proj_bias.copy_(torch.from_numpy(np.concatenate([bq.ravel(), bk.ravel(), bv.ravel()])))
        tm.out_proj.weight.copy_(torch.from_numpy(wo.reshape(n * hd, -1).T))
        tm.out_proj.bias.copy_(torch.from_numpy(bo))
    return tm


def _torch_weight_grads(tm, e, n, hd, kdim, vdim):
    """The torch module's gradients in Keras's layouts, in the layer's weight order."""
    if tm._qkv_same_embed_dim:
        gq, gk, gv = tm.in_proj_weight.grad.numpy().reshape(3, n * hd, e)
    else:
        gq, gk, gv = (w.grad.numpy() for w in (tm.q_proj_weight, tm.k_proj_weight, tm.v_proj_weight))
    gb = tm.in_proj_bias.grad.numpy().reshape(3, n, hd)
    return [gq.T.reshape(e, n, hd), gb[0], gk.T.reshape(kdim, n, hd), gb[1], gv.T.reshape(vdim, n, hd), gb[2],
            tm.out_proj.weight.grad.numpy().T.reshape(n, hd, e), tm.out_proj.bias.grad.numpy()]


@pytest.mark.parametrize("kdim,vdim,masked", [(8, 8, False), (8, 8, True), (5, 3, True)])
def test_multi_head_attention_matches_pytorch(kdim, vdim, masked, rng):
    torch = pytest.importorskip("torch")
    e, n, hd, b, t, s = 8, 2, 4, 3, 5, 6
    layer = layers.MultiHeadAttention(n, hd, dtype="float64")
    q, v, k = rng.standard_normal((b, t, e)), rng.standard_normal((b, s, vdim)), rng.standard_normal((b, s, kdim))
    kw, tkw = {}, {}
    if masked:
        value_mask = rng.random((b, s)) > 0.3
        value_mask[:, 0] = True                      # torch gives NaN for a row with nothing to attend to
        kw = dict(value_mask=value_mask, use_causal_mask=t == s)
        tkw = dict(key_padding_mask=torch.from_numpy(~value_mask))
        att = rng.random((b, t, s)) > 0.3
        att[..., 0] = True
        kw["attention_mask"] = att
        tkw["attn_mask"] = torch.from_numpy(np.repeat(~att, n, axis=0))
    layer(q, v, k)
    randomize(layer, rng)
    tm = _torch_mha(layer, torch)
    tq, tv, tk = (torch.tensor(a, requires_grad=True) for a in (q, v, k))
    want, want_scores = tm(tq, tk, tv, need_weights=True, average_attn_weights=False, **tkw)
    y, scores = layer(q, v, k, return_attention_scores=True, **kw)
    np.testing.assert_allclose(y, want.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scores, want_scores.detach().numpy(), rtol=1e-10, atol=1e-12)

    g = rng.standard_normal(y.shape)
    (want * torch.from_numpy(g)).sum().backward()
    roles = tuple(r for r in layer.mask_roles if kw.get(r) is not None)
    options = CallOptions(roles, kw.get("use_causal_mask", False))
    out, ctx = layer.forward([q, v, k] + [kw[r] for r in roles], training=True, options=options)
    for w in layer.weights:
        w.grad.fill(0)
    dq, dv, dk = layer.backward(ctx, g)[:3]
    for got, tensor in ((dq, tq), (dv, tv), (dk, tk)):
        np.testing.assert_allclose(got, tensor.grad.numpy(), rtol=1e-9, atol=1e-11)
    for w, want_grad in zip(layer.weights, _torch_weight_grads(tm, e, n, hd, kdim, vdim)):
        np.testing.assert_allclose(w.grad, want_grad, rtol=1e-9, atol=1e-11, err_msg=w.name)


# ---------------------------------------------------------------------------------------------- Keras
def test_multi_head_attention_matches_keras(rng):
    keras = _keras()
    q, v, k = (rng.standard_normal(s).astype("float32") for s in ((2, 5, 6), (2, 7, 4), (2, 7, 3)))
    qm, vm, km = rng.random((2, 5)) > 0.2, rng.random((2, 7)) > 0.2, rng.random((2, 7)) > 0.1
    am = rng.random((2, 5, 7)) > 0.3
    am[0, 1] = False
    for kwargs in (dict(num_heads=3, key_dim=4, value_dim=5, output_shape=(2, 3)),
                   dict(num_heads=2, key_dim=3, use_bias=False)):
        layer, ref = layers.MultiHeadAttention(**kwargs), keras.layers.MultiHeadAttention(**kwargs)
        layer(q, v, k)
        ref(q, v, k)
        assert [w.shape for w in ref.get_weights()] == [w.shape for w in layer.get_weights()]
        ref.set_weights(layer.get_weights())
        for call in (dict(), dict(attention_mask=am, value_mask=vm, key_mask=km),
                     dict(value_mask=vm, use_causal_mask=True), dict(attention_mask=am[:1], use_causal_mask=True)):
            y, s = layer(q, v, k, return_attention_scores=True, **call)
            ky, ks = ref(q, v, k, return_attention_scores=True, **call)
            np.testing.assert_allclose(y, _np(ky), rtol=1e-5, atol=1e-6, err_msg=str(list(call)))
            np.testing.assert_allclose(s, _np(ks), rtol=1e-5, atol=1e-6)
            # Without scores Keras runs a fused kernel, which gives a query step that may attend to nothing the
            # mean of the values instead of the zeros of its softmax path; pynn too (test_attention_masks.py).
            np.testing.assert_allclose(layer(q, v, k, **call), _np(ref(q, v, k, **call)), rtol=1e-5, atol=1e-6)
    # Keras takes the query mask from the query tensor's own mask; pynn from query_mask.
    layer = layers.MultiHeadAttention(2, 3)
    ref = keras.layers.MultiHeadAttention(2, 3)
    layer(q, v)
    ref(q, v)
    ref.set_weights(layer.get_weights())
    for scores in (True, False):        # the masked query steps: zeros with scores, the mean of the values without
        tq = keras.ops.convert_to_tensor(q)
        keras.src.backend.set_keras_mask(tq, keras.ops.convert_to_tensor(qm))
        y = layer(q, v, query_mask=qm, return_attention_scores=scores)
        ky = ref(tq, v, return_attention_scores=scores)
        np.testing.assert_allclose(y[0] if scores else y, _np(ky[0] if scores else ky), rtol=1e-5, atol=1e-6)
    # Inputs of rank 4: attention over both middle axes (the default attention_axes).
    q4, v4 = rng.standard_normal((2, 2, 3, 4)).astype("float32"), rng.standard_normal((2, 3, 2, 5)).astype("float32")
    layer, ref = layers.MultiHeadAttention(2, 3), keras.layers.MultiHeadAttention(2, 3)
    layer(q4, v4)
    ref(q4, v4)
    ref.set_weights(layer.get_weights())
    y, s = layer(q4, v4, return_attention_scores=True)
    ky, ks = ref(q4, v4, return_attention_scores=True)
    assert s.shape == (2, 2, 2, 3, 3, 2)
    np.testing.assert_allclose(y, _np(ky), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s, _np(ks), rtol=1e-5, atol=1e-6)


def test_attention_layers_match_keras(rng):
    keras = _keras()
    q, v, k = (rng.standard_normal(s).astype("float32") for s in ((2, 5, 4), (2, 7, 3), (2, 7, 4)))
    qm, vm = rng.random((2, 5)) > 0.3, rng.random((2, 7)) > 0.3
    vm[:, 0] = True
    for name, kwargs in (("Attention", {}), ("Attention", dict(use_scale=True)),
                         ("Attention", dict(use_scale=True, score_mode="concat")),
                         ("Attention", dict(score_mode="concat")),
                         ("AdditiveAttention", {}), ("AdditiveAttention", dict(use_scale=False))):
        layer, ref = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
        layer([q, v, k])
        ref([q, v, k])
        weights = [w + rng.standard_normal(w.shape).astype("float32") * 0.3 for w in layer.get_weights()]
        layer.set_weights(weights)
        ref.set_weights(weights)
        for call in (dict(), dict(mask=[qm, vm]), dict(mask=[None, vm], use_causal_mask=True), dict(mask=[qm, None])):
            for inputs in ([q, v, k], [q, v[..., :1].repeat(4, -1)]):
                y, w = layer(inputs, return_attention_scores=True, **call)
                ky, kw = ref(inputs, return_attention_scores=True, **call)
                np.testing.assert_allclose(y, _np(ky), rtol=1e-5, atol=1e-6, err_msg=f"{name} {kwargs} {list(call)}")
                np.testing.assert_allclose(w, _np(kw), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- functional models
def test_functional_model_with_query_value_key_and_mask_inputs(rng):
    t, s = 5, 6
    q_in, v_in, k_in = pynn.Input((t, 4)), pynn.Input((s, 3)), pynn.Input((s, 2))
    m_in = pynn.Input((t, s), dtype="int32")
    mha = layers.MultiHeadAttention(2, 3, name="mha")
    y, scores = mha(q_in, v_in, key=k_in, attention_mask=m_in, return_attention_scores=True)
    assert y.shape == (None, t, 4) and scores.shape == (None, 2, t, s)
    model = pynn.Model([q_in, v_in, k_in, m_in], [y, scores])
    xs = [rng.standard_normal((3, t, 4)).astype("float32"), rng.standard_normal((3, s, 3)).astype("float32"),
          rng.standard_normal((3, s, 2)).astype("float32"), (rng.random((3, t, s)) > 0.3).astype("int32")]
    got_y, got_s = model.predict(xs, verbose=0)
    want_y, want_s = mha(xs[0], xs[1], xs[2], attention_mask=xs[3], return_attention_scores=True)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-6)
    np.testing.assert_allclose(got_s, want_s, rtol=1e-6)
    # The model's backward gives the gradients of query, value and key (and none for the mask).
    outs, ctx = model.forward(xs, training=True)
    g = rng.standard_normal(outs[0].shape).astype("float32")
    for w in model.weights:
        w.grad.fill(0)
    grads = model.backward(ctx, [g, None])
    model_grads = [w.grad.copy() for w in mha.weights]
    _, lctx = mha.forward(xs, training=True, options=CallOptions(("attention_mask",), False, True))
    for w in mha.weights:
        w.grad.fill(0)
    want = mha.backward(lctx, [g, None])
    for got, exp in zip(grads[:3], want[:3]):
        np.testing.assert_allclose(got, exp, rtol=1e-6)
    assert grads[3] is None or not np.any(grads[3])
    for got, w in zip(model_grads, mha.weights):
        np.testing.assert_allclose(got, w.grad, rtol=1e-6)


def _encoder(t=8, e=16):
    x = pynn.Input((t, e))
    h = layers.MultiHeadAttention(4, 4, dropout=0.1, seed=1, name="mha")(x, x, use_causal_mask=True)
    h = layers.Add()([x, h])
    h = layers.GlobalAveragePooling1D()(h)
    return pynn.Model(x, layers.Dense(1)(h))


def test_functional_self_attention_trains_with_fit_and_round_trips(rng, tmp_path):
    t, e = 8, 16
    model = _encoder(t, e)
    x = rng.standard_normal((128, t, e)).astype("float32")
    y = (x[:, :, :2].sum((1, 2)) > 0).astype("float32")[:, None]
    model.compile(optimizer=pynn.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    want = model.predict(x[:5], verbose=0)
    # The causal mask is honoured through the graph: changing later steps leaves earlier outputs alone.
    mha = model.get_layer("mha")
    later = x[:2].copy()
    later[:, 5:] += 1.0
    np.testing.assert_allclose(mha(later, later, use_causal_mask=True)[:, :5],
                               mha(x[:2], x[:2], use_causal_mask=True)[:, :5], rtol=1e-5, atol=1e-6)
    clone = pynn.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x[:5], verbose=0), want, rtol=1e-6)
    assert clone.get_layer("mha")._graph_options.use_causal_mask
    model.save(tmp_path / "encoder.keras")
    loaded = pynn.models.load_model(tmp_path / "encoder.keras")
    np.testing.assert_allclose(loaded.predict(x[:5], verbose=0), want, rtol=1e-6)


def test_functional_attention_with_mask_inputs(rng, tmp_path):
    q_in, v_in = pynn.Input((4, 3)), pynn.Input((6, 3))
    qm_in, vm_in = pynn.Input((4,)), pynn.Input((6,))
    layer = layers.Attention(use_scale=True, name="att")
    out = layer([q_in, v_in], mask=[qm_in, vm_in], use_causal_mask=False)
    model = pynn.Model([q_in, v_in, qm_in, vm_in], out)
    xs = [rng.standard_normal((2, 4, 3)).astype("float32"), rng.standard_normal((2, 6, 3)).astype("float32"),
          np.array([[1, 1, 0, 1], [1, 0, 1, 1]], "float32"), np.array([[1, 1, 1, 0, 0, 1], [1] * 6], "float32")]
    want = layer(xs[:2], mask=xs[2:])
    np.testing.assert_allclose(model.predict(xs, verbose=0), want, rtol=1e-6)
    assert not want[0, 2].any()
    model.save(tmp_path / "att.keras")
    np.testing.assert_allclose(pynn.models.load_model(tmp_path / "att.keras").predict(xs, verbose=0), want, rtol=1e-6)


def test_shared_layer_calls_keep_their_own_options():
    x = pynn.Input((4, 3))
    mha = layers.MultiHeadAttention(2, 2)
    mha(x, x, use_causal_mask=True)
    mha(x, x)                                            # other options: a node of its own (Keras allows it)
    assert [n.call_options["options"].use_causal_mask for n in mha._inbound_nodes] == [True, False]
    with pytest.raises(ValueError, match="must be a symbolic tensor"):
        mha(x, x, attention_mask=np.ones((1, 4, 4), bool))


def test_inside_a_custom_call_layer(rng):
    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.mha = layers.MultiHeadAttention(2, 3)

        def call(self, x):
            return x + self.mha(x, x, use_causal_mask=True)

    block = Block()
    x = rng.standard_normal((2, 5, 4)).astype("float32")
    y = block(x)
    np.testing.assert_allclose(y, x + block.mha(x, x, use_causal_mask=True), rtol=1e-6)
    inp = pynn.Input((5, 4))
    model = pynn.Model(inp, layers.GlobalAveragePooling1D()(block(inp)))
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in block.mha.get_weights()]
    model.fit(x, np.ones((2, 4), "float32"), epochs=1, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, block.mha.get_weights()))


# ---------------------------------------------------------------------------------------------- memory
def test_backward_keeps_only_the_probabilities_of_size_t_by_s(rng):
    b, t, s, n = 2, 16, 24, 2
    for training in (False, True):
        layer = layers.MultiHeadAttention(n, 3, dropout=0.3)
        q, v = rng.standard_normal((b, t, 4)).astype("float32"), rng.standard_normal((b, s, 4)).astype("float32")
        mask = rng.random((b, t, s)) > 0.2
        layer(q, v)
        _, ctx = layer.forward([q, v, v, mask], training, options=CallOptions(("attention_mask",), True))
        big = [a for a in ctx if isinstance(a, np.ndarray) and a.size >= b * t * s]
        assert len(big) == 1 and big[0].shape == (b, n, t, s)
    for layer in (layers.Attention(dropout=0.3, score_mode="concat"), layers.AdditiveAttention(dropout=0.3)):
        q, v = rng.standard_normal((b, t, 4)).astype("float32"), rng.standard_normal((b, s, 4)).astype("float32")
        layer([q, v])
        _, ctx = layer.forward([q, v, v], True)
        big = [a for a in ctx if isinstance(a, np.ndarray) and a.size >= b * t * s]
        assert len(big) == 1 and big[0].shape == (b, t, s)


# ---------------------------------------------------------------------------------------------- config and errors
CONFIG_CASES = [
    (lambda: layers.MultiHeadAttention(3, 2, value_dim=4, dropout=0.2, use_bias=False, output_shape=(2, 3),
                                       sliding_window=3, kernel_initializer="he_normal",
                                       kernel_regularizer=pynn.regularizers.L2(0.1), seed=4),
     lambda l, q, v: l(q, v)),
    (lambda: layers.Attention(use_scale=True, score_mode="concat", dropout=0.1, seed=2), lambda l, q, v: l([q, v])),
    (lambda: layers.AdditiveAttention(use_scale=False, dropout=0.2, seed=1), lambda l, q, v: l([q, v])),
]


@pytest.mark.parametrize("case", range(len(CONFIG_CASES)))
def test_config_round_trip(case, rng):
    import json
    make, call = CONFIG_CASES[case]
    layer = make()
    q, v = rng.standard_normal((2, 4, 3)).astype("float32"), rng.standard_normal((2, 5, 3)).astype("float32")
    call(layer, q, v)
    randomize(layer, rng)
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == layer.get_config()
    call(clone, q, v)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(call(clone, q, v), call(layer, q, v))
    again = pynn.saving.deserialize_keras_object(json.loads(json.dumps(pynn.saving.serialize_keras_object(layer))))
    assert type(again) is type(layer)


def test_errors_name_the_layer_and_leave_it_unbuilt(rng):
    q, v = rng.standard_normal((2, 4, 3)).astype("float32"), rng.standard_normal((2, 5, 3)).astype("float32")
    mha = layers.MultiHeadAttention(2, 2, name="mha")
    with pytest.raises(ValueError, match=r"'mha'.*value and key"):
        mha(q, v, rng.standard_normal((2, 6, 3)))
    with pytest.raises(ValueError, match=r"'mha'.*attention_mask must have shape"):
        mha(q, v, attention_mask=np.ones((2, 5, 4), bool))
    with pytest.raises(ValueError, match=r"'mha'.*value_mask must have shape"):
        mha(q, v, value_mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"'mha'.*batch sizes"):
        mha(q, v[:1])
    assert not mha.built and not mha.weights
    mha(q, v)
    with pytest.raises(ValueError, match=r"'mha': query expected shape \(None, None, 3\)"):
        mha(rng.standard_normal((2, 4, 5)), v)
    with pytest.raises(ValueError, match="positive integer"):
        layers.MultiHeadAttention(0, 2)
    x4 = rng.standard_normal((2, 3, 4, 5))
    with pytest.raises(NotImplementedError, match="attention_axes"):
        layers.MultiHeadAttention(2, 2, attention_axes=(2,))(x4, x4)
    layers.MultiHeadAttention(2, 2, attention_axes=(1, 2))(x4, x4)           # the default, spelt out
    with pytest.raises(NotImplementedError, match="use_gate"):
        layers.MultiHeadAttention(2, 2, use_gate=True)

    att = layers.Attention(name="att")
    with pytest.raises(ValueError, match=r"'att'.*query's last dimension \(3\) must equal the key's \(2\)"):
        att([q, v, rng.standard_normal((2, 5, 2))])
    with pytest.raises(ValueError, match=r"'att'.*list of inputs"):
        att(q)
    with pytest.raises(ValueError, match=r"'att'.*query_mask must have shape \(2, 4\)"):
        att([q, v], mask=[np.ones((2, 5), bool), None])
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="add")
    assert not att.built
    with pytest.raises(ValueError, match=r"'add'.*3-D"):
        layers.AdditiveAttention(name="add")([q[0], v[0]])


def test_weights_of_keras_weights_h5_files(rng, tmp_path):
    """Keras 3 stores MultiHeadAttention's weights per projection (query_dense/vars/0, 1, ...):
    keras_weight_groups names those groups, in Keras's order and shapes; Attention's are plain vars."""
    keras = _keras()
    h5py = pytest.importorskip("h5py")
    x = keras.Input((5, 8))
    h = keras.layers.MultiHeadAttention(2, 4, value_dim=3)(x, x)
    h = keras.layers.Attention(use_scale=True, score_mode="concat")([h, x])
    ref = keras.Model(x, h)
    ref.save_weights(tmp_path / "k.weights.h5")
    mha = layers.MultiHeadAttention(2, 4, value_dim=3)
    mha(np.zeros((1, 5, 8), np.float32), np.zeros((1, 5, 8), np.float32))
    with h5py.File(tmp_path / "k.weights.h5", "r") as f:
        group = f["layers/multi_head_attention"]
        for name, variables in mha.keras_weight_groups():
            stored = group[name]["vars"]
            assert [stored[str(i)].shape for i in range(len(stored))] == [v.shape for v in variables]
        assert len(f["layers/attention/vars"]) == 2
    att = layers.Attention(use_scale=True, score_mode="concat")
    att([np.zeros((1, 5, 8), np.float32)] * 2)
    assert [w.name for w in att.weights] == ["scale", "concat_score_weight"]
