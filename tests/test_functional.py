"""The functional API: graphs of layer calls (fan-out, shared layers, nested models, merge layers, Lambda,
several inputs and outputs), checked against finite differences in float64 and against Sequential."""
import numpy as np
import pytest

import pynn
from pynn import layers
from gradcheck import numeric_gradient

F64 = "float64"


def check_model_gradients(model, xs, rtol=1e-6, atol=1e-8, seed=0):
    """model.backward (input and weight gradients) against central differences of sum_k g_k * y_k."""
    rng = np.random.default_rng(seed)
    xs = [np.array(x, dtype=np.float64) for x in xs]
    feed = xs if len(xs) > 1 else xs[0]
    ys, ctx = model.forward(feed, training=False)
    ys = ys if isinstance(ys, list) else [ys]
    gs = [rng.standard_normal(y.shape) for y in ys]
    for w in model.weights:
        w.grad.fill(0)
    dxs = model.backward(ctx, [g.copy() for g in gs] if len(gs) > 1 else gs[0].copy())
    dxs = dxs if isinstance(dxs, list) else [dxs]

    def f():
        out = model.forward(feed, training=False)[0]
        out = out if isinstance(out, list) else [out]
        return float(sum(np.sum(g * y) for g, y in zip(gs, out)))

    for i, (x, dx) in enumerate(zip(xs, dxs)):
        np.testing.assert_allclose(dx, numeric_gradient(f, x), rtol=rtol, atol=atol, err_msg=f"input {i}")
    assert model.trainable_weights, "the model has weights to check"
    for w in model.trainable_weights:
        np.testing.assert_allclose(w.grad, numeric_gradient(f, w.value), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {w.name}")


def test_gradients_through_fan_out_shared_layers_and_merges(rng):
    a = pynn.Input(shape=(5,), dtype=F64, name="a")
    b = pynn.Input(shape=(5,), dtype=F64, name="b")
    shared = layers.Dense(4, activation="tanh", dtype=F64)       # used on both inputs: gradients summed
    ha, hb = shared(a), shared(b)
    branch = layers.Dense(4, activation="sigmoid", dtype=F64)(ha)  # ha feeds three layers (fan-out)
    merged = layers.Concatenate(dtype=F64)([
        layers.Add(dtype=F64)([ha, hb, branch]),
        layers.Subtract(dtype=F64)([ha, hb]),
        layers.Multiply(dtype=F64)([ha, hb, branch]),
        layers.Average(dtype=F64)([ha, branch]),
        layers.Maximum(dtype=F64)([ha, hb]),
        layers.Minimum(dtype=F64)([hb, branch]),
        layers.Dot(axes=1, dtype=F64)([ha, hb]),
        layers.Dot(axes=1, normalize=True, dtype=F64)([hb, branch]),
    ])
    out1 = layers.Dense(3, dtype=F64)(merged)
    out2 = layers.Dense(2, activation="softmax", dtype=F64)(ha)
    model = pynn.Model([a, b], [out1, out2])
    assert model.output_shape == [(None, 3), (None, 2)] and len(model.weights) == 8
    check_model_gradients(model, [rng.standard_normal((6, 5)), rng.standard_normal((6, 5))])


def test_gradients_through_nested_models_and_lambda(rng):
    inner = pynn.Sequential([layers.Input(shape=(4,), dtype=F64), layers.Dense(6, activation="relu", dtype=F64),
                             layers.Dense(3, dtype=F64)], name="inner")
    i2 = pynn.Input(shape=(3,), dtype=F64)
    block = pynn.Model(i2, layers.Add(dtype=F64)([i2, layers.Dense(3, activation="tanh", dtype=F64)(i2)]),
                       name="residual_block")
    x = pynn.Input(shape=(4,), dtype=F64)
    h = block(inner(x))
    h = block(h)                                                  # a nested model shared twice
    cube = layers.Lambda(lambda v: v ** 3, gradient=lambda v, y, dy: 3 * v ** 2 * dy, dtype=F64)(h)
    model = pynn.Model(x, layers.Dense(2, dtype=F64)(cube))
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer", "Sequential", "Functional", "Lambda", "Dense"]
    assert len(model.trainable_weights) == 8
    check_model_gradients(model, [rng.standard_normal((5, 4))])


def test_dot_of_sequences_and_merge_references(rng):
    a, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 6, 5))
    dot = layers.Dot(axes=(2, 2), dtype=F64)
    np.testing.assert_allclose(dot([a, b]), np.einsum("bik,bjk->bij", a, b), rtol=1e-12)
    x = pynn.Input(shape=(4, 5), dtype=F64)
    y = pynn.Input(shape=(6, 5), dtype=F64)
    model = pynn.Model([x, y], layers.Dense(2, dtype=F64)(layers.Dot(axes=(2, 2), dtype=F64)([x, y])))
    check_model_gradients(model, [a, b])
    p, q = rng.standard_normal((4, 3)), rng.standard_normal((4, 1))      # broadcasting, as NumPy
    np.testing.assert_allclose(layers.Add()([p, q]), p + q, rtol=1e-6)
    np.testing.assert_allclose(layers.Maximum()([p, q, -p]), np.maximum(np.maximum(p, q), -p), rtol=1e-6)
    with pytest.raises(ValueError, match="Add 'add_batch': inputs have different batch sizes"):
        layers.Add(name="add_batch")([p, p[:1]])                          # except along the batch axis
    np.testing.assert_allclose(layers.Concatenate(axis=1)([p, p]), np.concatenate([p, p], 1), rtol=1e-6)
    with pytest.raises(ValueError, match="Add 'bad_add': inputs of shapes"):
        layers.Add(name="bad_add")([p, rng.standard_normal((4, 2))])
    with pytest.raises(ValueError, match="Subtract 'sub' takes a list of exactly 2 inputs, got 3"):
        layers.Subtract(name="sub")([p, p, p])
    with pytest.raises(ValueError, match="Concatenate 'cat': inputs must match except along axis -1"):
        layers.Concatenate(name="cat")([a, b])
    with pytest.raises(ValueError, match="Concatenate 'cat2': inputs have different batch sizes \\[4, 5\\]"):
        layers.Concatenate(name="cat2")([p, rng.standard_normal((5, 3))])


def test_sequential_is_the_same_engine_as_a_straight_functional_graph(rng):
    x = rng.random((96, 12)).astype(np.float32)
    y = rng.integers(0, 3, 96)

    def stack():
        return [layers.Dense(8, activation="relu"), layers.Dropout(0.3, seed=1),
                layers.Dense(3, activation="softmax")]

    pynn.utils.set_random_seed(3)
    seq = pynn.Sequential([layers.Input(shape=(12,))] + stack())
    pynn.utils.set_random_seed(3)
    inp = pynn.Input(shape=(12,))
    h = inp
    for layer in stack():
        h = layer(h)
    fun = pynn.Model(inp, h)
    fun.set_weights(seq.get_weights())
    for model in (seq, fun):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    pynn.utils.set_random_seed(5)
    h1 = seq.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    pynn.utils.set_random_seed(5)
    h2 = fun.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert h1 == h2
    for p, q in zip(seq.get_weights(), fun.get_weights()):
        np.testing.assert_array_equal(p, q)


def test_two_inputs_two_outputs_learn_with_per_output_losses(rng):
    n = 512
    xa, xb = rng.standard_normal((n, 6)).astype(np.float32), rng.standard_normal((n, 4)).astype(np.float32)
    label = (xa[:, 0] + xb[:, 0] > 0).astype(np.int64)
    target = (xa[:, 1] * 2 - xb[:, 1]).astype(np.float32)[:, None]
    a, b = pynn.Input(shape=(6,), name="left"), pynn.Input(shape=(4,), name="right")
    h = layers.Dense(16, activation="relu")(layers.concatenate([a, b]))
    cls = layers.Dense(2, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = pynn.Model({"left": a, "right": b}, {"cls": cls, "reg": reg})
    model.compile(optimizer=pynn.optimizers.Adam(0.01), loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]})
    hist = model.fit({"left": xa, "right": xb}, {"cls": label, "reg": target}, batch_size=32, epochs=15,
                     verbose=0).history
    assert list(hist) == ["loss", "cls_loss", "reg_loss", "cls_accuracy"]
    np.testing.assert_allclose(hist["loss"][-1], hist["cls_loss"][-1] + 0.5 * hist["reg_loss"][-1], rtol=1e-5)
    assert hist["cls_accuracy"][-1] > 0.95 and hist["reg_loss"][-1] < 0.05
    loss, cls_loss, reg_loss, acc = model.evaluate([xa, xb], [label, target], verbose=0)
    assert acc > 0.95 and reg_loss < 0.05
    pred = model.predict([xa, xb])
    assert [p.shape for p in pred] == [(n, 2), (n, 1)]
    with pytest.raises(ValueError, match="y lacks \\['reg'\\]"):
        model.fit([xa, xb], {"cls": label}, verbose=0)
    with pytest.raises(ValueError, match="has 2 input\\(s\\) \\['left', 'right'\\], got a list of 1"):
        model.predict([xa])
    with pytest.raises(ValueError, match="Input 'right' of model .* expected shape \\(None, 4\\), got \\(512, 3\\)"):
        model.evaluate([xa, xb[:, :3]], [label, target], verbose=0)


def test_gan_step_freezes_the_discriminator_only_inside_the_combined_model(rng):
    generator = pynn.Sequential([layers.Input(shape=(3,)), layers.Dense(8, activation="relu"),
                                 layers.Dense(5, activation="tanh")], name="generator")
    discriminator = pynn.Sequential([layers.Input(shape=(5,)), layers.Dense(8, activation="relu"),
                                     layers.Dense(1, activation="sigmoid")], name="discriminator")
    discriminator.compile(optimizer="adam", loss="binary_crossentropy")
    discriminator.trainable = False
    z = pynn.Input(shape=(3,))
    combined = pynn.Model(z, discriminator(generator(z)))
    combined.compile(optimizer="adam", loss="binary_crossentropy")
    assert len(combined.trainable_weights) == 4   # the generator's only
    noise, real = rng.standard_normal((16, 3)), rng.standard_normal((16, 5))
    d_before, g_before = discriminator.get_weights(), generator.get_weights()
    combined.train_on_batch(noise, np.ones((16, 1)))
    for p, q in zip(discriminator.get_weights(), d_before):
        np.testing.assert_array_equal(p, q)
    assert all(not np.array_equal(p, q) for p, q in zip(generator.get_weights(), g_before))
    fake = generator.predict(noise, verbose=0)
    discriminator.train_on_batch(np.concatenate([real, fake]), np.r_[np.ones((16, 1)), np.zeros((16, 1))])
    assert all(not np.array_equal(p, q) for p, q in zip(discriminator.get_weights(), d_before))
    g_now = generator.get_weights()
    discriminator.train_on_batch(real, np.ones((16, 1)))       # its own step leaves the generator alone
    for p, q in zip(generator.get_weights(), g_now):
        np.testing.assert_array_equal(p, q)


def test_encoder_decoder_states_and_fixed_training_mode(rng):
    enc_in, dec_in = pynn.Input(shape=(None, 3), dtype=F64), pynn.Input(shape=(None, 2), dtype=F64)
    _, h, c = layers.LSTM(4, return_state=True, dtype=F64)(enc_in)
    seq = layers.LSTM(4, return_sequences=True, dtype=F64)(dec_in, initial_state=[h, c])
    model = pynn.Model([enc_in, dec_in], layers.TimeDistributed(layers.Dense(2, dtype=F64))(seq))
    check_model_gradients(model, [rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 2))], rtol=1e-5)

    x = pynn.Input(shape=(4,))
    bn = layers.BatchNormalization()
    frozen = pynn.Model(x, layers.Dense(1)(bn(x, training=False)))   # always in inference mode
    frozen.compile(optimizer="sgd", loss="mse")
    frozen.fit(rng.standard_normal((64, 4)) * 3 + 2, rng.standard_normal((64, 1)), verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.value, np.zeros(4, np.float32))


def test_masks_flow_through_a_functional_graph_as_in_sequential(rng):
    tokens = rng.integers(1, 20, (4, 7))
    tokens[1, 4:] = 0
    tokens[3, 2:] = 0
    pynn.utils.set_random_seed(0)
    seq = pynn.Sequential([layers.Input(shape=(None,)), layers.Embedding(20, 5, mask_zero=True), layers.GRU(3)])
    inp = pynn.Input(shape=(None,))
    emb, gru = layers.Embedding(20, 5, mask_zero=True), layers.GRU(3)
    fun = pynn.Model(inp, gru(emb(inp)))
    fun.set_weights(seq.get_weights())
    np.testing.assert_array_equal(seq.predict(tokens, verbose=0), fun.predict(tokens, verbose=0))
    unmasked = pynn.Sequential([layers.Input(shape=(None,)), layers.Embedding(20, 5), layers.GRU(3)])
    unmasked.set_weights(seq.get_weights())
    assert not np.allclose(unmasked.predict(tokens, verbose=0)[1], fun.predict(tokens, verbose=0)[1])


def test_lambda_without_gradient_and_graph_errors(rng):
    x = pynn.Input(shape=(3,))
    scaled = layers.Lambda(lambda v: v * 2.0, name="scale")(x)          # before every weight: no gradient needed
    model = pynn.Model(x, layers.Dense(1)(scaled))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(rng.standard_normal((8, 3)), rng.standard_normal((8, 1)), verbose=0)
    y = layers.Lambda(np.sin, name="sine")(layers.Dense(2)(x))
    blocked = pynn.Model(x, y)
    blocked.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="Lambda 'sine' has no gradient"):
        blocked.fit(rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), verbose=0)
    assert layers.Lambda(lambda v: v[:, :2]).compute_output_shape((None, 5)) == (None, 2)

    other = pynn.Input(shape=(3,), name="other")
    with pytest.raises(ValueError, match="disconnected: it reads Input 'other'"):
        pynn.Model(x, layers.Add()([scaled, other]))
    with pytest.raises(ValueError, match="every input must come from pynn.Input"):
        pynn.Model(scaled, layers.Dense(1)(scaled))
    with pytest.raises(ValueError, match="Layer 'dense_in' takes one input tensor, got a list of 2"):
        layers.Dense(2, name="dense_in")([x, other])
    with pytest.raises(ValueError, match="Layer 'd5': expected input of shape \\(None, 3\\), got \\(None, 4\\)"):
        d5 = layers.Dense(1, name="d5")
        d5(x)
        d5(pynn.Input(shape=(4,)))
    total = x + x * x - x                                # arithmetic records ops, as Keras 3's tensors do
    nodes = pynn.Model(x, total)._nodes
    assert [(type(n.layer).__name__, n.layer.op_name) for n in nodes] == [
        ("OpLayer", "multiply"), ("OpLayer", "add"), ("OpLayer", "subtract")]


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_bidirectional_states_in_and_out(rng, merge_mode):
    x = pynn.Input(shape=(None, 3), dtype=F64)
    states = [pynn.Input(shape=(4,), dtype=F64) for _ in range(4)]
    bi = layers.Bidirectional(layers.LSTM(4, return_sequences=True, return_state=True, dtype=F64),
                              merge_mode=merge_mode, dtype=F64)
    outs = bi(x, initial_state=states)
    assert len(outs) == (5 if merge_mode else 6) and outs[-1].shape == (None, 4)
    model = pynn.Model([x] + states, outs)
    xs = [rng.standard_normal((2, 5, 3))] + [rng.standard_normal((2, 4)) for _ in range(4)]
    check_model_gradients(model, xs, rtol=1e-5)
    # the forward half is an LSTM started from the first two states; the backward half reads time reversed
    ys = model.predict(xs, verbose=0)
    lstm = layers.LSTM(4, return_sequences=True, return_state=True, dtype=F64)
    lstm.build_for((None, None, 3))
    lstm.set_weights(bi.forward_layer.get_weights())
    y, h, c = lstm(xs[0], initial_state=xs[1:3])
    np.testing.assert_allclose(ys[0][..., :4], y, rtol=1e-12)
    np.testing.assert_allclose(ys[-4], h, rtol=1e-12)
    np.testing.assert_allclose(ys[-3], c, rtol=1e-12)
    lstm.set_weights(bi.backward_layer.get_weights())
    y, h, c = lstm(xs[0][:, ::-1], initial_state=xs[3:5])
    np.testing.assert_allclose(ys[-2], h, rtol=1e-12)
    back = ys[0][..., 4:] if merge_mode else ys[1]
    np.testing.assert_allclose(back, y[:, ::-1], rtol=1e-12)


def test_trainable_false_at_construction_freezes_the_layers(rng):
    x = pynn.Input(shape=(3,))
    dense = layers.Dense(2)
    frozen = pynn.Model(x, dense(x), trainable=False)
    assert not dense.trainable and frozen.trainable_weights == [] and len(frozen.non_trainable_weights) == 2


@pytest.mark.parametrize("pooling", ["max2d", "global_max2d", "max1d", "global_max1d"])
def test_fine_tuning_through_a_base_called_with_training_false(pooling):
    """The transfer-learning guide: the base model is called with training=False, then unfrozen and trained.
    Max pooling inside it must still pass gradients back (the same as without training=False here, since
    the base has no layer whose behaviour depends on training)."""
    one_d = pooling.endswith("1d")
    shape = (12, 2) if one_d else (8, 8, 2)
    conv = layers.Conv1D(3, 3) if one_d else layers.Conv2D(3, 3)
    pool = {"max2d": layers.MaxPooling2D(), "global_max2d": layers.GlobalMaxPooling2D(),
            "max1d": layers.MaxPooling1D(), "global_max1d": layers.GlobalMaxPooling1D()}[pooling]
    stack = [conv, pool] + ([] if pooling.startswith("global") else [layers.Flatten()])
    x = np.random.default_rng(0).standard_normal((6,) + shape).astype(np.float32)
    y = np.arange(6) % 2
    results = []
    for fixed in (False, None):
        pynn.utils.set_random_seed(3)
        base = pynn.Sequential([layers.Input(shape)] + [type(layer).from_config(layer.get_config())
                                                        for layer in stack])
        inputs = pynn.Input(shape)
        model = pynn.Model(inputs, layers.Dense(2, activation="softmax")(base(inputs, training=fixed)))
        base.trainable = False
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, verbose=0)
        base.trainable = True
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        before = base.get_weights()[0].copy()
        model.fit(x, y, verbose=0)
        assert not np.array_equal(base.get_weights()[0], before)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
