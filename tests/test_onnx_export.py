"""ONNX export (pynn.export, model.export(path, format="onnx")): for every supported layer, a tiny model with
random weights exported and run by onnxruntime gives model.predict's output within float32 tolerance, at two
batch sizes (the batch axis is dynamic); the seed MLP and CNN after a few training steps likewise; a layer
without a converter is a ValueError naming it."""
import numpy as np
import pytest

import pynn
from pynn import export, layers

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

BATCHES = (1, 5)


# ---------------------------------------------------------------------------------------------- helpers
def randomize(model, seed=0, scale=0.5):
    """Random weights everywhere (biases too); variances positive."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.normal(0.0, scale, w.shape)
        if "variance" in w.name:
            value = np.abs(value) + 0.5
        w.assign(value.astype(w.dtype))
    return model


def session(model, tmp_path, **kwargs):
    path = tmp_path / "model.onnx"
    model.export(str(path), format="onnx", **kwargs)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)     # with ONNX's shape inference
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run(sess, xs):
    feed = {i.name: x for i, x in zip(sess.get_inputs(), xs)}
    return sess.run(None, feed)


def check(model, make_inputs, tmp_path, rtol=1e-4, atol=1e-5, **kwargs):
    """Export, then compare onnxruntime with model.predict at each batch size; make_inputs(batch, rng) gives
    the list of input arrays."""
    sess = session(model, tmp_path, **kwargs)
    rng = np.random.default_rng(1)
    for batch in BATCHES:
        xs = make_inputs(batch, rng)
        expected = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        expected = expected if isinstance(expected, list) else [expected]
        got = run(sess, xs)
        assert len(got) == len(expected)
        for e, o in zip(expected, got):
            assert o.shape == e.shape, (o.shape, e.shape)
            np.testing.assert_allclose(o, e, rtol=rtol, atol=atol)
    return sess


def normal(*shape, scale=1.0):
    return lambda batch, rng: [(scale * rng.standard_normal((batch,) + shape)).astype(np.float32)]


def seq(layer_list, shape):
    return randomize(pynn.Sequential([layers.Input(shape=shape)] + layer_list))


# ---------------------------------------------------------------------------------------------- activations
ACTIVATIONS = ["relu", "sigmoid", "tanh", "softmax", "gelu", "silu", "swish", "elu", "selu", "softplus", "softsign",
               "leaky_relu", "relu6", "hard_sigmoid", "exponential", "linear", "log_softmax", "mish", "hard_silu",
               "hard_swish", pynn.activations.ActivationFn("gelu", approximate=True),
               pynn.activations.ActivationFn("relu", max_value=2.0, negative_slope=0.1, threshold=0.5)]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_dense_and_activation_layer(activation, tmp_path):
    check(seq([layers.Dense(5, activation=activation)], (6,)), normal(6, scale=2.0), tmp_path)
    check(seq([layers.Activation(activation)], (3, 6)), normal(3, 6, scale=2.0), tmp_path)


@pytest.mark.parametrize("layer", [
    layers.ReLU(), layers.ReLU(max_value=1.5), layers.ReLU(negative_slope=0.2), layers.ReLU(threshold=0.3),
    layers.LeakyReLU(0.1), layers.ELU(0.7), layers.Softmax(), layers.PReLU(), layers.PReLU(shared_axes=[1])],
    ids=lambda l: type(l).__name__)
def test_activation_layers(layer, tmp_path):
    check(seq([layer], (4, 3)), normal(4, 3, scale=2.0), tmp_path)


def test_dense_on_sequences(tmp_path):
    check(seq([layers.Dense(4, activation="tanh"), layers.Dense(3, use_bias=False)], (7, 5)), normal(7, 5),
          tmp_path)


# ---------------------------------------------------------------------------------------------- convolutions
@pytest.mark.parametrize("kwargs", [
    dict(filters=4, kernel_size=3), dict(filters=4, kernel_size=3, padding="same", strides=2, activation="relu"),
    dict(filters=4, kernel_size=3, padding="same", dilation_rate=2), dict(filters=6, kernel_size=2, groups=3),
    dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2, activation="softmax")], ids=str)
def test_conv1d(kwargs, tmp_path):
    check(seq([layers.Conv1D(**kwargs)], (11, 3 if kwargs.get("groups") != 3 else 6)),
          normal(11, 3 if kwargs.get("groups") != 3 else 6), tmp_path)


@pytest.mark.parametrize("kwargs", [
    dict(filters=4, kernel_size=3), dict(filters=4, kernel_size=(3, 2), padding="same", strides=2,
                                         activation="relu"),
    dict(filters=4, kernel_size=3, padding="same", dilation_rate=2, activation="gelu"),
    dict(filters=4, kernel_size=3, strides=(2, 1), use_bias=False), dict(filters=6, kernel_size=3, groups=3)],
    ids=str)
def test_conv2d(kwargs, tmp_path):
    channels = 6 if kwargs.get("groups") == 3 else 3
    check(seq([layers.Conv2D(**kwargs)], (9, 8, channels)), normal(9, 8, channels), tmp_path)


def test_conv_with_unknown_spatial_sizes(tmp_path):
    """padding='same' on sizes known only at run time: auto_pad (Keras's rule) instead of explicit pads."""
    model = seq([layers.Conv2D(4, 3, padding="same", strides=2), layers.GlobalMaxPooling2D()], (None, None, 2))
    sess = check(model, normal(9, 8, 2), tmp_path)
    x = np.random.default_rng(2).standard_normal((2, 6, 11, 2)).astype(np.float32)
    np.testing.assert_allclose(run(sess, [x])[0], model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    model = seq([layers.Conv1D(3, 4, padding="same"), layers.Conv1D(2, 3, padding="causal")], (None, 2))
    sess = check(model, normal(10, 2), tmp_path)
    x = np.random.default_rng(3).standard_normal((3, 17, 2)).astype(np.float32)
    np.testing.assert_allclose(run(sess, [x])[0], model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=3), dict(filters=3, kernel_size=3, strides=2, padding="same"),
    dict(filters=3, kernel_size=3, strides=2), dict(filters=3, kernel_size=1, strides=2),   # kernel < stride
    dict(filters=3, kernel_size=4, strides=2, padding="same"), dict(filters=3, kernel_size=3, strides=2,
                                                                    output_padding=1),
    dict(filters=3, kernel_size=3, strides=3, padding="same", output_padding=1),
    dict(filters=3, kernel_size=3, dilation_rate=2, activation="sigmoid")], ids=str)
def test_conv_transpose(kwargs, tmp_path):
    check(seq([layers.Conv2DTranspose(**kwargs)], (5, 4, 2)), normal(5, 4, 2), tmp_path)
    check(seq([layers.Conv1DTranspose(**kwargs)], (6, 2)), normal(6, 2), tmp_path)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3), dict(kernel_size=3, depth_multiplier=2, padding="same", strides=2, activation="relu"),
    dict(kernel_size=(2, 3), dilation_rate=2, use_bias=False)], ids=str)
def test_depthwise_and_separable(kwargs, tmp_path):
    check(seq([layers.DepthwiseConv2D(**kwargs)], (9, 8, 3)), normal(9, 8, 3), tmp_path)
    check(seq([layers.SeparableConv2D(4, **kwargs)], (9, 8, 3)), normal(9, 8, 3), tmp_path)


# ---------------------------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("kwargs", [dict(pool_size=2), dict(pool_size=3, strides=2, padding="same"),
                                    dict(pool_size=(2, 3), strides=1), dict(pool_size=2, data_format="channels_first")],
                         ids=str)
@pytest.mark.parametrize("cls", [layers.MaxPooling2D, layers.AveragePooling2D], ids=lambda c: c.__name__)
def test_pooling2d(cls, kwargs, tmp_path):
    check(seq([cls(**kwargs)], (7, 8, 3)), normal(7, 8, 3), tmp_path)


@pytest.mark.parametrize("kwargs", [dict(pool_size=2), dict(pool_size=3, strides=2, padding="same"),
                                    dict(pool_size=2, data_format="channels_first")], ids=str)
@pytest.mark.parametrize("cls", [layers.MaxPooling1D, layers.AveragePooling1D], ids=lambda c: c.__name__)
def test_pooling1d(cls, kwargs, tmp_path):
    check(seq([cls(**kwargs)], (9, 4)), normal(9, 4), tmp_path)


@pytest.mark.parametrize("cls", [layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D,
                                 layers.GlobalAveragePooling1D, layers.GlobalMaxPooling1D], ids=lambda c: c.__name__)
@pytest.mark.parametrize("kwargs", [{}, dict(keepdims=True), dict(data_format="channels_first")], ids=str)
def test_global_pooling(cls, kwargs, tmp_path):
    shape = (5, 6, 3) if "2D" in cls.__name__ else (6, 3)
    check(seq([cls(**kwargs)], shape), normal(*shape), tmp_path)


# ---------------------------------------------------------------------------------------------- normalization
@pytest.mark.parametrize("layer, shape", [
    (layers.BatchNormalization(), (5, 4, 3)), (layers.BatchNormalization(axis=1), (3, 6)),
    (layers.BatchNormalization(center=False, scale=False, epsilon=0.1), (4,)),
    (layers.LayerNormalization(), (5, 6)), (layers.LayerNormalization(axis=[1, 2]), (4, 5, 3)),
    (layers.LayerNormalization(axis=1), (4, 5)), (layers.LayerNormalization(center=False, scale=False), (6,)),
    (layers.LayerNormalization(axis=[1, 3]), (3, 2, 4))], ids=lambda v: str(v) if isinstance(v, tuple) else
    type(v).__name__)
def test_normalization(layer, shape, tmp_path):
    check(seq([layer], shape), normal(*shape, scale=3.0), tmp_path)


def test_layer_norm_rms_scaling(tmp_path):
    with pytest.warns(UserWarning):
        layer = layers.LayerNormalization(rms_scaling=True)
    check(seq([layer], (3, 5)), normal(3, 5, scale=3.0), tmp_path)


# ---------------------------------------------------------------------------------------------- identity, shape
def test_inference_identities(tmp_path):
    model = seq([layers.Dropout(0.5), layers.GaussianNoise(1.0), layers.GaussianDropout(0.3),
                 layers.SpatialDropout2D(0.5), layers.ActivityRegularization(l1=0.1), layers.Identity(),
                 layers.RandomFlip(), layers.RandomRotation(0.2), layers.RandomZoom(0.1),
                 layers.RandomTranslation(0.1, 0.1), layers.RandomContrast(0.2), layers.RandomBrightness(0.2),
                 layers.Dense(3)], (6, 5, 2))
    check(model, normal(6, 5, 2), tmp_path)
    check(seq([layers.SpatialDropout1D(0.5), layers.Dense(2)], (4, 3)), normal(4, 3), tmp_path)


def test_shape_layers(tmp_path):
    model = seq([layers.Reshape((4, -1)), layers.Permute((2, 1)), layers.Flatten(), layers.RepeatVector(3),
                 layers.Rescaling(0.5, offset=-1.0)], (2, 3, 4))
    check(model, normal(2, 3, 4), tmp_path)
    check(seq([layers.Rescaling(np.array([1.0, 2.0, 3.0]), offset=0.5)], (4, 3)), normal(4, 3), tmp_path)


def test_padding_and_cropping(tmp_path):
    check(seq([layers.ZeroPadding2D(((1, 2), (0, 3))), layers.Cropping2D(((2, 0), (1, 1))), layers.Conv2D(2, 2)],
              (5, 4, 3)), normal(5, 4, 3), tmp_path)
    check(seq([layers.ZeroPadding2D(1, data_format="channels_first"), layers.Cropping2D(((0, 1), (2, 0)),
                                                                                       data_format="channels_first")],
              (2, 5, 4)), normal(2, 5, 4), tmp_path)
    check(seq([layers.ZeroPadding1D((2, 1)), layers.Cropping1D((0, 2)), layers.Conv1D(2, 2)], (6, 3)), normal(6, 3),
          tmp_path)


def test_up_sampling(tmp_path):
    check(seq([layers.UpSampling2D((2, 3)), layers.Conv2D(2, 2)], (4, 3, 2)), normal(4, 3, 2), tmp_path)
    check(seq([layers.UpSampling2D(2, interpolation="bilinear")], (4, 5, 2)), normal(4, 5, 2), tmp_path)
    check(seq([layers.UpSampling2D((3, 2), data_format="channels_first", interpolation="bilinear")], (2, 4, 3)),
          normal(2, 4, 3), tmp_path)
    check(seq([layers.UpSampling1D(3)], (4, 2)), normal(4, 2), tmp_path)


def test_unit_normalization_and_normalization(tmp_path):
    check(seq([layers.UnitNormalization(), layers.UnitNormalization(axis=[1, 2])], (3, 4)), normal(3, 4), tmp_path)
    layer = layers.Normalization()
    layer.adapt(np.random.default_rng(0).normal(2.0, 3.0, (50, 4, 3)).astype(np.float32))
    check(seq([layer], (4, 3)), normal(4, 3, scale=3.0), tmp_path)
    given = layers.Normalization(axis=None, mean=1.5, variance=4.0, invert=True)
    check(seq([given], (5,)), normal(5), tmp_path)


def test_time_distributed(tmp_path):
    check(seq([layers.TimeDistributed(layers.Dense(3, activation="relu"))], (4, 5)), normal(4, 5), tmp_path)
    check(seq([layers.TimeDistributed(layers.Conv2D(2, 3, padding="same")),
               layers.TimeDistributed(layers.Flatten())], (3, 6, 5, 2)), normal(3, 6, 5, 2), tmp_path)


def test_embedding(tmp_path):
    model = seq([layers.Embedding(20, 4), layers.Flatten(), layers.Dense(3)], (7,))
    sess = check(model, lambda batch, rng: [rng.integers(0, 20, (batch, 7))], tmp_path)
    assert sess.get_inputs()[0].type == "tensor(int64)"
    inputs = layers.Input(shape=(5,), dtype="int32")
    model = randomize(pynn.Model(inputs, layers.Embedding(10, 3)(inputs)))
    sess = check(model, lambda batch, rng: [rng.integers(0, 10, (batch, 5)).astype(np.int32)], tmp_path)
    assert sess.get_inputs()[0].type == "tensor(int32)"


# ---------------------------------------------------------------------------------------------- merges
@pytest.mark.parametrize("merge", [layers.Add(), layers.Subtract(), layers.Multiply(), layers.Average(),
                                   layers.Maximum(), layers.Minimum(), layers.Concatenate(),
                                   layers.Concatenate(axis=1)], ids=lambda m: f"{type(m).__name__}{m.get_config()}")
def test_merge(merge, tmp_path):
    a, b = layers.Input(shape=(3, 4)), layers.Input(shape=(3, 4))
    inputs = [a, b] if isinstance(merge, layers.Subtract) else [a, b, layers.Input(shape=(3, 4))]
    model = randomize(pynn.Model(inputs, layers.Dense(2)(merge([layers.Dense(4)(t) for t in inputs]))))
    check(model, lambda batch, rng: [rng.standard_normal((batch, 3, 4)).astype(np.float32) for _ in inputs],
          tmp_path)


def test_functional_graph_shared_layer_nested_model_two_outputs(tmp_path):
    """Fan-out, a layer called twice, a Sequential used as a layer, and two named outputs."""
    inner = pynn.Sequential([layers.Input(shape=(8,)), layers.Dense(8, activation="relu"), layers.Dropout(0.1)],
                            name="inner")
    inputs = layers.Input(shape=(6,), name="features")
    shared = layers.Dense(8, activation="tanh", name="shared")
    h = shared(inputs)
    h2 = inner(layers.Add()([h, shared(layers.Dense(6)(h))]))
    model = randomize(pynn.Model(inputs, {"score": layers.Dense(1, name="score")(h2),
                                          "probs": layers.Dense(3, activation="softmax")(h)}))
    sess = check(model, normal(6), tmp_path)
    assert [i.name for i in sess.get_inputs()] == ["features"]
    assert [o.name for o in sess.get_outputs()] == model.output_names


def test_subclassed_model(tmp_path):
    class Classifier(pynn.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(16, activation="relu")
            self.norm = layers.LayerNormalization()
            self.out = layers.Dense(4, activation="softmax")

        def call(self, x, training=False):
            return self.out(self.norm(self.hidden(x)))

    model = Classifier()
    with pytest.raises(ValueError, match="input_signature"):
        model.export(str(tmp_path / "m.onnx"))
    model.predict(np.zeros((2, 10), np.float32), verbose=0)
    randomize(model)
    check(model, normal(10), tmp_path)
    with pytest.raises(AttributeError):
        model.hidden.output   # tracing left no symbolic calls behind
    other = Classifier()
    randomize(other)
    sess = session(other, tmp_path, input_signature=(None, 10))
    assert [i.name for i in sess.get_inputs()] == ["input"]
    assert [o.name for o in sess.get_outputs()] == ["output_1"]
    x = np.random.default_rng(0).standard_normal((3, 10)).astype(np.float32)
    np.testing.assert_allclose(run(sess, [x])[0], other.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_ops_on_symbolic_tensors(tmp_path):
    """pynn.ops calls recorded in a functional graph (OpLayer): arithmetic with tensors and constants, and the
    activation ops with their parameters (ops.gelu is approximate by default, as Keras's)."""
    from pynn import ops
    a, b = layers.Input(shape=(4,)), layers.Input(shape=(4,))
    y = layers.Dense(4)(a) * 2 + b
    y = (2.0 - ops.exp(ops.relu(y - 1.5))) / 4.0 - ops.square(ops.gelu(y)) + ops.gelu(b, approximate=False)
    y = ops.leaky_relu(y, 0.1) + ops.elu(y, alpha=0.5) + ops.log_sigmoid(-y) + ops.maximum(y, b)
    model = randomize(pynn.Model([a, b], ops.softmax(layers.Dense(3)(ops.tanh(y)))))
    check(model, lambda batch, rng: [rng.standard_normal((batch, 4)).astype(np.float32) for _ in range(2)],
          tmp_path)
    model = pynn.Model(a, ops.sum(a, axis=1))
    with pytest.raises(ValueError, match=r"OpLayer, ops\.sum"):
        model.export(str(tmp_path / "m.onnx"))


def test_subclassed_model_with_residual_ops(tmp_path):
    class Residual(pynn.Model):
        def __init__(self):
            super().__init__()
            self.inner = layers.Dense(6, activation="relu")
            self.out = layers.Dense(2)

        def call(self, x):
            return self.out(x + self.inner(x) * 0.5)

    model = Residual()
    model.predict(np.zeros((1, 6), np.float32), verbose=0)
    check(randomize(model), normal(6), tmp_path)


# ---------------------------------------------------------------------------------------------- recurrent
RNNS = [lambda **k: layers.SimpleRNN(5, **k), lambda **k: layers.LSTM(5, **k), lambda **k: layers.GRU(5, **k),
        lambda **k: layers.GRU(5, reset_after=False, **k)]
RNN_IDS = ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"]


@pytest.mark.parametrize("options", [{}, dict(return_sequences=True), dict(go_backwards=True),
                                     dict(go_backwards=True, return_sequences=True)], ids=str)
@pytest.mark.parametrize("make", RNNS, ids=RNN_IDS)
def test_recurrent(make, options, tmp_path):
    model = seq([make(**options)], (6, 3))
    check(model, normal(6, 3), tmp_path)


@pytest.mark.parametrize("make", RNNS, ids=RNN_IDS)
def test_recurrent_variable_length_and_activations(make, tmp_path):
    second = make(activation="softsign") if make is RNNS[0] else make(activation="softsign",
                                                                       recurrent_activation="hard_sigmoid")
    model = seq([make(return_sequences=True, activation="relu", use_bias=False), second], (None, 3))
    sess = check(model, normal(4, 3), tmp_path)
    x = np.random.default_rng(0).standard_normal((2, 9, 3)).astype(np.float32)
    np.testing.assert_allclose(run(sess, [x])[0], model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def _padded_indices(kind):
    def make(batch, rng):
        x = rng.integers(1, 30, (batch, 8))
        for i in range(batch):
            n = int(rng.integers(1, 8))
            if kind == "post":
                x[i, n:] = 0
            elif kind == "pre":
                x[i, :8 - n] = 0
            else:                                  # holes anywhere (at least one valid step)
                x[i, rng.random(8) < 0.4] = 0
                x[i, 3] = 5
        return [x]
    return make


@pytest.mark.parametrize("padding", ["post", "pre", "holes"])
@pytest.mark.parametrize("make", RNNS, ids=RNN_IDS)
def test_recurrent_masks(make, padding, tmp_path):
    model = seq([layers.Embedding(30, 4, mask_zero=True), make(return_sequences=True),
                 make(go_backwards=True)], (8,))
    check(model, _padded_indices(padding), tmp_path)
    model = seq([layers.Embedding(30, 4, mask_zero=True), make(return_sequences=True, go_backwards=True),
                 layers.GlobalAveragePooling1D()], (8,))
    check(model, _padded_indices(padding), tmp_path)


@pytest.mark.parametrize("make", RNNS, ids=RNN_IDS)
def test_recurrent_fully_masked_sequence(make, tmp_path):
    """A sequence with no valid step: its states stay the initial zeros, as in pynn."""
    model = seq([layers.Embedding(10, 3, mask_zero=True), make(return_sequences=True), make()], (5,))
    sess = session(model, tmp_path)
    x = np.array([[0, 0, 0, 0, 0], [1, 2, 0, 3, 0], [0, 0, 0, 0, 4]])
    np.testing.assert_allclose(run(sess, [x])[0], model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("merge", [layers.Add(), layers.Multiply(), layers.Concatenate(), layers.Concatenate(axis=1)],
                         ids=lambda m: f"{type(m).__name__}{m.get_config().get('axis', '')}")
def test_masks_through_merges(merge, tmp_path):
    """Merges pass masks on as pynn does (Keras's rules): an Embedding's mask and an unmasked input merged, then
    a masked LSTM."""
    tokens, dense = layers.Input(shape=(6,)), layers.Input(shape=(6, 4))
    h = merge([layers.Embedding(30, 4, mask_zero=True)(tokens), layers.Dense(4)(dense)])
    model = randomize(pynn.Model([tokens, dense], layers.GRU(3)(layers.LSTM(4, return_sequences=True)(h))))

    def make(batch, rng):
        x = rng.integers(1, 30, (batch, 6))
        x[:, 4:] = 0
        x[0, 1] = 0
        return [x, rng.standard_normal((batch, 6, 4)).astype(np.float32)]
    check(model, make, tmp_path)


def test_masking_layer(tmp_path):
    model = seq([layers.Masking(0.0), layers.LSTM(4, return_sequences=True), layers.Dense(2),
                 layers.GlobalAveragePooling1D()], (6, 3))

    def make(batch, rng):
        x = rng.standard_normal((batch, 6, 3)).astype(np.float32)
        x[:, 4:] = 0.0
        x[0, 1] = 0.0
        return [x]
    check(model, make, tmp_path)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional(merge_mode, tmp_path):
    inputs = layers.Input(shape=(8,))
    h = layers.Embedding(30, 4, mask_zero=True)(inputs)
    h = layers.Bidirectional(layers.GRU(3, return_sequences=True), merge_mode=merge_mode)(h)
    if merge_mode is None:
        h = layers.Concatenate()(h)
    out = layers.Bidirectional(layers.LSTM(3), merge_mode="concat" if merge_mode is None else merge_mode)(h)
    check(randomize(pynn.Model(inputs, out)), _padded_indices("pre"), tmp_path)


def test_bidirectional_states(tmp_path):
    x, h0, h1 = layers.Input(shape=(5, 3)), layers.Input(shape=(4,)), layers.Input(shape=(4,))
    outs = layers.Bidirectional(layers.GRU(4, return_state=True, return_sequences=True))(x, initial_state=[h0, h1])
    model = randomize(pynn.Model([x, h0, h1], outs))
    check(model, lambda batch, rng: [rng.standard_normal(s).astype(np.float32)
                                     for s in ((batch, 5, 3), (batch, 4), (batch, 4))], tmp_path)


def test_recurrent_states(tmp_path):
    """return_state outputs and initial_state inputs."""
    x, h0, c0 = layers.Input(shape=(5, 3)), layers.Input(shape=(4,)), layers.Input(shape=(4,))
    seq_out, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    g_out, g_h = layers.GRU(4, return_state=True)(seq_out, initial_state=[h])
    model = randomize(pynn.Model([x, h0, c0], [g_out, g_h, c]))
    check(model, lambda batch, rng: [rng.standard_normal(s).astype(np.float32)
                                     for s in ((batch, 5, 3), (batch, 4), (batch, 4))], tmp_path)


# ---------------------------------------------------------------------------------------------- Dot, attention
@pytest.mark.parametrize("shapes, axes", [
    (((5,), (5,)), 1), (((3, 4), (4, 2)), (2, 1)), (((3, 4), (5, 4)), 2), (((3, 4), (3, 5)), 1),
    (((3, 4), (4,)), (2, 1)), (((4,), (3, 4)), (-1, 2)), (((3, 4), (6, 3)), (1, -1))], ids=str)
@pytest.mark.parametrize("normalize", [False, True])
def test_dot(shapes, axes, normalize, tmp_path):
    inputs = [layers.Input(shape=s) for s in shapes]
    model = pynn.Model(inputs, layers.Dot(axes, normalize=normalize)(inputs))
    check(model, lambda batch, rng: [rng.standard_normal((batch,) + s).astype(np.float32) for s in shapes],
          tmp_path)


def test_dot_passes_no_mask(tmp_path):
    """Dot's output carries no mask (Keras's rule; pynn's Dot passed its inputs' on): the LSTM after it reads
    every step, in pynn and in the exported graph."""
    tokens = layers.Input(shape=(8,))
    h = layers.Embedding(30, 4, mask_zero=True)(tokens)
    model = randomize(pynn.Model(tokens, layers.LSTM(3)(layers.Dot(axes=2)([h, h]))))
    assert layers.Dot(axes=2).compute_mask(None, [np.ones((1, 8), bool), np.zeros((1, 8), bool)]) is None
    check(model, _padded_indices("post"), tmp_path)


def _mha_model(query_shape, value_shape=None, key_shape=None, mask_shape=None, scores=False, **kwargs):
    """MultiHeadAttention on Inputs of these shapes (value defaults to the query: self-attention), with an
    attention_mask input of mask_shape; call options (use_causal_mask ...) and layer arguments in kwargs."""
    call = {k: kwargs.pop(k) for k in ("use_causal_mask",) if k in kwargs}
    q = layers.Input(shape=query_shape)
    v = q if value_shape is None else layers.Input(shape=value_shape)
    k = None if key_shape is None else layers.Input(shape=key_shape)
    m = None if mask_shape is None else layers.Input(shape=mask_shape)
    out = layers.MultiHeadAttention(**kwargs)(q, v, key=k, attention_mask=m, return_attention_scores=scores, **call)
    inputs = [t for t in (q, v if v is not q else None, k, m) if t is not None]
    return randomize(pynn.Model(inputs, list(out) if scores else out)), inputs


def _mha_inputs(inputs, mask_shape):
    def make(batch, rng):
        xs = [rng.standard_normal((batch,) + t.shape[1:]).astype(np.float32) for t in inputs]
        if mask_shape is not None:
            xs[-1] = (rng.random((batch,) + mask_shape) < 0.6).astype(np.float32)
        return xs
    return make


@pytest.mark.parametrize("kwargs", [
    dict(num_heads=2, key_dim=4),
    dict(num_heads=3, key_dim=4, value_dim=2, value_shape=(7, 6), output_shape=5, use_bias=False),
    dict(num_heads=2, key_dim=3, value_shape=(7, 6), key_shape=(7, 4), scores=True),
    dict(num_heads=2, key_dim=4, use_causal_mask=True, scores=True),
    dict(num_heads=2, key_dim=4, sliding_window=2),
    dict(num_heads=2, key_dim=3, value_shape=(7, 6), mask_shape=(6, 7), output_shape=(2, 3), scores=True),
    dict(num_heads=2, key_dim=3, mask_shape=(6, 6), use_causal_mask=True),
    dict(num_heads=2, key_dim=3, query_shape=(2, 3, 8), value_shape=(4, 2, 5), mask_shape=(2, 3, 4, 2),
         scores=True)], ids=str)
def test_multi_head_attention(kwargs, tmp_path):
    kwargs = dict(kwargs)
    query_shape, mask_shape = kwargs.pop("query_shape", (6, 8)), kwargs.get("mask_shape")
    model, inputs = _mha_model(query_shape, **kwargs)
    check(model, _mha_inputs(inputs, mask_shape), tmp_path, rtol=1e-4, atol=2e-5)


def test_multi_head_attention_variable_length(tmp_path):
    """Sequence lengths known only at run time, with a causal mask."""
    model, inputs = _mha_model((None, 8), num_heads=2, key_dim=4, use_causal_mask=True)
    sess = check(model, normal(5, 8), tmp_path)
    x = np.random.default_rng(0).standard_normal((3, 11, 8)).astype(np.float32)
    np.testing.assert_allclose(run(sess, [x])[0], model.predict(x, verbose=0), rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("kwargs", [dict(), dict(scores=True), dict(dropout=0.3), dict(query_shape=(2, 2, 6))],
                         ids=str)
def test_multi_head_attention_fully_masked_rows(kwargs, tmp_path):
    """Query steps whose keys are all masked: uniform weights (the mean of the values) on pynn's rank-3, dropout
    0, no-scores path (Keras's fused one), zero weights otherwise (Keras's Softmax(mask=...) path)."""
    kwargs = dict(kwargs)
    query_shape = kwargs.pop("query_shape", (4, 6))
    value_shape = (5,) + (1,) * (len(query_shape) - 2) + (6,)
    mask_shape = query_shape[:-1] + value_shape[:-1]
    model, inputs = _mha_model(query_shape, value_shape=value_shape, mask_shape=mask_shape, num_heads=2, key_dim=3,
                               **kwargs)
    sess = session(model, tmp_path)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((2,) + s).astype(np.float32) for s in (query_shape, value_shape)]
    mask = (rng.random((2,) + mask_shape) < 0.5).astype(np.float32)
    mask.reshape(2, -1, 5)[0, 1] = mask.reshape(2, -1, 5)[1, 3] = 0.0
    expected = model.predict(xs + [mask], verbose=0)
    for e, o in zip(expected if isinstance(expected, list) else [expected], run(sess, xs + [mask])):
        np.testing.assert_allclose(o, e, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("key", [False, True])
def test_attention_masks_from_embedding(key, tmp_path):
    """Embedding(mask_zero=True) before MultiHeadAttention: the token masks are the query and value (and key)
    masks, and the output carries the query's on to a masked GlobalAveragePooling1D."""
    tokens, other = layers.Input(shape=(8,)), layers.Input(shape=(8,))
    embed = layers.Embedding(30, 8, mask_zero=True)
    h, h2 = embed(tokens), embed(other)
    mha = layers.MultiHeadAttention(2, 4)
    y = mha(h, h2, key=layers.Dense(8)(h2) if key else None)
    model = randomize(pynn.Model([tokens, other], layers.GlobalAveragePooling1D()(y)))
    pre = _padded_indices("pre")
    check(model, lambda batch, rng: _padded_indices("post")(batch, rng) + pre(batch, rng), tmp_path)


@pytest.mark.parametrize("kwargs", [dict(), dict(use_scale=True), dict(score_mode="concat"),
                                    dict(score_mode="concat", use_scale=True)], ids=str)
@pytest.mark.parametrize("call", [dict(), dict(use_causal_mask=True, return_attention_scores=True),
                                  dict(masks=True, return_attention_scores=True), dict(key=True)], ids=str)
def test_attention(kwargs, call, tmp_path):
    _check_attention(layers.Attention(**kwargs), call, tmp_path)


@pytest.mark.parametrize("use_scale", [True, False])
@pytest.mark.parametrize("call", [dict(), dict(use_causal_mask=True, return_attention_scores=True),
                                  dict(masks=True, key=True)], ids=str)
def test_additive_attention(use_scale, call, tmp_path):
    _check_attention(layers.AdditiveAttention(use_scale=use_scale), call, tmp_path)


def _check_attention(layer, call, tmp_path):
    """layer([query, value(, key)]) with explicit (B, Tq) / (B, Tv) masks as inputs when call['masks']."""
    call = dict(call)
    key = call.pop("key", False)
    q, v = layers.Input(shape=(5, 4)), layers.Input(shape=(6, 3 if key else 4))
    data = [q, v] + ([layers.Input(shape=(6, 4))] if key else [])
    masks = [layers.Input(shape=(5,)), layers.Input(shape=(6,))] if call.pop("masks", False) else []
    out = layer(data, mask=masks or None, **call)
    model = randomize(pynn.Model(data + masks, list(out) if isinstance(out, tuple) else out))

    def make(batch, rng):
        xs = [rng.standard_normal((batch,) + t.shape[1:]).astype(np.float32) for t in data]
        ms = [(rng.random((batch,) + t.shape[1:]) < 0.7).astype(np.float32) for t in masks]
        if ms:
            ms[1][0] = 0.0                      # a row with no value to attend to
        return xs + ms
    check(model, make, tmp_path)


def test_attention_masks_from_embedding_and_masking(tmp_path):
    """Attention after Embedding(mask_zero=True): the query and value masks carried; its output's mask reaches
    an LSTM."""
    tokens = layers.Input(shape=(8,))
    h = layers.Embedding(30, 4, mask_zero=True)(tokens)
    y = layers.Attention(use_scale=True)([h, h], use_causal_mask=True)
    model = randomize(pynn.Model(tokens, layers.LSTM(3)(y)))
    check(model, _padded_indices("holes"), tmp_path)
    x = layers.Input(shape=(6, 3))
    masked = layers.Masking(0.0)(x)
    model = randomize(pynn.Model(x, layers.GlobalAveragePooling1D()(layers.AdditiveAttention()([masked, masked]))))

    def make(batch, rng):
        xs = rng.standard_normal((batch, 6, 3)).astype(np.float32)
        xs[:, 4:] = 0.0
        return [xs]
    check(model, make, tmp_path)


# ---------------------------------------------------------------------------------------------- group norm, images
@pytest.mark.parametrize("kwargs, shape", [
    (dict(groups=2), (5, 4, 6)), (dict(groups=3, axis=1), (6, 5)), (dict(groups=-1), (7, 4)),
    (dict(groups=1, center=False), (3, 4, 2)), (dict(groups=2, scale=False, epsilon=0.1), (4,)),
    (dict(groups=2, axis=1), (4, 3, 5))], ids=str)
def test_group_normalization(kwargs, shape, tmp_path):
    check(seq([layers.GroupNormalization(**kwargs)], shape), normal(*shape, scale=3.0), tmp_path)


@pytest.mark.parametrize("layer, shape", [
    (layers.Resizing(5, 7), (9, 4, 3)), (layers.Resizing(12, 3, interpolation="nearest"), (5, 6, 2)),
    (layers.Resizing(6, 4, interpolation="nearest"), (6, 9, 2)), (layers.Resizing(3, 3), (3, 8, 1)),
    (layers.Resizing(4, 6, crop_to_aspect_ratio=True), (9, 7, 2)),
    (layers.Resizing(4, 6, crop_to_aspect_ratio=True, interpolation="nearest"), (8, 8, 1)),
    (layers.Resizing(5, 5, pad_to_aspect_ratio=True, fill_value=0.5), (4, 7, 2)),
    (layers.Resizing(5, 8, data_format="channels_first"), (2, 7, 4)),
    (layers.CenterCrop(4, 3), (7, 6, 2)), (layers.CenterCrop(6, 5), (4, 9, 2)),
    (layers.CenterCrop(3, 4, data_format="channels_first"), (2, 6, 7)),
    (layers.RandomCrop(4, 5), (9, 8, 3)), (layers.RandomCrop(6, 6, data_format="channels_first"), (1, 5, 9))],
    ids=lambda v: str(v) if isinstance(v, tuple) else f"{type(v).__name__}")
def test_resizing_and_crops(layer, shape, tmp_path):
    check(seq([layer], shape), normal(*shape), tmp_path)


def test_resizing_unknown_sizes(tmp_path):
    """Images of any size resized in the graph (the taps computed from the input's shape); a crop needs known
    sizes and says so."""
    for interpolation in ("bilinear", "nearest"):
        model = seq([layers.Resizing(6, 5, interpolation=interpolation), layers.Conv2D(2, 3)], (None, None, 3))
        sess = check(model, normal(8, 7, 3), tmp_path)
        for size in ((3, 11), (6, 5), (12, 2)):
            x = np.random.default_rng(0).standard_normal((2,) + size + (3,)).astype(np.float32)
            np.testing.assert_allclose(run(sess, [x])[0], model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    model = seq([layers.CenterCrop(4, 4, name="crop")], (None, None, 3))
    with pytest.raises(ValueError, match=r"layer 'crop' \(CenterCrop\) needs known image sizes"):
        model.export(str(tmp_path / "m.onnx"))


def test_new_layers_at_opset_18(tmp_path):
    """The reductions of GroupNormalization, Dot(normalize=True) and concat / additive scores take their axes
    as an input from opset 18."""
    a, b = layers.Input(shape=(6, 4)), layers.Input(shape=(5, 4))
    h = layers.GroupNormalization(2)(a)
    y = layers.Concatenate()([layers.Dot(2, normalize=True)([h, b]), layers.Attention(score_mode="concat")([a, b]),
                              layers.AdditiveAttention(use_scale=False)([h, b]), layers.MultiHeadAttention(2, 3)(a, b)])
    model = randomize(pynn.Model([a, b], layers.Dense(3)(y)))
    check(model, lambda batch, rng: [rng.standard_normal((batch, n, 4)).astype(np.float32) for n in (6, 5)],
          tmp_path, opset_version=18)


# ---------------------------------------------------------------------------------------------- int8
def test_quantized_mlp(tmp_path):
    """model.quantize("int8"): int8 kernels (DequantizeLinear) and the inputs quantized per row in the graph.
    The graph as written (onnxruntime's optimizations off) is model.predict up to float32 rounding; with them on
    (the default), onnxruntime fuses each DequantizeLinear + MatMul into its MatMulNBits, which quantizes the
    (already integral) rows again in its own way: within one quantization step of model.predict."""
    model = seq([layers.Dense(32, activation="relu"), layers.Dense(16, activation="tanh"), layers.Dense(5)], (20,))
    x = np.random.default_rng(3).standard_normal((256, 20)).astype(np.float32)
    float_y = model.predict(x, verbose=0)
    model.quantize("int8")
    sess = session(model, tmp_path)
    proto = onnx.load(str(tmp_path / "model.onnx"))
    int8 = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8) == 3 and sum(n.op_type == "DequantizeLinear" for n in proto.graph.node) == 3
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    as_written = ort.InferenceSession(str(tmp_path / "model.onnx"), options, providers=["CPUExecutionProvider"])
    quantized_y = model.predict(x, verbose=0)
    assert np.abs(quantized_y - float_y).max() > 0.02                 # the int8 model is not the float one
    # one step of the last layer: an input code off by one moves output j by max|x_row| max|w_j| / 127
    hidden = pynn.Sequential(model.layers[:-1]).predict(x, verbose=0)
    step = np.abs(hidden).max(axis=1, keepdims=True) / model.layers[-1].kernel_scale.value[None, :]
    for batch in BATCHES + (256,):
        np.testing.assert_allclose(run(as_written, [x[:batch]])[0], quantized_y[:batch], rtol=1e-5, atol=2e-6)
        got = run(sess, [x[:batch]])[0]
        assert got.shape == (batch, 5) and np.all(np.abs(got - quantized_y[:batch]) <= step[:batch] + 1e-5)
    model = seq([layers.Dense(8, activation="gelu"), layers.Dense(4)], (5, 6))          # on sequences
    model.quantize("int8")
    session(model, tmp_path)
    as_written = ort.InferenceSession(str(tmp_path / "model.onnx"), options, providers=["CPUExecutionProvider"])
    for batch in BATCHES:
        xb = np.random.default_rng(batch).standard_normal((batch, 5, 6)).astype(np.float32)
        np.testing.assert_allclose(run(as_written, [xb])[0], model.predict(xb, verbose=0), rtol=1e-5, atol=2e-6)


def _quantized_sessions(model, tmp_path):
    """(as written, optimized): onnxruntime sessions of the exported model with its graph optimizations off,
    and on. The optimized one keeps int8 activations int8 (session.qdqisint8allowed): by default, on an x86
    CPU, onnxruntime turns QDQ's int8 activations into uint8 for its u8s8 products, whose AVX2 kernel (without
    VNNI) adds pairs of products in int16 with saturation, which full-range int8 weights overflow."""
    session(model, tmp_path)
    path = str(tmp_path / "model.onnx")
    off, on = ort.SessionOptions(), ort.SessionOptions()
    off.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    on.add_session_config_entry("session.qdqisint8allowed", "1")
    return tuple(ort.InferenceSession(path, options, providers=["CPUExecutionProvider"]) for options in (off, on))


def _quantize(model, x, mode):
    """model.quantize("int8"): dynamic, or static with x as the calibration data."""
    if mode == "static":
        model.quantize("int8", calibration_data=x)
        assert all(layer.activation_quantization == "static" for layer in model.layers if layer.weights
                   and getattr(layer, "_static_inputs", None))
    else:
        model.quantize("int8")


def _int8_step(layer, x):
    """One quantization step of the layer's last int8 product, per output channel (last axis) and, for dynamic
    inputs, per sample (axis 0): an input code off by one moves output j by at most (max |input|, or
    127 / inputs_scale) / kernel_scale_j, the largest |w_j| being 127 / kernel_scale_j. SeparableConv2D's is its
    pointwise product's, whose input is its int8 depthwise output."""
    attr, which = "kernel", 0
    if isinstance(layer, layers.SeparableConv2D):
        x = layer._depthwise_int8(x, "depthwise_kernel", layer.strides, layer.padding, layer.dilation_rate)
        attr, which = "pointwise_kernel", 1
    scale = getattr(layer, f"{attr}_scale").value
    if layer.activation_quantization == "static":
        return np.float32(127.0) / getattr(layer, layer._static_inputs[which]).value / scale
    return np.abs(x).max(axis=tuple(range(1, x.ndim)), keepdims=True) / scale      # (samples, 1, ..., channels)


def _int8_axes(proto):
    """(names of the int8 weight initializers, {their name: the axis of the DequantizeLinear reading them})."""
    int8 = {t.name for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8 and t.dims}
    axes = {n.input[0]: next((a.i for a in n.attribute if a.name == "axis"), 1)
            for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int8}
    return int8, axes


INT8_LAYERS = {
    "Dense": (lambda: layers.Dense(6, activation="relu"), (7,)),
    "Conv1D_same_strides": (lambda: layers.Conv1D(4, 3, padding="same", strides=2, activation="relu"), (11, 3)),
    "Conv1D_causal_dilated": (lambda: layers.Conv1D(4, 3, padding="causal", dilation_rate=2), (10, 3)),
    "Conv2D_valid": (lambda: layers.Conv2D(5, 3), (9, 8, 3)),
    "Conv2D_valid_strides": (lambda: layers.Conv2D(5, (3, 2), strides=(2, 1), use_bias=False), (9, 8, 3)),
    "Conv2D_same_strides": (lambda: layers.Conv2D(5, 3, padding="same", strides=2, activation="relu"), (9, 8, 3)),
    "Conv2D_same_dilated": (lambda: layers.Conv2D(4, 3, padding="same", dilation_rate=2), (8, 9, 2)),
    "Conv2D_groups": (lambda: layers.Conv2D(6, 3, padding="same", groups=3), (7, 8, 6)),
    "DepthwiseConv2D_same_strides": (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same",
                                                                    strides=2), (9, 8, 3)),
    "DepthwiseConv2D_valid": (lambda: layers.DepthwiseConv2D((3, 2), activation="relu"), (7, 8, 4)),
    "SeparableConv2D": (lambda: layers.SeparableConv2D(4, 3, depth_multiplier=2, padding="same", strides=2,
                                                       activation="relu"), (9, 8, 3)),
    "SeparableConv2D_valid": (lambda: layers.SeparableConv2D(5, 3, use_bias=False), (8, 7, 4)),
    "SimpleRNN": (lambda: layers.SimpleRNN(5, return_sequences=True), (6, 3)),
    "LSTM": (lambda: layers.LSTM(5), (6, 3)),
    "LSTM_backwards_sequences": (lambda: layers.LSTM(5, go_backwards=True, return_sequences=True), (6, 3)),
    "GRU": (lambda: layers.GRU(5, return_sequences=True), (6, 3)),
    "GRU_reset_before": (lambda: layers.GRU(5, reset_after=False), (6, 3)),
    "Bidirectional_LSTM": (lambda: layers.Bidirectional(layers.LSTM(4, return_sequences=True)), (6, 3)),
    "Bidirectional_GRU": (lambda: layers.Bidirectional(layers.GRU(4), merge_mode="sum"), (6, 3)),
}
RECURRENT = (layers.SimpleRNN, layers.LSTM, layers.GRU, layers.Bidirectional)


@pytest.mark.parametrize("mode", ["dynamic", "static"])
@pytest.mark.parametrize("name", list(INT8_LAYERS))
def test_quantized_layers(name, mode, tmp_path):
    """Each quantizable layer after model.quantize("int8"), dynamic and static: the int8 kernels are int8
    initializers dequantized on the output-channel axis of their ONNX layout; the graph as written is
    model.predict up to float32 rounding (static: but for an input at a rounding tie, which QuantizeLinear's
    x / (1 / s) may round the other way: within one step); with onnxruntime's optimizations, within one
    quantization step of the layer's last int8 product. The int8 model differs from the float one by more than
    that step: the tolerance would catch a graph computing in float (or a scale on the wrong axis)."""
    make, shape = INT8_LAYERS[name]
    model = seq([make()], shape)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64,) + shape).astype(np.float32)
    x[:, ..., 0] *= 3.0                                           # channels of different ranges
    float_y = model.predict(x, verbose=0)
    _quantize(model, x[:32], mode)
    x[-1] *= 2.0                                                  # beyond the calibrated range: clipped
    quantized_y = model.predict(x, verbose=0)
    as_written, optimized = _quantized_sessions(model, tmp_path)
    int8, axes = _int8_axes(onnx.load(str(tmp_path / "model.onnx")))
    quantized_layers = [w for layer in model.layers for w in layer.weights if w.value.dtype == np.int8]
    assert len(int8) == len(quantized_layers) and set(axes) == int8
    layer = model.layers[0]
    if isinstance(layer, RECURRENT):
        step = np.full(quantized_y.shape[-1], 1e-5, np.float32)   # no fused int8 products: float32 rounding
        assert np.abs(quantized_y - float_y).max() > 1e-3
    else:
        step = _int8_step(layer, x)
        assert np.any(np.abs(quantized_y - float_y) > step)
    for batch in BATCHES + (64,):
        xb, expected = x[-batch:], quantized_y[-batch:]
        tol = step[-batch:] if step.ndim > 1 else step
        got = run(as_written, [xb])[0]
        assert got.shape == expected.shape
        close = np.isclose(got, expected, rtol=1e-5, atol=4e-6)
        assert np.all(close) if mode == "dynamic" else (close.mean() > 0.999 and np.all(np.abs(got - expected)
                                                                                         <= tol + 1e-5))
        assert np.all(np.abs(run(optimized, [xb])[0] - expected) <= tol + 1e-5)


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_quantized_conv_with_unknown_sizes(mode, tmp_path):
    """int8 convolutions on sizes known only at run time (padding 'same' and 'causal': the windows' Conv takes
    auto_pad), at two sizes."""
    model = seq([layers.Conv2D(4, 3, padding="same", strides=2), layers.Conv2D(3, 2, activation="relu"),
                 layers.GlobalMaxPooling2D()], (None, None, 2))
    rng = np.random.default_rng(0)
    _quantize(model, rng.standard_normal((8, 9, 8, 2)).astype(np.float32), mode)
    as_written, _ = _quantized_sessions(model, tmp_path)
    for shape in ((2, 9, 8, 2), (3, 6, 11, 2)):
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(run(as_written, [x])[0], model.predict(x, verbose=0), rtol=1e-5, atol=4e-6)
    model = seq([layers.Conv1D(3, 4, padding="same"), layers.Conv1D(2, 3, padding="causal")], (None, 2))
    _quantize(model, rng.standard_normal((8, 10, 2)).astype(np.float32), mode)
    as_written, _ = _quantized_sessions(model, tmp_path)
    for shape in ((2, 10, 2), (3, 17, 2)):
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(run(as_written, [x])[0], model.predict(x, verbose=0), rtol=1e-5, atol=4e-6)


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_quantized_embedding_and_recurrent_masks(mode, tmp_path):
    """An int8 Embedding (a Gather from its table dequantized per row) with mask_zero, feeding int8 recurrent
    layers: the masks reach them as in the float export."""
    inputs = layers.Input(shape=(8,))
    h = layers.Embedding(30, 4, mask_zero=True)(inputs)
    h = layers.Bidirectional(layers.GRU(3, return_sequences=True))(h)
    out = layers.LSTM(3)(h)
    model = randomize(pynn.Model(inputs, out))
    make = _padded_indices("post")
    x = make(48, np.random.default_rng(0))[0]
    _quantize(model, x, mode)
    as_written, optimized = _quantized_sessions(model, tmp_path)
    int8, axes = _int8_axes(onnx.load(str(tmp_path / "model.onnx")))
    assert len(int8) == 4 and sorted(axes[name] for name in int8) == [0, 1, 1, 1]
    assert all(axes[name] == (0 if "embeddings" in name else 1) for name in int8)   # table rows, W units
    for batch in BATCHES:
        xb = make(batch, np.random.default_rng(batch))[0]
        expected = model.predict(xb, verbose=0)
        for sess in (as_written, optimized):
            np.testing.assert_allclose(run(sess, [xb])[0], expected, rtol=1e-5, atol=1e-6)
    model = seq([layers.Embedding(30, 4)], (8,))             # the lookup alone: rows of q / scale
    model.quantize("int8")
    embedding = model.layers[0]
    table = embedding.embeddings.value / embedding.embeddings_scale.value[:, None]
    np.testing.assert_allclose(run(session(model, tmp_path), [x])[0], table[x.astype(int)], rtol=1e-6, atol=0)


def _mnist_cnn():
    """The seed MNIST CNN: Conv2D 32 - MaxPool - Conv2D 64 - MaxPool - Flatten - Dense(10, softmax)."""
    return pynn.Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Flatten(), layers.Dense(10, activation="softmax")])


@pytest.fixture(scope="module")
def mnist_cnn(real_mnist):
    """(weights of _mnist_cnn after one epoch on 5,000 real MNIST images, those images, 2,000 test images and
    their labels)."""
    x_train, y_train, x_test, y_test = real_mnist
    x = x_train[:5000, ..., None].astype(np.float32) / 255
    pynn.utils.set_random_seed(0)
    model = _mnist_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y_train[:5000], batch_size=32, epochs=1, verbose=0)
    return model.get_weights(), x, x_test[:2000, ..., None].astype(np.float32) / 255, y_test[:2000]


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_quantized_seed_cnn_on_real_mnist(mode, mnist_cnn, tmp_path):
    """The seed CNN trained briefly on real MNIST, quantized, exported: onnxruntime (default session options)
    predicts the class pynn predicts for at least 99.5% of 2,000 test images."""
    weights, x, x_test, y_test = mnist_cnn
    model = _mnist_cnn()
    model.set_weights(weights)
    _quantize(model, x[:500], mode)
    pynn_class = model.predict(x_test, verbose=0).argmax(axis=1)
    assert np.mean(pynn_class == y_test) > 0.85                  # trained, and still so in int8
    onnx_class = run(session(model, tmp_path), [x_test])[0].argmax(axis=1)
    assert np.mean(onnx_class == pynn_class) >= 0.995


def test_quantized_layer_without_int8_converter_is_refused(tmp_path):
    """A quantized layer whose converter reads float weights (a class registered without quantized=True) is an
    error naming it, also inside a wrapper, instead of a graph computing with its int8 values as weights; a
    quantization mode other than int8 is refused by the int8 converters."""
    class Scaled(layers.Dense):
        pass

    @export.register_converter(Scaled)
    def _scaled(g, layer, x):
        return g.op("MatMul", [x, g.const(layer.kernel.value)])

    model = seq([layers.Conv1D(2, 3), layers.Flatten(), Scaled(2, name="scaled")], (6, 3))
    model.quantize("int8")
    with pytest.raises(ValueError, match=r"layer 'scaled' \(Scaled\) is quantized \(int8\).*dequantize"):
        model.export(str(tmp_path / "m.onnx"))
    model = seq([layers.TimeDistributed(Scaled(2, name="inner"), name="td")], (5, 3))
    model.quantize("int8")
    with pytest.raises(ValueError, match=r"'inner' \(Scaled\) \(inside layer 'td', TimeDistributed\) is quantized"):
        model.export(str(tmp_path / "m.onnx"))
    model = seq([layers.Conv2D(2, 3, name="conv")], (5, 5, 1))
    model.quantize("int8")
    model.layers[0].quantization_mode = "int4"
    with pytest.raises(ValueError, match=r"layer 'conv' \(Conv2D\) is quantized \(int4.*only int8"):
        model.export(str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


# ---------------------------------------------------------------------------------------------- seed models
def _train(model, x, y, loss="sparse_categorical_crossentropy"):
    model.compile(optimizer="adam", loss=loss)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)   # a few steps on random data
    return model


def test_seed_mlp_trained(tmp_path):
    from pynn.examples import mnist_mlp
    pynn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = _train(mnist_mlp.build_model(), rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64))
    sess = check(model, lambda batch, rng: [rng.random((batch, 784), dtype=np.float32)], tmp_path)
    x = rng.random((1000, 784), dtype=np.float32)
    np.testing.assert_allclose(run(sess, [x])[0], model.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def _seed_cnn():
    """The seed CNN (bench/bench_cnn.py's W2 model)."""
    return pynn.Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")])


def test_seed_cnn_trained(tmp_path):
    pynn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = _train(_seed_cnn(), rng.random((48, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 48))
    check(model, lambda batch, rng: [rng.random((batch, 28, 28, 1), dtype=np.float32)], tmp_path, atol=1e-6)


def test_example_cnns_trained(tmp_path):
    """The residual CNN (BatchNormalization, Add, GlobalAveragePooling2D) and the CIFAR-10 CNN (augmentation
    layers) of pynn.examples, small."""
    from pynn.examples import cifar10_cnn, resnet_mnist
    pynn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = _train(resnet_mnist.build_model(width=4), rng.random((32, 28, 28, 1), dtype=np.float32),
                   rng.integers(0, 10, 32))
    check(model, lambda batch, rng: [rng.random((batch, 28, 28, 1), dtype=np.float32)], tmp_path, atol=1e-5)
    model = _train(cifar10_cnn.build_model(filters=4, dense=16), rng.random((32, 32, 32, 3), dtype=np.float32),
                   rng.integers(0, 10, 32))
    check(model, lambda batch, rng: [rng.random((batch, 32, 32, 3), dtype=np.float32)], tmp_path, atol=1e-6)


# ---------------------------------------------------------------------------------------------- the file, errors
def test_graph_inputs_outputs_and_opset(tmp_path):
    model = seq([layers.Conv1D(3, 2), layers.GlobalAveragePooling1D(), layers.LayerNormalization(axis=1),
                 layers.Dense(2)], (None, 4))
    path = tmp_path / "m.onnx"
    assert export.export_onnx(model, path) == str(path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_param and dims[2].dim_value == 4
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    check(model, normal(6, 4), tmp_path, opset_version=18)      # Reduce* axes as inputs from opset 18
    model = seq([layers.LayerNormalization(axis=1), layers.UnitNormalization(), layers.GlobalMaxPooling1D()], (4, 3))
    check(model, normal(4, 3), tmp_path, opset_version=18)
    with pytest.raises(ValueError, match="opset"):
        model.export(str(tmp_path / "m.onnx"), opset_version=12)
    with pytest.raises(ValueError, match="format"):
        model.export(str(tmp_path / "m.pb"), format="tf_saved_model")


def test_comparison_detects_a_wrong_weight(tmp_path):
    """The harness fails when the graph differs from the model: a weight changed after the export."""
    model = seq([layers.Dense(4, activation="relu"), layers.Dense(3)], (5,))
    sess = session(model, tmp_path)
    model.layers[-1].bias.assign(model.layers[-1].bias.value + 1e-3)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(run(sess, [x])[0], model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_unsupported_layer_is_named(tmp_path):
    model = seq([layers.Dense(4), layers.Lambda(lambda t: t * 2, name="doubler")], (3,))
    with pytest.raises(ValueError, match=r"layer 'doubler' \(Lambda\) has no ONNX converter"):
        model.export(str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()

    class Custom(layers.Dense):      # a subclass may compute something else: not exported as a Dense
        pass
    model = seq([Custom(2, name="custom_dense")], (3,))
    with pytest.raises(ValueError, match=r"'custom_dense' \(Custom\)"):
        model.export(str(tmp_path / "m.onnx"))
    with pytest.raises(ValueError, match="not built"):
        pynn.Sequential([layers.Dense(2)]).export(str(tmp_path / "m.onnx"))


def test_register_converter(tmp_path):
    class Doubler(layers.Layer):
        def forward(self, x, training=False):
            return 2 * x, None

    @export.register_converter(Doubler)
    def _doubler(g, layer, x):
        return g.op("Mul", [x, g.scalar(2.0)])

    assert "Doubler" in export.supported_layers()
    check(seq([layers.Dense(3), Doubler()], (4,)), normal(4), tmp_path)


def test_attention_layers_called_with_different_options(tmp_path):
    """One MultiHeadAttention called with and without a causal mask, one Attention called with masks and returned
    scores and then without: each call exports with its own options (they are on its node, not the layer's)."""
    x = layers.Input(shape=(6, 8))
    query_mask, value_mask = layers.Input(shape=(6,)), layers.Input(shape=(6,))
    mha = layers.MultiHeadAttention(2, 4)
    causal = mha(x, x, use_causal_mask=True)
    full = mha(causal, x)
    attention = layers.Attention(use_scale=True)
    masked, scores = attention([causal, full], mask=[query_mask, value_mask], return_attention_scores=True)
    plain = attention([full, causal])
    outputs = [layers.Concatenate()([causal, full]), layers.Concatenate()([masked, plain]), scores]  # one name each
    model = randomize(pynn.Model([x, query_mask, value_mask], outputs))
    with pytest.raises(NotImplementedError):
        mha._graph_options                       # the layer alone has no single set of options

    def make(batch, rng):
        ms = [(rng.random((batch, 6)) < 0.7).astype(np.float32) for _ in range(2)]
        ms[1][0] = 0.0                           # a row with no value to attend to
        return [rng.standard_normal((batch, 6, 8)).astype(np.float32)] + ms
    check(model, make, tmp_path, atol=2e-5)


def test_subclassed_model_calling_attention_two_ways(tmp_path):
    """A subclassed call() using one MultiHeadAttention with and without a causal mask: the traced calls keep
    their own options."""
    class TwoWays(pynn.Model):
        def __init__(self):
            super().__init__()
            self.mha = layers.MultiHeadAttention(2, 4)

        def call(self, x):
            return self.mha(self.mha(x, x, use_causal_mask=True), x)

    model = TwoWays()
    model(np.zeros((1, 5, 8), np.float32))
    randomize(model)
    check(model, normal(5, 8), tmp_path, atol=2e-5)
