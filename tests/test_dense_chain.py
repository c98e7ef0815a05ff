"""The one-call training step of Dense / Dropout stacks (pynn.training.dense_chain) against the
layer-by-layer step: the same losses, metrics and weights, bit for bit, or the layer-by-layer step itself
wherever the chain does not apply."""

import numpy as np
import pytest

import pynn
from pynn import layers, kernels
from pynn.models import Sequential
from pynn.training import dense_chain


def data(rng, n, features, classes, dtype="float32"):
    x = rng.standard_normal((n, features)).astype(dtype)
    y = (x @ rng.standard_normal((features, classes))).argmax(axis=1)
    return x, y


def train(build, x, y, chain, monkeypatch, epochs=2, batch_size=16, **fit):
    """Train a fresh model from seed 7 with the chain on or off; returns (model, history)."""
    monkeypatch.setattr(dense_chain, "ENABLED", chain)
    pynn.utils.set_random_seed(7)
    model = build()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, **fit)
    return model, history.history


def assert_same_training(build, x, y, monkeypatch, uses_chain=True, **fit):
    fused, h_fused = train(build, x, y, True, monkeypatch, **fit)
    plain, h_plain = train(build, x, y, False, monkeypatch, **fit)
    assert bool(fused._chain_step) == uses_chain
    assert h_fused == h_plain
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    return fused


def mlp(hidden=(24, 12), activation="relu", rate=0.25, use_bias=True, dtype=None,
        loss="sparse_categorical_crossentropy", optimizer="adam", features=20, classes=5, **last):
    stack = [layers.Input(shape=(features,), dtype=dtype)]
    for units in hidden:
        stack += [layers.Dense(units, activation=activation, use_bias=use_bias, dtype=dtype)]
        if rate:
            stack += [layers.Dropout(rate, dtype=dtype)]
    stack += [layers.Dense(classes, activation="softmax", dtype=dtype, **last)]
    model = Sequential(stack)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "elu", None])
def test_same_training_as_layer_by_layer(activation, rng, monkeypatch):
    # tanh and sigmoid run inside the GEMM (derivative from the output); relu, gelu and elu keep their input
    x, y = data(rng, 70, 20, 5)  # 70 rows: the last batch has 6
    assert_same_training(lambda: mlp(activation=activation), x, y, monkeypatch)


@pytest.mark.parametrize("case", ["float64", "no_bias", "no_dropout", "int32_labels", "sgd", "one_layer",
                                  "input_dropout", "zero_rate", "functional", "constraint"])
def test_same_training_in_other_configurations(case, rng, monkeypatch):
    x, y = data(rng, 50, 20, 5, dtype="float64" if case == "float64" else "float32")
    if case == "int32_labels":
        y = y.astype(np.int32)
    build = {
        "float64": lambda: mlp(dtype="float64"),
        "no_bias": lambda: mlp(use_bias=False),
        "no_dropout": lambda: mlp(rate=0),
        "int32_labels": lambda: mlp(),
        "sgd": lambda: mlp(optimizer=pynn.optimizers.SGD(0.05, momentum=0.9, nesterov=True)),
        "one_layer": lambda: mlp(hidden=()),
        "zero_rate": lambda: mlp(rate=0.0),
        "constraint": lambda: mlp(kernel_constraint=pynn.constraints.MaxNorm(0.5)),
    }.get(case)
    if case == "input_dropout":
        def build():
            model = Sequential([layers.Input(shape=(20,)), layers.Dropout(0.1), layers.Dense(8, activation="relu"),
                                layers.Dropout(0.0), layers.Dense(5, activation="softmax")])
            model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
    elif case == "functional":
        def build():
            inputs = pynn.Input(shape=(20,))
            h = layers.Dropout(0.3)(layers.Dense(16, activation="relu")(inputs))
            model = pynn.Model(inputs, layers.Dense(5, activation="softmax")(h))
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
    assert_same_training(build, x, y, monkeypatch)


def test_same_training_with_one_hot_targets(rng, monkeypatch):
    x, labels = data(rng, 40, 20, 5)
    y = pynn.utils.to_categorical(labels, 5)
    assert_same_training(lambda: mlp(loss="categorical_crossentropy"), x, y, monkeypatch)


@pytest.mark.parametrize("case", ["regularizer", "activity", "label_smoothing", "mse", "frozen", "batch_norm",
                                  "shared_layer", "loss_from_logits", "ignore_class"])
def test_other_models_take_the_layer_by_layer_step(case, rng, monkeypatch):
    x, y = data(rng, 40, 20, 5)
    if case in ("label_smoothing", "mse"):
        y = pynn.utils.to_categorical(y, 5)

    def build():
        if case == "regularizer":
            return mlp(kernel_regularizer=pynn.regularizers.L2(0.01))
        if case == "activity":
            return mlp(activity_regularizer=pynn.regularizers.L1(0.01))
        if case == "label_smoothing":
            return mlp(loss=pynn.losses.CategoricalCrossentropy(label_smoothing=0.1))
        if case == "mse":
            return mlp(loss="mse")
        if case == "ignore_class":
            return mlp(loss=pynn.losses.SparseCategoricalCrossentropy(ignore_class=0))
        if case == "loss_from_logits":
            model = Sequential([layers.Input(shape=(20,)), layers.Dense(5)])
            model.compile(optimizer="adam", loss=pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
            return model
        if case == "frozen":
            model = mlp()
            model.layers[0].trainable = False
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model
        if case == "batch_norm":
            model = Sequential([layers.Input(shape=(20,)), layers.Dense(8), layers.BatchNormalization(),
                                layers.Dense(5, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model
        shared = layers.Dense(20, activation="relu")
        model = Sequential([layers.Input(shape=(20,)), shared])
        model.add(layers.Dense(5, activation="softmax"))
        inputs = pynn.Input(shape=(20,))
        model = pynn.Model(inputs, model.layers[1](shared(shared(inputs))))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model
    assert_same_training(build, x, y, monkeypatch, uses_chain=False)


def test_a_dropout_rate_set_after_the_first_step_is_honoured(rng, monkeypatch):
    x, y = data(rng, 64, 20, 5)

    def train_with_rate_change(chain):
        monkeypatch.setattr(dense_chain, "ENABLED", chain)
        pynn.utils.set_random_seed(7)
        model = Sequential([layers.Input(shape=(20,)), layers.Dense(16, activation="relu"), layers.Dropout(0.0),
                            layers.Dense(12, activation="relu"), layers.Dropout(0.0),
                            layers.Dense(5, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        assert bool(model._chain_step) == chain
        model.layers[1].rate = 0.5
        model.layers[3].rate = 0.25
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        return model.get_weights()
    for a, b in zip(train_with_rate_change(True), train_with_rate_change(False)):
        assert np.array_equal(a, b)


def test_sample_weights_take_the_layer_by_layer_step(rng, monkeypatch):
    x, y = data(rng, 40, 20, 5)
    weights = rng.random(40)
    assert_same_training(mlp, x, y, monkeypatch, sample_weight=weights)
    assert_same_training(mlp, x, y, monkeypatch, class_weight={0: 2.0, 1: 0.5})


def test_same_weights_with_one_and_two_threads(threads, rng):
    x, y = data(rng, 200, 784, 10)
    results = []
    for t in (1, 2):
        threads(t)
        pynn.utils.set_random_seed(3)
        model = mlp(hidden=(128, 64), rate=0.2, features=784, classes=10)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        assert model._chain_step
        results.append(model.get_weights())
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_bad_labels_raise_the_loss_error_and_change_no_weight(rng):
    x, y = data(rng, 32, 20, 5)
    model = mlp()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert model._chain_step
    before = model.get_weights()
    y_bad = y.copy()
    y_bad[3] = 5
    with pytest.raises(ValueError, match=r"label 5 \(sample 3\) is out of range"):
        model.train_on_batch(x[:16], y_bad[:16])
    for a, b in zip(before, model.get_weights()):
        assert np.array_equal(a, b)


def build_chain(rng, dtype="float32"):
    kernel = pynn.variable.Variable(rng.standard_normal((6, 4)).astype(dtype))
    bias = pynn.variable.Variable(rng.standard_normal(4).astype(dtype))
    drop = layers.Dropout(0.5, seed=11)
    out = pynn.variable.Variable(rng.standard_normal((4, 3)).astype(dtype))
    specs = [("dense", kernel, bias, "relu", False, 6, 4), ("dropout", drop, 4),
             ("dense", out, None, None, False, 4, 3)]
    return kernels.DenseChain(specs, dtype, True), kernel, bias, drop, out


@pytest.mark.parametrize("case", ["features", "dtype", "strided", "label_range", "label_shape", "label_dtype",
                                  "empty", "kernel_shape", "kernel_dtype", "grad_readonly", "rate_changed"])
def test_a_batch_the_chain_cannot_take_returns_none_and_changes_nothing(case, rng):
    chain, kernel, _, drop, _ = build_chain(rng)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    y = np.arange(8) % 3
    if case == "features":
        x = x[:, :5].copy()
    elif case == "dtype":
        x = x.astype(np.float64)
    elif case == "strided":
        x = np.repeat(x, 2, axis=0)[::2]
    elif case == "label_range":
        y[2] = 3
    elif case == "label_shape":
        y = y[:7]
    elif case == "label_dtype":
        y = y.astype(np.float32)
    elif case == "empty":
        x, y = x[:0], y[:0]
    elif case == "kernel_shape":
        kernel.value = np.zeros((4, 6), np.float32)
    elif case == "kernel_dtype":
        kernel.value = kernel.value.astype(np.float64)
    elif case == "grad_readonly":
        kernel._grad.flags.writeable = False
    elif case == "rate_changed":
        drop.rate = 0.25
    kernel.zero_grad()
    grad = kernel._grad.copy()
    assert chain.step(x, y) is None
    assert drop._offset == 0 and kernel._grad_stale and np.array_equal(kernel._grad, grad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_step_against_numpy(dtype, rng):
    chain, kernel, bias, drop, out = build_chain(rng, dtype)
    x = rng.standard_normal((8, 6)).astype(dtype)
    y = np.arange(8) % 3
    for v in (kernel, bias, out):
        v.zero_grad()
    total, probs = chain.step(x, y)
    assert drop._offset == 8 * 4 and not kernel._grad_stale and not out._grad_stale
    # the same step in float64 NumPy, with the dropout mask drawn by kernels.dropout at the same stream position
    z = x.astype(np.float64) @ kernel.value + bias.value
    h = np.maximum(z, 0)
    _, mask = kernels.dropout(h.astype(dtype), 0.5, 11, 0)
    d = h * mask / 0.5
    logits = d @ out.value
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.eye(3)[y]
    dlogits = (p - onehot) / 8
    dz = (dlogits @ out.value.T) * mask / 0.5 * (z > 0)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(total, -np.log(p[np.arange(8), y]).sum(), **tol)
    np.testing.assert_allclose(probs, p, **tol)
    np.testing.assert_allclose(out.grad, d.T @ dlogits, **tol)
    np.testing.assert_allclose(kernel.grad, x.T @ dz, **tol)
    np.testing.assert_allclose(bias.grad, dz.sum(axis=0), **tol)


def test_a_pickled_model_trains_on_as_the_original(rng):
    import pickle
    x, y = data(rng, 48, 20, 5)
    model = mlp()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert model._chain_step
    copy = pickle.loads(pickle.dumps(model))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    copy.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert copy._chain_step
    for a, b in zip(model.get_weights(), copy.get_weights()):
        assert np.array_equal(a, b)
