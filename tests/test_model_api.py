"""The everyday model API: model.input / output, layer.input / output, Sequential.pop, to_json /
model_from_json, clone_model, metrics_names."""
import numpy as np
import pytest

import pynn
from pynn import layers


def cnn():
    pynn.utils.set_random_seed(0)
    model = pynn.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu", name="conv"),
                             layers.GlobalAveragePooling2D(name="gap"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_feature_extractor_from_input_and_a_layer_output():
    model = cnn()
    x = np.random.default_rng(0).random((5, 8, 8, 1)).astype(np.float32)
    features = pynn.Model(model.input, model.get_layer("gap").output)
    conv = model.get_layer("conv")
    expected = conv(x).mean(axis=(1, 2))
    np.testing.assert_allclose(features.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert model.input.shape == (None, 8, 8, 1) and model.output.shape == (None, 3)
    assert conv.input is model.input and conv.output.shape == (None, 6, 6, 4)
    with pytest.raises(AttributeError, match="Layer 'lonely' has never been called"):
        layers.Dense(2, name="lonely").output


def test_multi_input_model_lists_its_inputs_and_outputs():
    a, b = pynn.Input((3,), name="a"), pynn.Input((3,), name="b")
    add = layers.Add()
    out1, out2 = add([a, b]), layers.Dense(2)(a)
    model = pynn.Model([a, b], [out1, out2])
    assert model.input == [a, b] and model.output == [out1, out2]
    assert add.input == [a, b]


def test_pop_removes_the_last_layer_and_rebuilds():
    model = cnn()
    last = model.pop()
    assert isinstance(last, layers.Dense) and [l.name for l in model.layers] == ["conv", "gap"]
    assert model.output_shape == (None, 4)
    x = np.ones((2, 8, 8, 1), np.float32)
    assert model.predict(x, verbose=0).shape == (2, 4)
    model.add(layers.Dense(2, activation="softmax"))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, np.array([0, 1]), verbose=0)
    model.pop(), model.pop(), model.pop()
    with pytest.raises(TypeError, match="there are no layers to pop"):
        model.pop()


def test_json_and_clone_give_the_architecture_with_fresh_weights():
    model = cnn()
    x = np.random.default_rng(1).random((4, 8, 8, 1)).astype(np.float32)
    for make in (lambda m: pynn.models.model_from_json(m.to_json()), pynn.models.clone_model):
        copy = make(model)
        assert type(copy) is type(model)
        assert [type(l) for l in copy.layers] == [type(l) for l in model.layers]
        assert [w.shape for w in copy.get_weights()] == [w.shape for w in model.get_weights()]
        assert not np.array_equal(copy.get_weights()[0], model.get_weights()[0])    # not shared, fresh
        copy.set_weights(model.get_weights())
        np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="model_from_json: not a JSON model description"):
        pynn.models.model_from_json("{not json")


def test_clone_function_changes_layers_of_a_sequential_model():
    model = cnn()

    def wider(layer):
        config = layer.get_config()
        if isinstance(layer, layers.Conv2D):
            config["filters"] = 8
        return type(layer).from_config(config)

    clone = pynn.models.clone_model(model, clone_function=wider)
    assert clone.get_layer("conv").get_weights()[0].shape == (3, 3, 1, 8)
    functional = pynn.Model(model.input, model.output)
    with pytest.raises(ValueError, match="clone_function is supported for Sequential models only"):
        pynn.models.clone_model(functional, clone_function=wider)


def test_metrics_names_follow_evaluate():
    model = cnn()
    x, y = np.ones((4, 8, 8, 1), np.float32), np.array([0, 1, 2, 0])
    assert model.metrics_names == ["loss", "accuracy"]
    assert len(model.evaluate(x, y, verbose=0)) == len(model.metrics_names)
