"""Keras 3-style custom layers, subclassed models, GradientTape and train_step: call() differentiated
automatically, checked against the built-in layers' fused backward, finite differences and clear errors."""
import os

import numpy as np
import pytest

import pynn
from pynn import layers, ops
from gradcheck import check_layer_gradients


class CallDense(layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = activation

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        y = ops.matmul(inputs, self.kernel) + self.bias
        return ops.relu(y) if self.activation == "relu" else y


class CallConv(layers.Layer):
    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(3, 3, input_shape[-1], self.filters), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, x):
        return ops.relu(ops.conv(x, self.kernel, padding="same") + self.bias)


def _data(rng, n=64, d=20, classes=3):
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, :classes].argmax(1)).astype("int32")
    return x, y


def _copy_weights(dst, src):
    dst.set_weights(src.get_weights())


def test_custom_dense_layer_matches_builtin_dense_in_training(rng):
    x, y = _data(rng)
    built_in = pynn.Sequential([layers.Input((20,)), layers.Dense(16, activation="relu"), layers.Dense(3)])
    custom = pynn.Sequential([layers.Input((20,)), CallDense(16, activation="relu"), CallDense(3)])
    _copy_weights(custom, built_in)
    np.testing.assert_allclose(custom.predict(x, verbose=0), built_in.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    for m in (built_in, custom):
        m.compile(pynn.optimizers.SGD(0.1), pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(custom.get_weights(), built_in.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_custom_layers_match_finite_differences_in_float64(rng):
    dense = CallDense(4, activation="relu", dtype="float64")
    check_layer_gradients(dense, rng.normal(size=(5, 3)))
    conv = CallConv(2, dtype="float64")
    check_layer_gradients(conv, rng.normal(size=(2, 5, 5, 3)))


def test_custom_conv_layer_matches_builtin_conv2d(rng):
    x = rng.normal(size=(4, 6, 6, 3)).astype("float32")
    built_in = layers.Conv2D(5, 3, padding="same", activation="relu")
    custom = CallConv(5)
    built_in(x), custom(x)
    custom.set_weights(built_in.get_weights())
    y1, ctx1 = built_in.forward(x, True)
    y2, ctx2 = custom.forward(x, True)
    np.testing.assert_allclose(y2, y1, rtol=1e-5, atol=1e-5)
    dy = rng.normal(size=y1.shape).astype("float32")
    for w in built_in.weights + custom.weights:
        w.zero_grad()
    dx1, dx2 = built_in.backward(ctx1, dy), custom.backward(ctx2, dy)
    np.testing.assert_allclose(dx2, dx1, rtol=1e-4, atol=1e-4)
    for a, b in zip(custom.weights, built_in.weights):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-4, atol=1e-3)


class TwoLayer(pynn.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(16, activation="relu")
        self.out = layers.Dense(3)

    def call(self, x, training=False):
        return self.out(self.hidden(x))


def test_subclassed_model_trains_evaluates_predicts_and_saves_weights(rng, tmp_path):
    x, y = _data(rng, n=256)
    model = TwoLayer()
    model.compile(pynn.optimizers.Adam(0.01), pynn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8
    assert len(model.weights) == 4 and [l.name for l in model.layers] == [model.hidden.name, model.out.name]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.8
    path = tmp_path / "m.weights.npz"
    model.save_weights(path)
    other = TwoLayer()
    other.compile("adam", pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
    other.predict(x[:1], verbose=0)
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


class TapeStep(TwoLayer):
    def train_step(self, data):
        x, y = data
        with pynn.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_train_step_override_with_gradient_tape_equals_the_built_in_step(rng):
    x, y = _data(rng, n=96)
    pynn.utils.set_random_seed(3)
    plain, taped = TwoLayer(), TapeStep()
    for m in (plain, taped):
        m.compile(pynn.optimizers.SGD(0.05), pynn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
        m.predict(x[:1], verbose=0)
    taped.set_weights(plain.get_weights())
    h1 = plain.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    h2 = taped.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(taped.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(h2.history["accuracy"], h1.history["accuracy"])


def test_gradient_tape_through_a_sequential_model_matches_finite_differences():
    rng = np.random.default_rng(0)
    model = pynn.Sequential([layers.Input((3,), dtype="float64"), layers.Dense(4, activation="tanh", dtype="float64"),
                             layers.Dense(2, dtype="float64")])
    x = rng.normal(size=(5, 3))
    with pynn.GradientTape() as tape:
        loss = ops.sum(ops.square(model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_weights)
    for var, g in zip(model.trainable_weights, grads):
        want = np.zeros(var.shape)
        for i in np.ndindex(var.shape):
            old = var.value[i]
            var.value[i] = old + 1e-6
            plus = np.sum(model.predict(x, verbose=0) ** 2)
            var.value[i] = old - 1e-6
            minus = np.sum(model.predict(x, verbose=0) ** 2)
            var.value[i] = old
            want[i] = (plus - minus) / 2e-6
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-8)


def test_gradient_of_a_variable_not_used_is_none_and_tape_is_single_use():
    a, b = pynn.Variable(np.ones(3)), pynn.Variable(np.ones(3))
    with pynn.GradientTape() as tape:
        y = ops.sum(a * 3.0)
    assert tape.gradient(y, [a, b])[1] is None
    with pytest.raises(RuntimeError, match="once"):
        tape.gradient(y, [a])
    with pynn.GradientTape(persistent=True) as tape:
        y = ops.sum(ops.square(a))
    np.testing.assert_array_equal(tape.gradient(y, a), 2 * np.ones(3))
    np.testing.assert_array_equal(tape.gradient(y, {"a": a})["a"], 2 * np.ones(3))


class Sampling(layers.Layer):
    def call(self, inputs):
        mean, log_var = inputs
        return mean + ops.exp(0.5 * log_var) * 0.5


class KLRegularized(layers.Layer):
    def call(self, x):
        self.add_loss(0.01 * ops.sum(ops.square(x)))
        return x


def test_add_loss_joins_the_training_loss_and_its_gradient(rng):
    x, y = _data(rng, n=32)
    inputs = layers.Input((20,))
    h = KLRegularized()(layers.Dense(8)(inputs))
    model = pynn.Model(inputs, layers.Dense(3)(h))
    model.compile(pynn.optimizers.SGD(0.0), pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
    base = pynn.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model.predict(x, verbose=0))
    hidden = pynn.Model(inputs, h).predict(x, verbose=0)
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(float(base) + 0.01 * np.sum(hidden.astype(np.float64) ** 2), rel=1e-4)
    layer = model.layers[2]
    assert isinstance(layer, KLRegularized) and len(layer.losses) == 1


def test_super_call_of_a_builtin_layer_and_nested_tracking(rng):
    class ScaledDense(layers.Dense):
        def build(self, input_shape):
            super().build(input_shape)
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

        def call(self, x):
            return super().call(x) * self.scale

    class Block(layers.Layer):
        def __init__(self):
            super().__init__()
            self.inner = [ScaledDense(4, dtype="float64"), ScaledDense(2, dtype="float64")]

        def call(self, x):
            for layer in self.inner:
                x = layer(x)
            return x

    block = Block()
    x = rng.normal(size=(3, 5))
    block(x)
    assert len(block.weights) == 6 and len(block.trainable_weights) == 6
    block.inner[1].trainable = False
    assert len(block.weights) == 6 and len(block.trainable_weights) == 3
    block.inner[1].trainable = True
    replaced = Block()
    replaced(x)
    replaced.inner = replaced.inner[:1] + [ScaledDense(2, dtype="float64")]   # the dropped layer's weights go
    replaced(x)
    assert len(replaced.weights) == 6
    check_layer_gradients(block, x)


def test_custom_layers_in_the_functional_api(rng):
    inputs = layers.Input((20,))
    mean = CallDense(4)(inputs)
    log_var = CallDense(4)(inputs)
    z = Sampling()([mean, log_var])
    model = pynn.Model(inputs, layers.Dense(3)(z))
    assert model.output_shape == (None, 3)
    x, y = _data(rng, n=128)
    model.compile("adam", pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = model.fit(x, y, epochs=5, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_errors_name_the_layer_and_the_op(rng):
    class NumpyInside(layers.Layer):
        def call(self, x):
            return np.median(x, axis=-1, keepdims=True)

    class ReturnsString(layers.Layer):
        def call(self, x):
            return "nope"

    class BadShapes(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(7, 2), name="w")

        def call(self, x):
            return ops.matmul(x, self.w)

    x, y = _data(rng, n=8)
    for layer, pattern in [(NumpyInside(), r"numpy_inside.*NumPy's median has no gradient"),
                           (ReturnsString(), r"returns_string.*must return arrays"),
                           (BadShapes(), r"bad_shapes.*ops\.matmul.*\(\d+, 20\), \(7, 2\)")]:
        with pytest.raises((TypeError, ValueError), match=pattern):    # at the model's build or its first step
            model = pynn.Sequential([layers.Input((20,)), layer, layers.Dense(3)])
            model.compile("sgd", "mse")
            model.fit(x, np.zeros((8, 3), "float32"), verbose=0)


def test_numpy_written_and_ops_written_losses_get_exact_gradients(rng):
    class FourthPower(pynn.losses.Loss):
        def call(self, y_true, y_pred):
            return ops.mean(ops.power(y_pred - y_true, 4), axis=-1)

    y, p = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    value, grad = FourthPower().value_and_gradient(y, p)
    assert value == pytest.approx(np.mean((p - y) ** 4))
    np.testing.assert_allclose(grad, 4 * (p - y) ** 3 / 12, rtol=1e-12)


def test_ops_match_keras_ops_values(rng):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("needs Keras with KERAS_BACKEND=torch")
    x = rng.normal(size=(3, 4)).astype("float32")
    w = rng.normal(size=(4, 5)).astype("float32")
    cases = [("matmul", (x, w), {}), ("logsumexp", (x,), {"axis": 1}), ("softmax", (x,), {}),
             ("gelu", (x,), {}), ("std", (x,), {"axis": 0}), ("cumsum", (x,), {"axis": 1}),
             ("log_softmax", (x,), {"axis": 0}), ("hard_sigmoid", (x,), {}), ("selu", (x,), {}),
             ("tile", (x, (2, 1)), {}), ("repeat", (x, 2), {"axis": 0}), ("moments", (x, [0]), {}),
             ("one_hot", (np.array([0, 2]), 3), {}), ("clip", (x, -0.5, 0.5), {}),
             ("binary_crossentropy", (np.ones((3, 4), "float32") * 0.3, 1 / (1 + np.exp(-x))), {}),
             ("categorical_crossentropy", (np.eye(4, dtype="float32")[[0, 1, 3]], x), {"from_logits": True})]
    for name, args, kwargs in cases:
        ours = getattr(ops, name)(*args, **kwargs)
        theirs = getattr(keras.ops, name)(*args, **kwargs)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6,
                                       err_msg=name)


def test_ops_on_symbolic_tensors_build_trainable_saveable_graph_nodes(rng, tmp_path):
    inputs = layers.Input((8,))
    h = ops.relu(layers.Dense(6)(inputs)) * 2 + 1
    merged = ops.concatenate([h, inputs[:, :2]], axis=-1)
    model = pynn.Model(inputs, layers.Dense(1)(merged))
    assert model.output_shape == (None, 1)
    assert [n.layer.op_name for n in model._nodes if isinstance(n.layer, layers.OpLayer)] == [
        "relu", "multiply", "add", "getitem", "concatenate"]
    x = rng.normal(size=(64, 8)).astype("float32")
    y = x[:, :1] * 2
    dense = model.layers[1]
    expected = np.concatenate([np.maximum(x @ dense.kernel.value + dense.bias.value, 0) * 2 + 1, x[:, :2]], -1)
    last = model.layers[-1]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected @ last.kernel.value + last.bias.value,
                               rtol=1e-5, atol=1e-5)
    model.compile(pynn.optimizers.Adam(0.01), "mse")
    history = model.fit(x, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    model.save(tmp_path / "ops.keras")
    again = pynn.models.load_model(tmp_path / "ops.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_builtin_layers_with_their_own_call_train_inside_call(rng):
    """Embedding, LSTM and Bidirectional have their own __call__: inside call() they are graph nodes too."""
    class Wrapped(pynn.Model):
        def __init__(self):
            super().__init__()
            self.emb = layers.Embedding(50, 6)
            self.rnn = layers.Bidirectional(layers.LSTM(5))
            self.out = layers.Dense(2)

        def call(self, x):
            return self.out(self.rnn(self.emb(x)))

    x = rng.integers(1, 50, (32, 7)).astype("int32")
    y = rng.integers(0, 2, 32).astype("int32")
    plain = pynn.Sequential([layers.Input((7,), dtype="int32"), layers.Embedding(50, 6),
                             layers.Bidirectional(layers.LSTM(5)), layers.Dense(2)])
    wrapped = Wrapped()
    for m in (plain, wrapped):
        m.compile(pynn.optimizers.SGD(0.5), pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
    wrapped.predict(x[:1], verbose=0)
    wrapped.set_weights(plain.get_weights())
    before = [w.copy() for w in plain.get_weights()]
    plain.train_on_batch(x, y)
    wrapped.train_on_batch(x, y)
    for a, b, w0 in zip(wrapped.get_weights(), plain.get_weights(), before):
        assert not np.array_equal(b, w0)                   # every weight moved ...
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)      # ... the same way in both
