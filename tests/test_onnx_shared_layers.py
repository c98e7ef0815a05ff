"""ONNX export of models that call one layer more than once (pynn issue 18): a shared Dense whose two calls are
both outputs, a shared layer called twice inside the graph with one call an output, a shared attention layer,
a nested model called twice, the same tensor output twice, and subclassed models calling a layer twice. Each
exports (the graph outputs get distinct names: a name model.output_names repeats, as it names a shared layer's
calls alike, is numbered after its first use, _1, _2, ...), runs in onnxruntime as model.predict does within
float32 tolerance, stores each weight once whatever the number of calls, and names every value once; a layer
called once keeps today's names."""
import re

import numpy as np
import pytest

import pynn
from pynn import export, layers

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

BATCHES = (1, 4)


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0.0, 0.5, w.shape).astype(w.dtype))
    return model


def export_and_check(model, make_inputs, tmp_path, atol=1e-5, **kwargs):
    """Export, check the file (ONNX's shape inference included), compare onnxruntime with model.predict at each
    batch size; returns the ModelProto and the session."""
    path = tmp_path / "model.onnx"
    model.export(str(path), format="onnx", **kwargs)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch in BATCHES:
        xs = make_inputs(batch, rng)
        expected = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        expected = expected if isinstance(expected, list) else [expected]
        got = sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), xs)})
        assert len(got) == len(expected)
        for e, o in zip(expected, got):
            assert o.shape == e.shape, (o.shape, e.shape)
            np.testing.assert_allclose(o, e, rtol=1e-4, atol=atol)
    check_names_and_weights(proto, model)
    return proto, sess


def check_names_and_weights(proto, model):
    """Every value is produced once, and each of the model's weights is stored as exactly one initializer."""
    graph = proto.graph
    produced = [name for node in graph.node for name in node.output] + [i.name for i in graph.initializer] + \
        [i.name for i in graph.input]
    assert len(produced) == len(set(produced))
    node_names = [node.name for node in graph.node]
    assert len(node_names) == len(set(node_names))
    stored = [onnx.numpy_helper.to_array(i).tobytes() for i in graph.initializer]
    for w in model.weights:
        assert stored.count(np.asarray(w.value, np.float32).tobytes()) == 1, w.name


def floats(*shapes):
    return lambda batch, rng: [rng.standard_normal((batch,) + s).astype(np.float32) for s in shapes]


def output_names(sess):
    return [o.name for o in sess.get_outputs()]


def check_output_names(sess, model):
    """Distinct graph output names: the model's where it names an output first (all of them when they are
    unique), `<name>_<k>` for a name it repeats."""
    got, names = output_names(sess), model.output_names
    assert len(got) == len(names) == len(set(got))
    for i, (name, n) in enumerate(zip(got, names)):
        assert name == n if names.index(n) == i else re.fullmatch(re.escape(n) + r"_\d+", name), (got, names)
    return got


# ---------------------------------------------------------------------------------------------- functional
def test_shared_dense_both_calls_are_outputs(tmp_path):
    a, b = layers.Input(shape=(3,)), layers.Input(shape=(3,))
    shared = layers.Dense(4, activation="tanh", name="shared")
    model = randomize(pynn.Model([a, b], [shared(a), shared(b)]))
    name = model.output_names[0]
    assert model.output_names == [name, name]                     # as Keras, the two calls are named alike
    proto, sess = export_and_check(model, floats((3,), (3,)), tmp_path)
    assert check_output_names(sess, model) == [name, name + "_1"]
    assert len(proto.graph.initializer) == 2                      # one kernel and one bias for the two calls


def test_shared_layer_inside_the_graph_with_one_call_an_output(tmp_path):
    """h = shared(x) feeds a second call of `shared`; both calls, another layer's output and a head on the second
    call are outputs. Then the outputs named so that the numbered name ("y_1") is another output's: it is kept
    and skipped."""
    x = layers.Input(shape=(5,), name="x")
    shared = layers.Dense(5, activation="relu", name="shared")
    h = shared(x)
    twice = shared(layers.Dense(5, name="mid")(h))
    model = randomize(pynn.Model(x, [h, twice, layers.Dense(2, name="other")(h),
                                     layers.Dense(3, name="head")(twice)]))
    proto, sess = export_and_check(model, floats((5,)), tmp_path)
    check_output_names(sess, model)
    assert len(proto.graph.initializer) == len(model.weights) == 8
    model.output_names = ["y", "y", "y_1", "head"]
    _, sess = export_and_check(model, floats((5,)), tmp_path)
    assert output_names(sess) == ["y", "y_2", "y_1", "head"]


def test_output_names_that_are_unique_stay_as_they_are(tmp_path):
    """A dict of outputs, and a shared layer's single output: the model's names, unchanged."""
    x = layers.Input(shape=(4,), name="features")
    shared = layers.Dense(4, name="shared")
    y = shared(shared(x))
    model = randomize(pynn.Model(x, {"first": layers.Dense(2)(y), "second": shared(y)}))
    _, sess = export_and_check(model, floats((4,)), tmp_path)
    assert output_names(sess) == model.output_names == ["first", "second"]
    model = randomize(pynn.Model(x, y))
    _, sess = export_and_check(model, floats((4,)), tmp_path)
    assert output_names(sess) == model.output_names == ["shared"]


def test_same_tensor_output_twice(tmp_path):
    x = layers.Input(shape=(3,))
    y = layers.Dense(2, name="out")(x)
    model = randomize(pynn.Model(x, [y, y]))
    _, sess = export_and_check(model, floats((3,)), tmp_path)
    check_output_names(sess, model)


def test_shared_attention_called_twice(tmp_path):
    """One MultiHeadAttention called plainly and with a causal mask, one Attention called on two pairs: each
    call an output (the same name twice per layer), each with its own options, the weights stored once."""
    x, y = layers.Input(shape=(6, 8)), layers.Input(shape=(5, 8))
    mha = layers.MultiHeadAttention(2, 4, name="mha")
    attention = layers.Attention(use_scale=True, name="att")
    outputs = [mha(x, y), mha(x, x, use_causal_mask=True), attention([x, y]), attention([y, x])]
    model = randomize(pynn.Model([x, y], outputs))
    _, sess = export_and_check(model, floats((6, 8), (5, 8)), tmp_path, atol=2e-5)
    mha_name, att_name = model.output_names[0], model.output_names[2]
    assert check_output_names(sess, model) == [mha_name, mha_name + "_1", att_name, att_name + "_1"]


def test_nested_model_called_twice(tmp_path):
    inner = pynn.Sequential([layers.Input(shape=(4,)), layers.Dense(6, activation="relu"), layers.Dense(3)],
                            name="inner")
    a, b = layers.Input(shape=(4,)), layers.Input(shape=(4,))
    model = randomize(pynn.Model([a, b], [inner(a), inner(b)]))
    proto, sess = export_and_check(model, floats((4,), (4,)), tmp_path)
    check_output_names(sess, model)
    assert len(proto.graph.initializer) == len(model.weights) == 4
    values = [name for node in proto.graph.node for name in node.output]
    assert any(v.startswith("inner/call1/") for v in values)     # the second call's layers, under its scope


def test_value_names_per_call(tmp_path):
    """A layer called once names its values `<layer>/...` as before; a later call of a shared layer names them
    `<layer>/call<k>/...`, so every name says which call made it."""
    x = layers.Input(shape=(3,), name="x")
    once = layers.Dense(3, name="once")
    shared = layers.Dense(3, name="shared")
    model = randomize(pynn.Model(x, shared(once(shared(x)))))
    proto, _ = export_and_check(model, floats((3,)), tmp_path)
    values = [name for node in proto.graph.node for name in node.output]
    assert values == ["shared/matmul", "shared/add", "once/matmul", "once/add", "shared/call1/matmul",
                      "shared/call1/add", "shared"]


# ---------------------------------------------------------------------------------------------- subclassed
def test_subclassed_model_calling_a_layer_twice(tmp_path):
    class Twice(pynn.Model):
        def __init__(self):
            super().__init__()
            self.shared = layers.Dense(5, activation="tanh")
            self.out = layers.Dense(2)

        def call(self, x):
            return self.out(self.shared(self.shared(x)))

    model = Twice()
    model(np.zeros((1, 5), np.float32))
    proto, sess = export_and_check(randomize(model), floats((5,)), tmp_path)
    assert output_names(sess) == ["output_1"]
    assert len(proto.graph.initializer) == 4


def test_subclassed_model_with_two_outputs_from_one_layer(tmp_path):
    """A call() returning both calls of a shared layer exports both outputs (output_1, output_2)."""
    class Pair(pynn.Model):
        def __init__(self):
            super().__init__()
            self.shared = layers.Dense(3)

        def call(self, xs):
            a, b = xs
            return [self.shared(a), self.shared(b)]

    model = Pair()
    model([np.zeros((1, 4), np.float32)] * 2)
    proto, sess = export_and_check(randomize(model), floats((4,), (4,)), tmp_path)
    assert output_names(sess) == ["output_1", "output_2"]
    assert len(proto.graph.initializer) == 2


def test_to_onnx_in_memory():
    """to_onnx (the ModelProto) names the outputs as the file does; a name that is also an input's is still
    refused."""
    a, b = layers.Input(shape=(2,), name="a"), layers.Input(shape=(2,), name="b")
    shared = layers.Dense(2, name="shared")
    model = pynn.Model([a, b], [shared(a), shared(b), shared(a)])
    name = model.output_names[0]
    proto = export.to_onnx(model)
    assert [o.name for o in proto.graph.output] == [name, name + "_1", name + "_2"]
    model.output_names = ["a", "y", "y"]
    with pytest.raises(ValueError, match="'a' is used twice"):
        export.to_onnx(model)
