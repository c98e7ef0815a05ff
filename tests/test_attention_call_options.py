"""Per-call options of MultiHeadAttention in a functional model, as Keras 3 records them:
`mha(q, v, key=k, attention_mask=m, use_causal_mask=True, return_attention_scores=True)` on symbolic tensors
reads key and mask as node inputs, keeps the flags, trains, and survives a .keras round trip and
get_config / from_config. Checked against Keras (same weights: both outputs and the weight gradients)."""
import numpy as np
import pytest

import pynn
from pynn import layers

B, T, S, F = 4, 5, 6, 3


def _build(lib, layers_):
    q, v, k = lib.Input((T, F)), lib.Input((S, F)), lib.Input((S, F + 1))
    m = lib.Input((T, S), dtype="int32" if lib is pynn else "bool")        # pynn's inputs are numbers
    y, scores = layers_.MultiHeadAttention(2, 3, value_dim=2, name="mha")(
        q, v, key=k, attention_mask=m, use_causal_mask=True, return_attention_scores=True)
    out = layers_.Dense(2, name="head")(layers_.GlobalAveragePooling1D()(y))
    return lib.Model([q, v, k, m], [out, scores])


def _data(rng):
    mask = rng.random((B, T, S)) > 0.4
    mask[:, :, 0] = True                 # every query step keeps a key (with the causal mask too)
    return [rng.standard_normal((B, T, F)).astype("float32"), rng.standard_normal((B, S, F)).astype("float32"),
            rng.standard_normal((B, S, F + 1)).astype("float32"), mask]


def _model(rng):
    model = _build(pynn, layers)
    model.set_weights([w + 0.3 * rng.standard_normal(w.shape).astype("float32") for w in model.get_weights()])
    return model


def test_options_key_and_mask_are_recorded_in_the_graph_and_config(rng):
    model = _model(rng)
    mha = model.get_layer("mha")
    node = mha._inbound_nodes[0]
    assert node.inputs == model.inputs[:2] + [model.inputs[2], model.inputs[3]]     # query, value, key, mask
    config = [e for e in model.get_config()["layers"] if e["name"] == "mha"][0]
    (call,) = config["inbound_nodes"]              # written as the call is made: mha(q, value=v, key=k, ...)
    assert [call["args"][0]["config"]["keras_history"][0]] + [
        call["kwargs"][k]["config"]["keras_history"][0] for k in ("value", "key", "attention_mask")] == [
        t._keras_history[0].name for t in model.inputs]
    assert {k: v for k, v in call["kwargs"].items() if not isinstance(v, dict)} == {
        "use_causal_mask": True, "return_attention_scores": True}
    xs = _data(rng)
    y, scores = model.predict(xs, verbose=0)
    assert scores.shape == (B, 2, T, S)
    keep = xs[3][:, None] & np.tri(T, S, dtype=bool)
    assert np.all(scores[~np.broadcast_to(keep, scores.shape)] == 0)      # the mask and the causal mask used
    np.testing.assert_allclose(scores.sum(-1), 1, rtol=1e-5)
    want_y, want_s = mha(xs[0], xs[1], key=xs[2], attention_mask=xs[3], use_causal_mask=True,
                         return_attention_scores=True)
    np.testing.assert_allclose(scores, want_s, rtol=1e-6, atol=1e-7)


def test_options_match_keras_outputs_and_gradients(keras, rng):
    import torch
    ours, theirs = _model(rng), _build(keras, keras.layers)
    theirs.set_weights(ours.get_weights())
    xs = _data(rng)
    got, want = ours.predict(xs, verbose=0), theirs.predict(xs, verbose=0)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)
    (y, scores), ctx = ours.forward(xs, training=True)
    g = [rng.standard_normal(y.shape).astype("float32"), rng.standard_normal(scores.shape).astype("float32")]
    for w in ours.weights:
        w.grad.fill(0)
    ours.backward_weights(ctx, [g[0].copy(), g[1].copy()])
    ky, ks = theirs([torch.as_tensor(x) for x in xs])
    ((ky * torch.as_tensor(g[0])).sum() + (ks * torch.as_tensor(g[1])).sum()).backward()
    for w, v in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(w.grad, v.value.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=v.path)


def test_options_survive_saving_and_training(rng, tmp_path):
    model = _model(rng)
    xs = _data(rng)
    want = model.predict(xs, verbose=0)
    model.save(tmp_path / "options.keras")
    loaded = pynn.models.load_model(tmp_path / "options.keras")
    clone = pynn.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    for again in (loaded, clone):
        for a, b in zip(again.predict(xs, verbose=0), want):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    before = loaded.get_layer("mha").get_weights()
    loaded.compile(optimizer="adam", loss=["mse", "mse"])
    targets = [rng.standard_normal((B, 2)).astype("float32"), np.zeros((B, 2, T, S), "float32")]
    history = loaded.fit(xs, targets, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(not np.allclose(a, b) for a, b in zip(before, loaded.get_layer("mha").get_weights()))


def test_a_non_symbolic_mask_in_a_functional_call_is_refused_naming_the_layer(rng):
    q = pynn.Input((T, F))
    with pytest.raises(ValueError, match=r"MultiHeadAttention 'mha'.*attention_mask is a ndarray"):
        layers.MultiHeadAttention(2, 3, name="mha")(q, q, attention_mask=np.ones((B, T, T), bool))
