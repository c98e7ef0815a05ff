"""Magnitude pruning (pynn.pruning, tfmot.sparsity.keras's API): schedules, masks (unstructured, block, m:n),
training with UpdatePruningStep, save / load and continued training, strip_pruning, compressed files, the
sparse inference of stripped Dense layers, clear errors; accuracy on real MNIST."""
import numpy as np
import pytest

import pynn
from pynn import layers, pruning
from gradcheck import check_layer_gradients


# ------------------------------------------------------------------ schedules
def test_constant_sparsity_schedule():
    s = pruning.ConstantSparsity(0.6, begin_step=10, end_step=50, frequency=20)
    assert [s(step)[0] for step in (0, 9, 10, 11, 30, 50, 70)] == [False, False, True, False, True, True, False]
    assert s(30)[1] == 0.6
    forever = pruning.ConstantSparsity(0.5, 0, frequency=1)
    assert forever(10 ** 6) == (True, 0.5)


def test_polynomial_decay_follows_its_formula():
    s = pruning.PolynomialDecay(0.2, 0.8, begin_step=100, end_step=300, power=3, frequency=50)
    for step in (0, 100, 150, 200, 300, 400):
        p = min(1.0, max(0.0, (step - 100) / 200))
        assert s(step)[1] == pytest.approx(0.8 + (0.2 - 0.8) * (1 - p) ** 3)
    assert [s(step)[0] for step in (50, 100, 120, 150, 300, 350)] == [False, True, False, True, True, False]


@pytest.mark.parametrize("make, message", [
    (lambda: pruning.ConstantSparsity(1.0, 0), "target_sparsity must be a number in"),
    (lambda: pruning.ConstantSparsity(0.5, -1), "begin_step must be an integer >= 0"),
    (lambda: pruning.ConstantSparsity(0.5, 10, end_step=5), "end_step"),
    (lambda: pruning.ConstantSparsity(0.5, 0, frequency=0), "frequency must be an integer >= 1"),
    (lambda: pruning.PolynomialDecay(0.5, 0.9, 10, 10), "end_step .* must be > begin_step"),
    (lambda: pruning.PolynomialDecay(0.5, 0.9, 0, 10, power=0), "power must be a positive number"),
    (lambda: pruning.PolynomialDecay(-0.1, 0.9, 0, 10), "initial_sparsity"),
])
def test_schedule_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------------------------------ masks
def wrapped_dense(rng, features=40, units=24, **options):
    wrapper = pruning.prune_low_magnitude(layers.Dense(units), **options)
    wrapper.build_for((None, features))
    wrapper.layer.kernel.assign(rng.standard_normal((features, units)).astype(np.float32))
    return wrapper


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.8, 0.95])
def test_unstructured_mask_zeroes_the_smallest_magnitudes(rng, sparsity):
    wrapper = wrapped_dense(rng)
    w = wrapper.layer.kernel.numpy()
    wrapper._update_masks(sparsity)
    mask = wrapper.pruned[0][1].value
    kept = max(1, round(w.size * (1 - sparsity)))
    assert mask.sum() == kept
    assert np.abs(w[mask == 1]).min() >= np.abs(w[mask == 0]).max(initial=0)
    assert wrapper.pruned[0][2].value == pytest.approx(np.abs(w[mask == 1]).min())
    wrapper.apply_masks()
    np.testing.assert_array_equal(wrapper.layer.kernel.value, w * mask)


@pytest.mark.parametrize("kind", ["AVG", "MAX"])
def test_block_mask_prunes_whole_blocks(rng, kind):
    wrapper = wrapped_dense(rng, features=10, units=9, block_size=(2, 3), block_pooling_type=kind)
    w = np.abs(wrapper.layer.kernel.numpy())
    wrapper._update_masks(0.5)
    mask = wrapper.pruned[0][1].value
    blocks = w.reshape(5, 2, 3, 3).mean(axis=(1, 3)) if kind == "AVG" else w.reshape(5, 2, 3, 3).max(axis=(1, 3))
    for i in range(5):
        for j in range(3):
            block = mask[2 * i:2 * i + 2, 3 * j:3 * j + 3]
            assert block.min() == block.max()            # a block is kept or pruned whole
    kept = np.array([[mask[2 * i, 3 * j] for j in range(3)] for i in range(5)])
    assert kept.sum() == round(15 * 0.5)
    assert blocks[kept == 1].min() >= blocks[kept == 0].max()


def test_m_by_n_keeps_m_of_every_n_along_the_input_axis(rng):
    wrapper = wrapped_dense(rng, features=10, units=6, sparsity_m_by_n=(2, 4))
    w = np.abs(wrapper.layer.kernel.numpy())
    wrapper._update_masks(0.0)
    mask = wrapper.pruned[0][1].value
    for start in (0, 4):
        group = mask[start:start + 4]
        assert (group.sum(axis=0) == 2).all()
        top = np.sort(w[start:start + 4], axis=0)[2:]
        np.testing.assert_array_equal(np.sort((w * mask)[start:start + 4], axis=0)[2:], top)
    assert (mask[8:].sum(axis=0) == 2).all()            # a last group of 2 keeps both
    conv = pruning.prune_low_magnitude(layers.Conv2D(4, 3), sparsity_m_by_n=(2, 4))
    conv.build_for((None, 6, 6, 8))
    conv._update_masks(0.0)
    assert (conv.pruned[0][1].value.reshape(3, 3, 2, 4, 4).sum(axis=3) == 2).all()   # along input channels


def test_wrapper_options_are_checked():
    with pytest.raises(ValueError, match="block_size must be two positive integers"):
        pruning.prune_low_magnitude(layers.Dense(2), block_size=(0, 1))
    with pytest.raises(ValueError, match="block_pooling_type must be 'AVG' or 'MAX'"):
        pruning.prune_low_magnitude(layers.Dense(2), block_pooling_type="MIN")
    with pytest.raises(ValueError, match=r"sparsity_m_by_n must be \(m, n\)"):
        pruning.prune_low_magnitude(layers.Dense(2), sparsity_m_by_n=(4, 2))
    with pytest.raises(ValueError, match="block_size .* needs 2-D weights"):
        pruning.prune_low_magnitude(layers.Conv2D(2, 3), block_size=(2, 2)).build_for((None, 5, 5, 1))
    with pytest.raises(ValueError, match="already wrapped"):
        pruning.prune_low_magnitude(pruning.prune_low_magnitude(layers.Dense(2)))


def test_wrapper_gradients_are_the_wrapped_layers(rng):
    wrapper = pruning.prune_low_magnitude(layers.Dense(5, activation="tanh", dtype="float64"))
    wrapper.build_for((None, 7))
    wrapper._update_masks(0.5)
    wrapper.apply_masks()
    check_layer_gradients(wrapper, rng.standard_normal((4, 7)))


# ------------------------------------------------------------------ training
def mlp(seed=0):
    pynn.utils.set_random_seed(seed)
    return pynn.Sequential([layers.Input((20,)), layers.Dense(32, activation="relu"),
                            layers.Dense(16, activation="relu"), layers.Dense(3, activation="softmax")])


def data(rng, n=256):
    x = rng.standard_normal((n, 20)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)


class MasksHold(pynn.callbacks.Callback):
    """Checks after every batch (after UpdatePruningStep's) that pruned weights are zero."""

    def __init__(self):
        super().__init__()
        self.checked = 0

    def on_train_batch_end(self, batch, logs=None):
        for layer in pruning.callbacks.pruning_wrappers(self.model):
            for weight, mask, _ in layer.pruned:
                assert not weight.value[mask.value == 0].any()
        self.checked += 1


def test_fit_prunes_to_the_schedule_and_keeps_pruned_weights_at_zero(rng):
    x, y = data(rng)
    model = pruning.prune_low_magnitude(mlp(), pruning_schedule=pruning.PolynomialDecay(0.3, 0.75, 0, 16,
                                                                                         frequency=4))
    model.compile("adam", "sparse_categorical_crossentropy")
    check = MasksHold()
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[pruning.UpdatePruningStep(), check])
    assert check.checked == 24
    for name, sparsity in pruning.get_sparsity(model, by_weight=True).items():
        assert sparsity == pytest.approx(0.75, abs=0.01), name
    assert model.layers[0].pruning_step.value == 23


def test_fit_without_the_callback_is_a_clear_error_before_any_change(rng):
    x, y = data(rng)
    model = pruning.prune_low_magnitude(mlp())
    model.compile("sgd", "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="pruning step is not set.*UpdatePruningStep"):
        model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_load_and_continued_training_match(rng, tmp_path):
    x, y = data(rng)
    model = pruning.prune_low_magnitude(mlp(), pruning_schedule=pruning.ConstantSparsity(0.6, 0, frequency=5))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[pruning.UpdatePruningStep()])
    model.save(tmp_path / "pruned.keras")
    loaded = pynn.models.load_model(tmp_path / "pruned.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == ["PruneLowMagnitude"] * 3
    assert loaded.layers[0].pruning_schedule.get_config() == model.layers[0].pruning_schedule.get_config()
    for a, b in zip(model.get_weights(), loaded.get_weights()):     # masks and pruning step included
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    for m in (model, loaded):
        m.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[pruning.UpdatePruningStep()])
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pruning.prune_scope():
        assert pynn.models.load_model(tmp_path / "pruned.keras").layers[0].pruning_step.value == 7


def test_strip_pruning_gives_plain_layers_that_predict_the_same(rng, tmp_path):
    x, y = data(rng)
    model = pruning.prune_low_magnitude(mlp(), pruning_schedule=pruning.ConstantSparsity(0.9, 0, frequency=100))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[pruning.UpdatePruningStep()])
    stripped = pruning.strip_pruning(model)
    assert [type(layer).__name__ for layer in stripped.layers] == ["Dense"] * 3
    assert pruning.get_sparsity(stripped) == pytest.approx(0.9, abs=0.01)
    np.testing.assert_allclose(stripped.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert stripped.layers[0]._sparse[2] is not None      # 10% dense: inference on the sparse kernel
    stripped.save(tmp_path / "stripped.keras")
    loaded = pynn.models.load_model(tmp_path / "stripped.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), stripped.predict(x, verbose=0), rtol=1e-6)


def test_functional_models_conv_embedding_and_recurrent_layers_prune(rng):
    pynn.utils.set_random_seed(1)
    image = pynn.Input((8, 8, 3))
    tokens = pynn.Input((6,), dtype="int32")
    a = layers.Conv2D(8, 3, activation="relu")(image)
    a = layers.BatchNormalization()(a)
    a = layers.GlobalAveragePooling2D()(a)
    b = layers.Embedding(50, 8)(tokens)
    b = layers.LSTM(8)(b)
    out = layers.Dense(2, activation="softmax")(layers.Concatenate()([a, b]))
    model = pynn.Model([image, tokens], out)
    pruned = pruning.prune_low_magnitude(model, pruning_schedule=pruning.ConstantSparsity(0.5, 0, frequency=1))
    kinds = {type(layer).__name__ for layer in pruned.layers}
    assert "BatchNormalization" in kinds and "GlobalAveragePooling2D" in kinds
    wrapped = {layer.layer.name: layer for layer in pruned.layers if isinstance(layer, pruning.PruneLowMagnitude)}
    assert set(wrapped) == {model.layers[i].name for i in range(len(model.layers))
                            if type(model.layers[i]).__name__ in ("Conv2D", "Embedding", "LSTM", "Dense")}
    assert [w.name for w, _, _ in wrapped[next(n for n in wrapped if "lstm" in n)].pruned] == ["kernel",
                                                                                               "recurrent_kernel"]
    xs = [rng.standard_normal((16, 8, 8, 3)).astype(np.float32), rng.integers(0, 50, (16, 6)).astype(np.int32)]
    np.testing.assert_allclose(pruned.predict(xs, verbose=0), model.predict(xs, verbose=0), rtol=1e-6)
    pruned.compile("adam", "sparse_categorical_crossentropy")
    pruned.fit(xs, rng.integers(0, 2, 16), epochs=1, batch_size=8, verbose=0,
               callbacks=[pruning.UpdatePruningStep()])
    for sparsity in pruning.get_sparsity(pruned, by_weight=True).values():
        assert sparsity == pytest.approx(0.5, abs=0.02)
    stripped = pruning.strip_pruning(pruned)
    assert not any(isinstance(layer, pruning.PruneLowMagnitude) for layer in stripped.layers)
    np.testing.assert_allclose(stripped.predict(xs, verbose=0), pruned.predict(xs, verbose=0), rtol=1e-5,
                               atol=1e-6)


def test_custom_layers_need_get_prunable_weights():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

    model = pynn.Sequential([layers.Input((4,)), Scale(), layers.Dense(2)])
    with pytest.raises(ValueError, match="Scale.*get_prunable_weights"):
        pruning.prune_low_magnitude(model)

    class PrunableScale(Scale):
        def get_prunable_weights(self):
            return [self.w]

    model = pynn.Sequential([layers.Input((4,)), PrunableScale(), layers.Dense(2)])
    pruned = pruning.prune_low_magnitude(model)
    assert isinstance(pruned.layers[0], pruning.PruneLowMagnitude)
    assert pruned.layers[0].pruned[0][0] is model.layers[0].w


def test_a_subclassed_model_is_refused_with_advice():
    class Net(pynn.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(ValueError, match="subclassed model.*wrap its layers"):
        pruning.prune_low_magnitude(Net())


def test_pruning_summaries_write_sparsity(rng, tmp_path):
    pytest.importorskip("tensorboardX")
    from test_tensorboard import ProtoReader
    x, y = data(rng)
    model = pruning.prune_low_magnitude(mlp(), pruning_schedule=pruning.ConstantSparsity(0.5, 0, frequency=1))
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=2, verbose=0,
              callbacks=[pruning.UpdatePruningStep(), pruning.PruningSummaries(str(tmp_path))])
    scalars = ProtoReader(tmp_path / "metrics").scalars()
    name = model.layers[0].name
    assert [step for step, _ in scalars[f"{name}/kernel/sparsity"]] == [0, 1]
    assert scalars[f"{name}/kernel/sparsity"][-1][1] == pytest.approx(0.5, abs=0.01)


# ------------------------------------------------------------------ real MNIST
def test_mlp_pruned_to_80_percent_on_real_mnist_keeps_accuracy_and_saves_small(real_mnist, tmp_path):
    x, y, xt, yt = real_mnist
    x = x.reshape(-1, 784).astype(np.float32) / 255
    xt = xt.reshape(-1, 784).astype(np.float32) / 255
    pynn.utils.set_random_seed(0)
    model = pynn.Sequential([layers.Input((784,)), layers.Dense(128, activation="relu"), layers.Dropout(0.2),
                             layers.Dense(64, activation="relu"), layers.Dropout(0.2),
                             layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    dense_acc = model.evaluate(xt, yt, verbose=0)[1]
    dense_copy = pynn.models.clone_model(model)
    dense_copy.set_weights(model.get_weights())
    dense_copy.save(tmp_path / "dense.keras")
    steps = len(x) // 32
    pruned = pruning.prune_low_magnitude(model, pruning_schedule=pruning.PolynomialDecay(
        0.0, 0.8, begin_step=0, end_step=steps // 2, frequency=100))
    pruned.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    pruned.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[pruning.UpdatePruningStep()])
    stripped = pruning.strip_pruning(pruned)
    assert pruning.get_sparsity(stripped) == pytest.approx(0.8, abs=0.005)
    stripped.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    pruned_acc = stripped.evaluate(xt, yt, verbose=0)[1]
    assert dense_acc > 0.95 and pruned_acc >= dense_acc - 0.005, (dense_acc, pruned_acc)
    pynn.Sequential(stripped.layers).save(tmp_path / "sparse.keras")    # uncompiled, as the dense copy
    assert (tmp_path / "sparse.keras").stat().st_size <= (tmp_path / "dense.keras").stat().st_size / 3


def test_a_model_being_pruned_and_its_stripped_form_export_to_onnx(rng, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    x, y = data(rng)
    model = pruning.prune_low_magnitude(mlp(), pruning_schedule=pruning.ConstantSparsity(0.7, 0, frequency=1))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[pruning.UpdatePruningStep()])
    for name, m in (("pruning", model), ("stripped", pruning.strip_pruning(model))):
        path = str(tmp_path / f"{name}.onnx")
        m.export(path, format="onnx")
        session = ort.InferenceSession(path)
        got = session.run(None, {session.get_inputs()[0].name: x[:7]})[0]
        np.testing.assert_allclose(got, m.predict(x[:7], verbose=0), rtol=1e-5, atol=1e-6)
