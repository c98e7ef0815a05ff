"""A call() output ending in ops.softmax trains with the softmax fused into the cross-entropy, as a built-in
Dense(activation="softmax") does: the forward pass stops at the logits, the loss kernel computes softmax,
loss and the logits' gradient in one pass, and the softmax's own backward never runs. Checked against the
unfused path (the loss's gradient w.r.t. the probabilities, then the softmax's vjp): same loss, same
gradients; predict and evaluate still see probabilities; a call() that does not end in a last-axis softmax
falls back to the plain loss. (As for the built-in layers, the two paths agree while every probability lies
in [1e-7, 1 - 1e-7], where Keras's clip of the probabilities does nothing: the weights here keep them there.)"""
import numpy as np
import pytest

import pynn
from pynn import kernels, layers, ops
from pynn.layers import call_support


class CallDense(layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, activation

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="random_normal", name="bias")

    def call(self, x):
        y = ops.matmul(x, self.kernel) + self.bias
        if self.activation == "relu":
            return ops.relu(y)
        if self.activation == "softmax":
            return ops.softmax(y)
        if self.activation == "softmax_over_batch":        # not the last axis: nothing to fuse
            return ops.softmax(y, axis=0)
        return y


class Unfused(pynn.losses.SparseCategoricalCrossentropy):
    """The same loss without a fused path: the reference."""

    def supports_fused(self, activation):
        return False


class UnfusedCategorical(pynn.losses.CategoricalCrossentropy):
    def supports_fused(self, activation):
        return False


def _mlp(dtype, last="softmax", **last_kwargs):
    return pynn.Sequential([layers.Input((8,), dtype=dtype), CallDense(6, "relu", dtype=dtype),
                            CallDense(4, last, dtype=dtype, **last_kwargs)])


def _pair(make, loss, reference, rng):
    """Two models with the same (small) weights, compiled with `loss` and with its unfused twin."""
    fused, unfused = make(), make()
    fused.build((None, 8))
    unfused.build((None, 8))
    fused.set_weights([rng.normal(scale=0.3, size=w.shape).astype(w.dtype) for w in fused.get_weights()])
    unfused.set_weights(fused.get_weights())
    fused.compile(pynn.optimizers.SGD(0.1), loss)
    unfused.compile(pynn.optimizers.SGD(0.1), reference)
    return fused, unfused


def _step(model, x, y):
    loss = model.train_on_batch(x, y)
    return loss, [w.grad.copy() for w in model.trainable_weights]


def _data(rng, dtype, n=16):
    return rng.normal(size=(n, 8)).astype(dtype), rng.integers(0, 4, size=n)


@pytest.fixture
def softmax_backward_calls(monkeypatch):
    """How many times the softmax kernel's backward ran (ops.softmax's vjp calls it)."""
    calls = []
    real = kernels.softmax_backward
    monkeypatch.setattr(kernels, "softmax_backward", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_the_fused_path_is_taken_and_the_softmax_backward_never_runs(rng, softmax_backward_calls):
    fused, unfused = _pair(lambda: _mlp("float32"), "sparse_categorical_crossentropy", Unfused(), rng)
    assert isinstance(fused._outputs[0].fused, call_support.FusedSoftmax) and fused._fused_logits == (0,)
    assert unfused._outputs[0].fused is None and unfused._fused_logits == ()
    x, y = _data(rng, "float32")
    _step(fused, x, y)
    assert softmax_backward_calls == []
    assert fused._outputs[0].fused.name == "softmax"           # the forward pass did stop at the logits
    _step(unfused, x, y)
    assert softmax_backward_calls                             # the reference does run it


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 2e-5)])
def test_fused_sparse_cross_entropy_gives_the_unfused_loss_and_gradients(rng, dtype, rtol):
    fused, unfused = _pair(lambda: _mlp(dtype), "sparse_categorical_crossentropy", Unfused(), rng)
    x, y = _data(rng, dtype)
    for _ in range(3):                                        # a few steps: the weights stay together
        (loss_f, grads_f), (loss_u, grads_u) = _step(fused, x, y), _step(unfused, x, y)
        np.testing.assert_allclose(loss_f, loss_u, rtol=rtol)
        for a, b in zip(grads_f, grads_u):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2)


def test_fused_categorical_cross_entropy_and_sample_weights(rng):
    fused, unfused = _pair(lambda: _mlp("float64"), "categorical_crossentropy", UnfusedCategorical(), rng)
    x, labels = _data(rng, "float64")
    y = np.eye(4)[labels]
    w = rng.uniform(0.5, 2.0, size=len(x))
    assert isinstance(fused._outputs[0].fused, call_support.FusedSoftmax)
    for sample_weight in (None, w):
        loss_f = fused.train_on_batch(x, y, sample_weight=sample_weight)
        loss_u = unfused.train_on_batch(x, y, sample_weight=sample_weight)
        np.testing.assert_allclose(loss_f, loss_u, rtol=1e-10)
        for a, b in zip(fused.trainable_weights, unfused.trainable_weights):
            np.testing.assert_allclose(a.grad, b.grad, rtol=1e-9, atol=1e-12)


def test_predict_evaluate_and_fit_metrics_still_see_probabilities(rng):
    fused, unfused = _pair(lambda: _mlp("float64"), "sparse_categorical_crossentropy", Unfused(), rng)
    for m in (fused, unfused):
        m.compile(pynn.optimizers.SGD(0.1), m.loss, metrics=["accuracy"])
    x, y = _data(rng, "float64", n=64)
    hist_f = fused.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    hist_u = unfused.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(hist_f["loss"], hist_u["loss"], rtol=1e-9)
    assert hist_f["accuracy"] == hist_u["accuracy"]
    p = fused.predict(x, verbose=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert p.min() >= 0
    np.testing.assert_allclose(p, unfused.predict(x, verbose=0), rtol=1e-9)
    np.testing.assert_allclose(fused.evaluate(x, y, verbose=0), unfused.evaluate(x, y, verbose=0), rtol=1e-9)
    np.testing.assert_allclose(fused(x), p, rtol=1e-12)


def test_a_call_that_does_not_end_in_a_last_axis_softmax_gets_the_plain_loss(rng, softmax_backward_calls):
    fused, unfused = _pair(lambda: _mlp("float64", "softmax_over_batch"), "sparse_categorical_crossentropy",
                           Unfused(), rng)
    assert isinstance(fused._outputs[0].fused, call_support.FusedSoftmax)    # not known before it runs
    x, y = _data(rng, "float64")
    (loss_f, grads_f), (loss_u, grads_u) = _step(fused, x, y), _step(unfused, x, y)
    assert fused._outputs[0].fused.name == "linear"
    assert loss_f == loss_u
    for a, b in zip(grads_f, grads_u):
        np.testing.assert_array_equal(a, b)
    fused.compile(pynn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    assert fused._outputs[0].fused.name == "softmax"          # a new compile starts unknown again


def test_a_subclassed_model_ending_in_ops_softmax_is_fused(rng, softmax_backward_calls):
    class Classifier(pynn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = CallDense(6, "relu", dtype="float64")
            self.head = layers.Dense(4, dtype="float64")           # a built-in layer inside call()

        def call(self, x):
            return ops.softmax(self.head(self.hidden(x)))

    x, y = _data(rng, "float64")

    def make():
        m = Classifier(dtype="float64")
        m(x)
        return m
    fused, unfused = _pair(make, "sparse_categorical_crossentropy", Unfused(), rng)
    assert isinstance(fused._outputs[0].fused, call_support.FusedSoftmax)
    (loss_f, grads_f), (loss_u, grads_u) = _step(fused, x, y), _step(unfused, x, y)
    assert len(softmax_backward_calls) == 1                    # the reference's only
    np.testing.assert_allclose(loss_f, loss_u, rtol=1e-10)
    for a, b in zip(grads_f, grads_u):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fused.predict(x, verbose=0).sum(axis=1), 1.0, rtol=1e-12)


def test_a_functional_model_with_a_call_output_layer_is_fused(rng, softmax_backward_calls):
    def make():
        inputs = layers.Input((8,), dtype="float64")
        hidden = layers.Dense(6, activation="relu", dtype="float64")(inputs)
        return pynn.Model(inputs, CallDense(4, "softmax", dtype="float64")(hidden))
    fused, unfused = _pair(make, "sparse_categorical_crossentropy", Unfused(), rng)
    assert isinstance(fused._outputs[0].fused, call_support.FusedSoftmax)
    x, y = _data(rng, "float64")
    (loss_f, grads_f), (loss_u, grads_u) = _step(fused, x, y), _step(unfused, x, y)
    assert len(softmax_backward_calls) == 1
    np.testing.assert_allclose(loss_f, loss_u, rtol=1e-10)
    for a, b in zip(grads_f, grads_u):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_no_fusion_where_it_would_change_the_result(rng):
    # an activity regularizer reads the output layer's probabilities
    regularized = _mlp("float64", activity_regularizer="l2")
    regularized.compile("sgd", "sparse_categorical_crossentropy")
    assert regularized._outputs[0].fused is None and regularized._fused_logits == ()
    # a loss with no fused path (mean squared error of probabilities)
    mse = _mlp("float64")
    mse.compile("sgd", "mse")
    assert mse._outputs[0].fused is None
    # an unbuilt Sequential decides from its last layer; a built-in last layer keeps its own activation
    unbuilt = pynn.Sequential([CallDense(6, "relu"), CallDense(4, "softmax")])
    unbuilt.compile("sgd", "sparse_categorical_crossentropy")
    assert isinstance(unbuilt._outputs[0].fused, call_support.FusedSoftmax)
    built_in = pynn.Sequential([layers.Input((8,)), CallDense(6, "relu"), layers.Dense(4, activation="softmax")])
    built_in.compile("sgd", "sparse_categorical_crossentropy")
    assert built_in._outputs[0].fused is built_in.layers[-1].activation


# ---------------------------------------------------------------------------------------------- built-in heads
class BuiltinHead(pynn.Model):
    """A subclassed model whose call() ends in a built-in Dense(activation="softmax")."""

    def __init__(self, mid_softmax=False, **kwargs):
        super().__init__(**kwargs)
        self.mid_softmax = mid_softmax
        self.hidden = layers.Dense(6, activation="softmax" if mid_softmax else "relu", dtype=self.dtype)
        self.head = layers.Dense(4, activation="softmax", dtype=self.dtype)

    def call(self, x):
        return self.head(self.hidden(x))


def _builtin_pair(rng, dtype, loss, reference, **kwargs):
    x, _ = _data(rng, dtype)

    def make():
        m = BuiltinHead(dtype=dtype, **kwargs)
        m(x)
        return m
    return _pair(make, loss, reference, rng)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-6)])
def test_a_subclassed_model_ending_in_a_builtin_softmax_dense_is_fused(rng, dtype, rtol, softmax_backward_calls):
    fused, unfused = _builtin_pair(rng, dtype, "sparse_categorical_crossentropy", Unfused())
    x, y = _data(rng, dtype)
    for _ in range(3):
        (loss_f, grads_f) = _step(fused, x, y)
        assert softmax_backward_calls == []                   # the head's softmax backward never ran
        assert fused._outputs[0].fused.name == "softmax"      # the forward pass stopped at the logits
        (loss_u, grads_u) = _step(unfused, x, y)
        assert softmax_backward_calls
        softmax_backward_calls.clear()
        np.testing.assert_allclose(loss_f, loss_u, rtol=rtol)
        for a, b in zip(grads_f, grads_u):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2)
    p = fused.predict(x, verbose=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p, unfused.predict(x, verbose=0), rtol=rtol)
    np.testing.assert_allclose(fused.evaluate(x, y, verbose=0), unfused.evaluate(x, y, verbose=0), rtol=rtol)


def test_a_builtin_softmax_head_with_categorical_cross_entropy_and_sample_weights(rng):
    fused, unfused = _builtin_pair(rng, "float64", "categorical_crossentropy", UnfusedCategorical())
    x, labels = _data(rng, "float64")
    y = np.eye(4)[labels]
    for sample_weight in (None, rng.uniform(0.5, 2.0, size=len(x))):
        loss_f = fused.train_on_batch(x, y, sample_weight=sample_weight)
        loss_u = unfused.train_on_batch(x, y, sample_weight=sample_weight)
        assert fused._outputs[0].fused.name == "softmax"
        np.testing.assert_allclose(loss_f, loss_u, rtol=1e-10)
        for a, b in zip(fused.trainable_weights, unfused.trainable_weights):
            np.testing.assert_allclose(a.grad, b.grad, rtol=1e-9, atol=1e-12)


def test_a_builtin_softmax_layer_inside_call_keeps_its_gradients(rng, softmax_backward_calls):
    # the hidden layer's softmax is not the output: it is still differentiated (its backward runs once per
    # step in each model), only the head's is fused
    fused, unfused = _builtin_pair(rng, "float64", "sparse_categorical_crossentropy", Unfused(), mid_softmax=True)
    x, y = _data(rng, "float64")
    (loss_f, grads_f) = _step(fused, x, y)
    assert len(softmax_backward_calls) == 1
    (loss_u, grads_u) = _step(unfused, x, y)
    assert len(softmax_backward_calls) == 3
    np.testing.assert_allclose(loss_f, loss_u, rtol=1e-10)
    for a, b in zip(grads_f, grads_u):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_builtin_softmax_output_that_call_computes_on_is_not_fused(rng):
    class Scaled(BuiltinHead):
        def call(self, x):
            return self.head(self.hidden(x)) * 1.0

    x, y = _data(rng, "float64")

    def make():
        m = Scaled(dtype="float64")
        m(x)
        return m
    fused, unfused = _pair(make, "sparse_categorical_crossentropy", Unfused(), rng)
    (loss_f, grads_f), (loss_u, grads_u) = _step(fused, x, y), _step(unfused, x, y)
    assert fused._outputs[0].fused.name == "linear"
    assert loss_f == loss_u
    for a, b in zip(grads_f, grads_u):
        np.testing.assert_array_equal(a, b)
