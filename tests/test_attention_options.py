"""One attention layer called several times in a functional model, each call with its own options (masks,
use_causal_mask, return_attention_scores), as Keras 3 allows: every node keeps and replays its own options,
through predict, training (float64 finite differences), get_config / from_config and .keras files."""
import numpy as np
import pytest

import pynn
from pynn import layers
from gradcheck import numeric_gradient

B, T, S, F = 3, 4, 5, 3


def _mha_model(lib, dtype="float32"):
    """One MultiHeadAttention called three ways: causal self-attention, masked cross-attention returning the
    scores, plain cross-attention."""
    q, v = lib.Input((T, F), dtype=dtype), lib.Input((S, F), dtype=dtype)
    m = lib.Input((T, S), dtype="bool" if lib is not pynn else "int32")
    mha = lib.layers.MultiHeadAttention(2, 3, name="mha", dtype=dtype)
    a = mha(q, q, use_causal_mask=True)
    b, scores = mha(q, v, attention_mask=m, return_attention_scores=True)
    c = mha(q, v)
    return lib.Model([q, v, m], [a, b, c]), scores


def _mha_data(rng, dtype="float32"):
    mask = rng.random((B, T, S)) > 0.4
    mask[:, :, 0] = True
    return [rng.standard_normal((B, T, F)).astype(dtype), rng.standard_normal((B, S, F)).astype(dtype), mask]


def _perturbed(model, rng):
    model.set_weights([w + 0.3 * rng.standard_normal(w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def test_each_call_of_one_multi_head_attention_uses_its_own_options(rng):
    model, _ = _mha_model(pynn)
    _perturbed(model, rng)
    xs = _mha_data(rng)
    a, b, c = model.predict(xs, verbose=0)
    mha = model.get_layer("mha")
    np.testing.assert_allclose(a, mha(xs[0], xs[0], use_causal_mask=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, mha(xs[0], xs[1], attention_mask=xs[2]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c, mha(xs[0], xs[1]), rtol=1e-5, atol=1e-6)
    assert not np.allclose(b, c, atol=1e-3)      # the mask made a difference
    assert not np.allclose(a, mha(xs[0], xs[0]), atol=1e-3)   # and the causal mask


def test_scores_of_one_call_only(rng):
    model, scores = _mha_model(pynn)
    q, v, m = model.inputs
    with_scores = pynn.Model([q, v, m], [model.outputs[0], scores])
    _perturbed(with_scores, rng)
    xs = _mha_data(rng)
    y, p = with_scores.predict(xs, verbose=0)
    assert p.shape == (B, 2, T, S)
    np.testing.assert_array_equal(p[~np.broadcast_to(xs[2][:, None], p.shape)], 0)
    np.testing.assert_allclose(y, with_scores.get_layer("mha")(xs[0], xs[0], use_causal_mask=True), rtol=1e-5,
                               atol=1e-6)


def test_matches_keras_with_the_same_weights(keras, rng):
    ours, _ = _mha_model(pynn)
    theirs, _ = _mha_model(keras)
    _perturbed(ours, rng)
    theirs.set_weights(ours.get_weights())
    xs = _mha_data(rng)
    for got, want in zip(ours.predict(xs, verbose=0), theirs.predict(xs, verbose=0)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)


def test_round_trips_through_config_and_keras_file(rng, tmp_path):
    model, _ = _mha_model(pynn)
    _perturbed(model, rng)
    xs = _mha_data(rng)
    want = model.predict(xs, verbose=0)
    clone = pynn.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    model.save(tmp_path / "shared.keras")
    loaded = pynn.models.load_model(tmp_path / "shared.keras")
    for again in (clone, loaded):
        for got, w in zip(again.predict(xs, verbose=0), want):
            np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-7)
    # and the reloaded model saves the same description again
    assert loaded.get_config()["layers"] == model.get_config()["layers"]


def test_gradients_through_calls_with_different_options_float64(rng):
    model, _ = _mha_model(pynn, dtype="float64")
    for layer in model.layers:
        for w in layer.weights:
            w.assign(w.value + 0.3 * rng.standard_normal(w.shape))
    xs = _mha_data(rng, "float64")
    ys, ctx = model.forward(xs, training=False)
    gs = [rng.standard_normal(y.shape) for y in ys]
    for w in model.weights:
        w.grad.fill(0)
    dq, dv, _ = model.backward(ctx, [g.copy() for g in gs])

    def f():
        return float(sum(np.sum(g * y) for g, y in zip(gs, model.forward(xs, training=False)[0])))
    for w in model.trainable_weights:
        np.testing.assert_allclose(w.grad, numeric_gradient(f, w.value), rtol=1e-5, atol=1e-8, err_msg=w.name)
    np.testing.assert_allclose(dq, numeric_gradient(f, xs[0]), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dv, numeric_gradient(f, xs[1]), rtol=1e-5, atol=1e-8)


def test_attention_calls_with_and_without_a_query_mask(rng, tmp_path):
    q, v = pynn.Input((T, F)), pynn.Input((S, F))
    qm = pynn.Input((T,))
    att = layers.Attention(use_scale=True, name="att")
    a = att([q, v], use_causal_mask=True)
    b = att([q, v], mask=[qm, None])
    c = att([q, v])
    model = pynn.Model([q, v, qm], [a, b, c])
    xs = [rng.standard_normal((B, T, F)).astype("float32"), rng.standard_normal((B, S, F)).astype("float32"),
          np.array([[1, 1, 0, 1], [1, 0, 1, 1], [0, 1, 1, 1]], "float32")]
    want = [att(xs[:2], use_causal_mask=True), att(xs[:2], mask=[xs[2], None]), att(xs[:2])]
    assert not want[1][0, 2].any()
    for again in (model, pynn.Model.from_config(model.get_config())):
        again.set_weights(model.get_weights())
        for got, w in zip(again.predict(xs, verbose=0), want):
            np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-7)
    model.save(tmp_path / "att.keras")
    for got, w in zip(pynn.models.load_model(tmp_path / "att.keras").predict(xs, verbose=0), want):
        np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-7)


def test_attention_calls_match_keras(keras, rng):
    def build(lib):
        q, v = lib.Input((T, F)), lib.Input((S, F))
        att = lib.layers.Attention(use_scale=True)
        return lib.Model([q, v], [att([q, v], use_causal_mask=True), att([q, v])])
    ours, theirs = build(pynn), build(keras)
    ours.set_weights([np.array(1.7, "float32")])
    theirs.set_weights(ours.get_weights())
    xs = [rng.standard_normal((B, T, F)).astype("float32"), rng.standard_normal((B, S, F)).astype("float32")]
    for got, want in zip(ours.predict(xs, verbose=0), theirs.predict(xs, verbose=0)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)


def test_a_shared_layer_trains_through_both_calls(rng):
    model, _ = _mha_model(pynn)
    xs = _mha_data(rng)
    model.compile(optimizer="adam", loss=["mse", "mse", "mse"])
    ys = [rng.standard_normal((B, T, F)).astype("float32") for _ in range(3)]
    history = model.fit(xs, ys, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_a_non_symbolic_mask_is_still_refused():
    x = pynn.Input((T, F))
    mha = layers.MultiHeadAttention(2, 2, name="mha")
    mha(x, x, use_causal_mask=True)
    with pytest.raises(ValueError, match=r"MultiHeadAttention 'mha'.*must be a symbolic tensor"):
        mha(x, x, attention_mask=np.ones((1, T, T), bool))


def test_configs_with_one_set_of_options_per_layer_still_load(rng):
    """The format written before options were per call: the layer's config holds "call_options" and its calls
    list [query, value, key, *masks]."""
    q, m = pynn.Input((T, F)), pynn.Input((T, T), dtype="int32")
    mha = layers.MultiHeadAttention(2, 3, name="mha")
    model = pynn.Model([q, m], mha(q, q, attention_mask=m, use_causal_mask=True))
    config = model.get_config()
    entry = next(e for e in config["layers"] if e["name"] == "mha")
    (call,) = entry["inbound_nodes"]
    entry["config"]["call_options"] = {"masks": ["attention_mask"], "use_causal_mask": True,
                                       "return_attention_scores": False}
    entry["inbound_nodes"] = [{"args": [[call["args"][0], call["kwargs"]["value"], call["kwargs"]["value"],
                                         call["kwargs"]["attention_mask"]]], "kwargs": {}}]
    old = pynn.Model.from_config(config)
    old.set_weights(model.get_weights())
    xs = [rng.standard_normal((B, T, F)).astype("float32"), rng.random((B, T, T)) > 0.3]
    np.testing.assert_allclose(old.predict(xs, verbose=0), model.predict(xs, verbose=0), rtol=1e-6, atol=1e-7)
    assert not np.allclose(old.predict(xs, verbose=0), mha(xs[0], xs[0]), atol=1e-3)
