"""Recurrent layers (SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed, Embedding, Masking): float64
gradient checks for each option, configs, Keras's weight layout, states, masks, bad input."""
import numpy as np
import pytest

import pynn
from pynn import layers
from gradcheck import check_layer_gradients, numeric_gradient

RNN_CASES = [
    ("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False}),
    ("SimpleRNN", {"activation": "relu"}), ("LSTM", {"use_bias": False}),
]
OPTION_CASES = [{}, {"return_sequences": True}, {"go_backwards": True},
                {"go_backwards": True, "return_sequences": True}]


def make(kind, **kw):
    return getattr(layers, kind)(dtype="float64", **kw)


def check_call_gradients(layer, x, mask=None, initial_state=None, training=False, seed=0):
    """Like gradcheck.check_layer_gradients, for calls with a mask, initial states and list outputs."""
    rng = np.random.default_rng(seed)
    layer.build_for(x.shape)
    kwargs = {"initial_state": initial_state} if initial_state is not None else {}
    out, ctx = layer.forward(x, training, mask=mask, **kwargs)
    outs = out if isinstance(out, list) else [out]
    gs = [rng.standard_normal(o.shape) for o in outs]
    for w in layer.weights:
        w.grad.fill(0)
    grads = layer.backward(ctx, gs if isinstance(out, list) else gs[0])
    grads = grads if isinstance(grads, list) else [grads]

    def f():
        o = layer.forward(x, training, mask=mask, **kwargs)[0]
        return float(sum(np.sum(g * v) for g, v in zip(gs, o if isinstance(o, list) else [o])))

    for got, arr, name in zip(grads, [x] + list(initial_state or []), ["x", "h0", "c0"]):
        np.testing.assert_allclose(got, numeric_gradient(f, arr), rtol=1e-6, atol=1e-8, err_msg=name)
    for w in layer.trainable_weights:
        np.testing.assert_allclose(w.grad, numeric_gradient(f, w.value), rtol=1e-6, atol=1e-8, err_msg=w.name)


@pytest.mark.parametrize("kind,kw", RNN_CASES)
@pytest.mark.parametrize("options", OPTION_CASES)
def test_rnn_gradients(rng, kind, kw, options):
    layer = make(kind, units=3, **kw, **options)
    check_layer_gradients(layer, rng.standard_normal((2, 4, 3)))


@pytest.mark.parametrize("kind,kw", RNN_CASES[:4])
def test_rnn_gradients_with_mask_initial_state_and_return_state(rng, kind, kw):
    x = rng.standard_normal((3, 5, 2))
    mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [0, 1, 1, 1, 1]], bool)
    states = [rng.standard_normal((3, 3)) for _ in range(2 if kind == "LSTM" else 1)]
    for options in OPTION_CASES:
        layer = make(kind, units=3, return_state=True, **kw, **options)
        check_call_gradients(layer, x, mask=mask, initial_state=[s.copy() for s in states])
        check_call_gradients(make(kind, units=3, **kw, **options), x, mask=mask)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_rnn_gradients_with_dropout(rng, kind):
    layer = make(kind, units=3, dropout=0.3, recurrent_dropout=0.4, return_sequences=True)
    x = rng.standard_normal((3, 4, 2))
    layer.build_for(x.shape)
    fixed = {}

    def fixed_mask(shape, rate):  # the same dropout masks for every finite-difference evaluation
        return fixed.setdefault((shape, rate), ((rng.random(shape) > rate) / (1 - rate)).astype(np.float64))

    layer._dropout_mask = fixed_mask
    check_call_gradients(layer, x, training=True)
    assert any(np.any(m == 0) for m in fixed.values())


def test_dropout_only_in_training():
    layer = layers.LSTM(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = np.ones((2, 3, 5), np.float32)
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(layer.forward(x, training=True)[0], a)


def test_keras_weight_layout_and_round_trip(rng):
    x = rng.standard_normal((2, 6, 5)).astype(np.float32)
    expected = {"SimpleRNN": [(5, 7), (7, 7), (7,)], "LSTM": [(5, 28), (7, 28), (28,)],
                "GRU": [(5, 21), (7, 21), (2, 21)]}
    for kind, shapes in expected.items():
        a, b = getattr(layers, kind)(7), getattr(layers, kind)(7)
        a(x), b(x)
        assert [w.shape for w in a.get_weights()] == shapes
        assert [w.name for w in a.weights] == ["kernel", "recurrent_kernel", "bias"]
        b.set_weights(a.get_weights())
        np.testing.assert_array_equal(a(x), b(x))
    gru = layers.GRU(7, reset_after=False)
    gru(x)
    assert gru.bias.shape == (21,)
    lstm = layers.LSTM(7)
    lstm(x)
    np.testing.assert_array_equal(lstm.bias.value, np.r_[np.zeros(7), np.ones(7), np.zeros(14)])
    rk = lstm.recurrent_kernel.value  # orthogonal: rows orthonormal (7 x 28)
    np.testing.assert_allclose(rk @ rk.T, np.eye(7), atol=1e-5)
    plain = layers.LSTM(7, unit_forget_bias=False)
    plain(x)
    np.testing.assert_array_equal(plain.bias.value, np.zeros(28))


@pytest.mark.parametrize("layer", [
    layers.SimpleRNN(4, activation="relu", return_sequences=True, dropout=0.1, kernel_regularizer="l2"),
    layers.LSTM(4, unit_forget_bias=False, go_backwards=True, recurrent_dropout=0.2, stateful=True),
    layers.GRU(4, reset_after=False, return_state=True, unroll=True),
    layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="sum"),
    layers.TimeDistributed(layers.Dense(3, activation="relu")),
    layers.Embedding(10, 3, mask_zero=True), layers.Masking(-1.0),
])
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_stateful_carries_and_resets(rng):
    x = rng.standard_normal((3, 8, 2)).astype(np.float64)
    whole = layers.GRU(5, dtype="float64", return_sequences=True)
    full = whole(x)
    s = layers.GRU(5, dtype="float64", return_sequences=True, stateful=True)
    s(x[:, :4])
    s.set_weights(whole.get_weights())
    s.reset_states()
    np.testing.assert_allclose(np.concatenate([s(x[:, :4]), s(x[:, 4:])], axis=1), full, rtol=1e-12)
    s.reset_states()
    np.testing.assert_allclose(s(x[:, :4]), full[:, :4], rtol=1e-12)
    with pytest.raises(ValueError, match="stateful with batch size 3"):
        s(x[:2])
    with pytest.raises(AttributeError):
        whole.reset_states()


def test_return_state_values(rng):
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    out, h, c = layers.LSTM(4, return_state=True, return_sequences=True)(x)
    np.testing.assert_array_equal(out[:, -1], h)
    assert c.shape == (2, 4)
    assert len(layers.GRU(4, return_state=True)(x)) == 2


def test_any_sequence_length_in_a_model(rng):
    model = pynn.models.Sequential([layers.Input((None, 2)), layers.LSTM(6), layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(rng.standard_normal((16, 10, 2)), rng.standard_normal((16, 1)), epochs=1, verbose=0)
    assert model.predict(rng.standard_normal((5, 17, 2)), verbose=0).shape == (5, 1)
    assert model.output_shape == (None, 1)
    seq = pynn.models.Sequential([layers.Input((None, 2)), layers.GRU(3, return_sequences=True),
                                  layers.TimeDistributed(layers.Dense(2))])
    assert seq(rng.standard_normal((4, 9, 2))).shape == (4, 9, 2)
    assert seq.output_shape == (None, None, 2)


def test_embedding_mask_flows_to_the_rnn(rng):
    """Right-padded sequences under Embedding(mask_zero=True) give each sample's unpadded result."""
    tokens = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2], [5, 0, 0, 0, 0]])
    emb = layers.Embedding(10, 4, mask_zero=True, dtype="float64")
    rnn = layers.LSTM(3, dtype="float64")
    model = pynn.models.Sequential([layers.Input((None,)), emb, layers.Dropout(0.5), rnn], )
    model.dtype = np.dtype("float64")
    y = model(tokens)
    for i, row in enumerate(tokens):
        n = int(np.count_nonzero(row))
        np.testing.assert_allclose(y[i], rnn(emb(row[None, :n]))[0], rtol=1e-12)
    np.testing.assert_array_equal(emb.compute_mask(tokens, None), tokens != 0)


def test_masking_layer_flows_to_the_rnn(rng):
    x = rng.standard_normal((2, 6, 3))
    x[0, 4:] = 0.0
    rnn = layers.GRU(4, dtype="float64", return_sequences=True)
    model = pynn.models.Sequential([layers.Input((None, 3)), layers.Masking(0.0), rnn])
    model.dtype = np.dtype("float64")
    y = model(x)
    np.testing.assert_allclose(y[0, :4], rnn(x[:1, :4])[0], rtol=1e-12)
    np.testing.assert_array_equal(y[0, 4:], np.repeat(y[0, 3:4], 2, axis=0))  # masked: previous output
    check_layer_gradients(layers.Masking(0.0, dtype="float64"), x + 0.5)  # away from the mask's jump


def test_embedding_gradient_and_errors(rng):
    emb = layers.Embedding(6, 3, dtype="float64")
    idx = np.array([[1, 5, 1], [0, 2, 1]])
    y, ctx = (emb.build_for(idx.shape), emb.forward(idx))[1]
    np.testing.assert_array_equal(y, emb.embeddings.value[idx])
    g = rng.standard_normal(y.shape)
    emb.embeddings.grad.fill(0)
    emb.backward(ctx, g)
    np.testing.assert_allclose(emb.embeddings.grad,
                               numeric_gradient(lambda: float(np.sum(g * emb.forward(idx)[0])), emb.embeddings.value))
    bound = np.abs(layers.Embedding(50, 20)(np.arange(50)[None])).max()
    assert 0.03 < bound <= 0.05  # Keras's uniform(-0.05, 0.05)
    with pytest.raises(ValueError, match=r"Layer 'embedding.*indices must be in \[0, 6\)"):
        emb(np.array([[6]]))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_gradients(rng, merge_mode, return_sequences):
    layer = layers.Bidirectional(layers.GRU(3, dtype="float64", return_sequences=return_sequences),
                                 merge_mode=merge_mode, dtype="float64")
    x = rng.standard_normal((2, 4, 2))
    check_layer_gradients(layer, x)
    check_call_gradients(layer, x, mask=np.array([[1, 1, 1, 0], [1, 0, 1, 1]], bool))


def test_bidirectional_outputs(rng):
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    bi = layers.Bidirectional(layers.LSTM(4, return_sequences=True, name="enc"))
    y = bi(x)
    assert y.shape == (2, 5, 8)
    assert (bi.forward_layer.name, bi.backward_layer.name) == ("forward_enc", "backward_enc")
    f, b = bi.forward_layer(x), bi.backward_layer(x)
    np.testing.assert_array_equal(y, np.concatenate([f, b[:, ::-1]], axis=-1))
    assert len(bi.get_weights()) == 6
    yf, yb = layers.Bidirectional(layers.GRU(2), merge_mode=None)(x)
    assert yf.shape == yb.shape == (2, 2)


def test_time_distributed_gradients(rng):
    check_layer_gradients(layers.TimeDistributed(layers.Dense(3, activation="tanh", dtype="float64"),
                                                 dtype="float64"), rng.standard_normal((2, 4, 5)))


@pytest.mark.parametrize("layer", [
    layers.SimpleRNN(5, return_sequences=True), layers.LSTM(5, go_backwards=True),
    layers.GRU(5, reset_after=False, return_sequences=True), layers.GRU(5), layers.LSTM(5, stateful=True)])
def test_predict_runs_the_forward_alone_with_the_same_bits(rng, layer):
    """predict() runs the kernel's forward without keeping every step's gates (a stateful layer through
    forward); the outputs are the bits of forward(training=False), at a batch size predict splits."""
    model = pynn.models.Sequential([layers.Input((7, 20)), layer, layers.Dense(2)])
    n = 64 if layer.stateful else 70  # a stateful layer takes one batch size
    x = rng.standard_normal((n, 7, 20)).astype(np.float32)
    expected = np.concatenate([model.forward(x[i:i + 32], training=False)[0] for i in range(0, n, 32)])
    if layer.stateful:
        layer.reset_states()
    np.testing.assert_array_equal(model.predict(x, batch_size=32, verbose=0), expected)
    if not layer.stateful:
        np.testing.assert_array_equal(model(x[:5]), model.forward(x[:5], training=False)[0])


def test_bad_input_names_the_layer(rng):
    lstm = layers.LSTM(4, name="my_lstm")
    with pytest.raises(ValueError, match="my_lstm.*batch, timesteps, features"):
        lstm(np.zeros((2, 3), np.float32))
    lstm(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="my_lstm"):
        lstm(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="my_lstm"):
        lstm(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(ValueError, match=r"my_lstm.*mask of shape \(2, 3\)"):
        lstm(np.zeros((2, 3, 5), np.float32), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="my_lstm.*initial states"):
        lstm(np.zeros((2, 3, 5), np.float32), initial_state=[np.zeros((2, 4)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match="my_lstm.*expected 5 features"):
        lstm.forward(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(ValueError, match="units"):
        layers.GRU(0)
    with pytest.raises(ValueError, match="dropout"):
        layers.SimpleRNN(3, dropout=1.0)
    model = pynn.models.Sequential([layers.Input((None, 5)), layers.GRU(2, name="g")])
    with pytest.raises(ValueError, match="(?i)layer 'g'"):
        model.predict(np.zeros((2, 3, 4), np.float32))
    y, ctx = lstm.forward(np.ones((2, 3, 5), np.float32), training=True)
    lstm.backward(ctx, np.ones_like(y))
    with pytest.raises(ValueError, match="my_lstm: this forward call was already taken backward"):
        lstm.backward(ctx, np.ones_like(y))


def _adding_problem(n, steps, rng):
    """Inputs (value, marker) over `steps` steps; the target is the sum of the two marked values, one marked
    in each half. Predicting the mean (1.0) gives MSE 1/6."""
    values = rng.uniform(0, 1, (n, steps))
    markers = np.zeros((n, steps))
    rows = np.arange(n)
    markers[rows, rng.integers(0, steps // 2, n)] = 1
    markers[rows, rng.integers(steps // 2, steps, n)] = 1
    return (np.stack([values, markers], -1).astype(np.float32),
            (values * markers).sum(1, keepdims=True).astype(np.float32))


def test_adding_problem_lstm_learns_simple_rnn_does_not():
    """The adding problem over 60 steps (4000 training sequences, 25 epochs, Adam 0.005, batch 64): the LSTM
    gets at least 90% of 1000 test sums within 0.1 (test MSE < 0.01); a SimpleRNN trained the same way stays
    near the mean predictor (MSE > 0.1, under 40% within 0.1). About 10 s on 2 cores."""
    rng = np.random.default_rng(0)
    x, y = _adding_problem(4000, 60, rng)
    xt, yt = _adding_problem(1000, 60, rng)
    results = {}
    for kind in ("LSTM", "SimpleRNN"):
        pynn.utils.set_random_seed(1)
        model = pynn.models.Sequential([layers.Input((None, 2)), getattr(layers, kind)(32), layers.Dense(1)])
        model.compile(pynn.optimizers.Adam(0.005), "mse")
        model.fit(x, y, batch_size=64, epochs=25, verbose=0)
        pred = model.predict(xt, verbose=0)
        results[kind] = (float(np.mean((pred - yt) ** 2)), float(np.mean(np.abs(pred - yt) < 0.1)))
    assert results["LSTM"][0] < 0.01 and results["LSTM"][1] >= 0.9, results
    assert results["SimpleRNN"][0] > 0.1 and results["SimpleRNN"][1] < 0.4, results


def test_text_example_runs_and_learns(capsys):
    """pynn.examples.text_rnn on a small budget (3000 reviews, 4 epochs; labels are balanced): it runs end to
    end (Embedding with mask_zero, Bidirectional LSTM, masks through the model) and beats chance (0.5)."""
    from pynn.examples import text_rnn
    tokens, labels, texts = text_rnn.generate(50, seed=3)
    assert tokens.shape == (50, 30) and set(np.unique(labels)) <= {0, 1}
    assert all(len(t.split()) == np.count_nonzero(row) for t, row in zip(texts, tokens))
    accuracy = text_rnn.main(["--samples", "3000", "--epochs", "4"])
    assert accuracy > 0.6


def test_rnn_as_last_layer_with_a_sigmoid_and_cross_entropy(rng):
    """The model must not fuse the RNN's activation into the loss (it sits inside the recurrence)."""
    model = pynn.models.Sequential([layers.Input((5, 2)), layers.SimpleRNN(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    x, y = rng.standard_normal((8, 5, 2)), (rng.random((8, 1)) > 0.5).astype(np.float32)
    loss = model.train_on_batch(x, y)
    p = np.clip(model.predict(x, verbose=0), 1e-7, 1 - 1e-7)
    assert np.isfinite(loss) and 0 < p.min() and p.max() < 1
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0),
                               -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rtol=1e-4)


def test_training_is_bit_identical_on_one_and_two_threads(threads, rng):
    """A few Adam steps of Embedding -> Bidirectional(GRU) / LSTM -> Dense give the same weights, bit for bit,
    on one and two threads (batch 40: three batch chunks, one ragged)."""
    x = rng.integers(0, 12, (40, 9))
    x[:5, 6:] = 0
    y = rng.standard_normal((40, 1)).astype(np.float32)
    results = []
    for n in (1, 2):
        threads(n)
        pynn.utils.set_random_seed(3)
        model = pynn.models.Sequential([
            layers.Input((None,)), layers.Embedding(12, 6, mask_zero=True),
            layers.Bidirectional(layers.GRU(7, return_sequences=True)), layers.LSTM(5, dropout=0.2),
            layers.Dense(1)])
        model.compile("adam", "mse")
        for _ in range(3):
            model.train_on_batch(x, y)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_activation_without_a_recurrent_kernel_is_refused_by_name():
    import pynn
    for name in ("mish", "hard_silu", "softmax"):
        with pytest.raises(ValueError, match=rf"lstm.*compute elementwise in C\+\+ \(.*tanh\); got '{name}'"):
            pynn.layers.LSTM(3, activation=name)
