"""get_config / from_config for every public class, the registry, and serialize / deserialize_keras_object.

The layer round trip enumerates pynn.layers' public Layer subclasses: a new layer class fails
test_every_layer_class_has_a_case until it is given a case in LAYER_CASES (constructor arguments and an input).
"""
import inspect
import json

import numpy as np
import pytest

import pynn
from pynn.layers.node import KerasTensor
from pynn import layers, saving
from pynn.saving import deserialize_keras_object, serialize_keras_object


@saving.register_keras_serializable(package="Tests")
def double_plus_one(x):
    return 2 * x + 1


def _json(obj):
    return json.loads(json.dumps(obj))


def _int_input(shape, rng):
    return rng.integers(0, 10, size=shape).astype(np.float32)


def _float_input(shape, rng):
    return rng.standard_normal(shape).astype(np.float32)


# name -> (make the layer, input shapes (one per input), input maker). Non-default arguments on purpose, so that
# an argument get_config forgets shows up as a different config or output.
LAYER_CASES = {
    "MultiHeadAttention": (lambda: layers.MultiHeadAttention(2, 3, value_dim=4, output_shape=5, use_bias=False,
                                                             seed=1), [(2, 4, 3), (2, 5, 3)], _float_input),
    "Attention": (lambda: layers.Attention(use_scale=True, score_mode="concat"), [(2, 4, 3), (2, 5, 3)],
                  _float_input),
    "AdditiveAttention": (lambda: layers.AdditiveAttention(use_scale=False), [(2, 4, 3), (2, 5, 3)], _float_input),
    "Conv1DTranspose": (lambda: layers.Conv1DTranspose(2, 3, strides=2, padding="same"), [(2, 6, 3)], _float_input),
    "LayerNormalization": (lambda: layers.LayerNormalization(epsilon=1e-2, center=False), [(2, 4, 5)], _float_input),
    "GroupNormalization": (lambda: layers.GroupNormalization(groups=2, epsilon=1e-2), [(2, 4, 6)], _float_input),
    "UnitNormalization": (lambda: layers.UnitNormalization(axis=1), [(2, 4, 5)], _float_input),
    "Identity": (lambda: layers.Identity(), [(2, 5)], _float_input),
    "UpSampling1D": (lambda: layers.UpSampling1D(3), [(2, 4, 3)], _float_input),
    "ZeroPadding1D": (lambda: layers.ZeroPadding1D((1, 2)), [(2, 4, 3)], _float_input),
    "Cropping1D": (lambda: layers.Cropping1D((1, 2)), [(2, 6, 3)], _float_input),
    "OpLayer": (lambda: layers.OpLayer("multiply", (KerasTensor((None, 5)), 2.0)), [(2, 5)], _float_input),
    "Activation": (lambda: layers.Activation("tanh"), [(2, 5)], _float_input),
    "ActivityRegularization": (lambda: layers.ActivityRegularization(l1=0.01, l2=0.02), [(2, 5)], _float_input),
    "AveragePooling1D": (lambda: layers.AveragePooling1D(pool_size=2, strides=1, padding="same"), [(2, 6, 3)],
                         _float_input),
    "AveragePooling2D": (lambda: layers.AveragePooling2D(pool_size=2, strides=1), [(2, 6, 6, 3)], _float_input),
    "SyncBatchNormalization": (lambda: layers.SyncBatchNormalization(momentum=0.9, epsilon=1e-2), [(4, 5)],
                               _float_input),
    "BatchNormalization": (lambda: layers.BatchNormalization(momentum=0.9, epsilon=1e-2, center=False),
                           [(4, 5)], _float_input),
    "Bidirectional": (lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="sum"),
                      [(2, 4, 3)], _float_input),
    "Conv1D": (lambda: layers.Conv1D(2, 3, padding="same", activation="relu"), [(2, 6, 3)], _float_input),
    "Conv2D": (lambda: layers.Conv2D(2, 3, strides=2, padding="same", use_bias=False), [(2, 6, 6, 3)],
               _float_input),
    "Conv2DTranspose": (lambda: layers.Conv2DTranspose(2, 3, strides=2), [(2, 4, 4, 3)], _float_input),
    "Cropping2D": (lambda: layers.Cropping2D(((1, 0), (0, 2))), [(2, 6, 6, 3)], _float_input),
    "Dense": (lambda: layers.Dense(4, activation="tanh", kernel_initializer="he_normal",
                                   kernel_regularizer=pynn.regularizers.L2(0.1),
                                   kernel_constraint=pynn.constraints.MaxNorm(2.0)), [(2, 5)], _float_input),
    "DepthwiseConv2D": (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), [(2, 6, 6, 3)],
                        _float_input),
    "Dropout": (lambda: layers.Dropout(0.5, seed=3), [(2, 5)], _float_input),
    "ELU": (lambda: layers.ELU(alpha=0.5), [(2, 5)], _float_input),
    "Embedding": (lambda: layers.Embedding(10, 3, mask_zero=True), [(2, 4)], _int_input),
    "Flatten": (lambda: layers.Flatten(), [(2, 3, 4)], _float_input),
    "GRU": (lambda: layers.GRU(3, reset_after=False, go_backwards=True), [(2, 4, 3)], _float_input),
    "GlobalAveragePooling1D": (lambda: layers.GlobalAveragePooling1D(keepdims=True), [(2, 6, 3)], _float_input),
    "GlobalAveragePooling2D": (lambda: layers.GlobalAveragePooling2D(keepdims=True), [(2, 6, 6, 3)], _float_input),
    "GlobalMaxPooling1D": (lambda: layers.GlobalMaxPooling1D(), [(2, 6, 3)], _float_input),
    "GlobalMaxPooling2D": (lambda: layers.GlobalMaxPooling2D(), [(2, 6, 6, 3)], _float_input),
    "LSTM": (lambda: layers.LSTM(3, return_sequences=True, unit_forget_bias=False), [(2, 4, 3)], _float_input),
    "LeakyReLU": (lambda: layers.LeakyReLU(negative_slope=0.2), [(2, 5)], _float_input),
    "Masking": (lambda: layers.Masking(mask_value=1.0), [(2, 4, 3)], _float_input),
    "MaxPooling1D": (lambda: layers.MaxPooling1D(pool_size=3), [(2, 6, 3)], _float_input),
    "MaxPooling2D": (lambda: layers.MaxPooling2D(pool_size=2, strides=1, padding="same"), [(2, 6, 6, 3)],
                     _float_input),
    "PReLU": (lambda: layers.PReLU(alpha_initializer="ones"), [(2, 5)], _float_input),
    "Permute": (lambda: layers.Permute((2, 1)), [(2, 3, 4)], _float_input),
    "RandomFlip": (lambda: layers.RandomFlip("vertical", seed=1), [(2, 6, 6, 3)], _float_input),
    "RandomRotation": (lambda: layers.RandomRotation(0.1, fill_mode="nearest", seed=1), [(2, 6, 6, 3)],
                       _float_input),
    "RandomTranslation": (lambda: layers.RandomTranslation(0.1, 0.2, seed=1), [(2, 6, 6, 3)], _float_input),
    "RandomZoom": (lambda: layers.RandomZoom(0.1, seed=1), [(2, 6, 6, 3)], _float_input),
    "RandomCrop": (lambda: layers.RandomCrop(4, 5, seed=1), [(2, 6, 6, 3)], _float_input),
    "RandomContrast": (lambda: layers.RandomContrast((0.1, 0.3), value_range=(0, 1), seed=1), [(2, 6, 6, 3)],
                       _float_input),
    "RandomBrightness": (lambda: layers.RandomBrightness(0.2, value_range=(-1, 1), seed=1), [(2, 6, 6, 3)],
                         _float_input),
    "Rescaling": (lambda: layers.Rescaling(np.array([0.5, 2.0, 1.0]), offset=-1.0), [(2, 4, 3)], _float_input),
    "Resizing": (lambda: layers.Resizing(3, 5, interpolation="nearest", crop_to_aspect_ratio=True),
                 [(2, 6, 6, 3)], _float_input),
    "CenterCrop": (lambda: layers.CenterCrop(3, 2, data_format="channels_first"), [(2, 3, 6, 6)], _float_input),
    "Normalization": (lambda: layers.Normalization(axis=(1, 2), invert=True), [(2, 4, 3)], _float_input),
    "GaussianNoise": (lambda: layers.GaussianNoise(0.2, seed=1), [(2, 5)], _float_input),
    "GaussianDropout": (lambda: layers.GaussianDropout(0.2, seed=1), [(2, 5)], _float_input),
    "SpatialDropout1D": (lambda: layers.SpatialDropout1D(0.2, seed=1), [(2, 4, 3)], _float_input),
    "SpatialDropout2D": (lambda: layers.SpatialDropout2D(0.2, data_format="channels_first", seed=1),
                         [(2, 3, 4, 4)], _float_input),
    "ReLU": (lambda: layers.ReLU(max_value=6.0), [(2, 5)], _float_input),
    "RepeatVector": (lambda: layers.RepeatVector(3), [(2, 5)], _float_input),
    "Reshape": (lambda: layers.Reshape((5, 1)), [(2, 5)], _float_input),
    "SeparableConv2D": (lambda: layers.SeparableConv2D(2, 3, depth_multiplier=2), [(2, 6, 6, 3)], _float_input),
    "SimpleRNN": (lambda: layers.SimpleRNN(3, activation="relu"), [(2, 4, 3)], _float_input),
    "Softmax": (lambda: layers.Softmax(axis=-1), [(2, 5)], _float_input),
    "TimeDistributed": (lambda: layers.TimeDistributed(layers.Dense(3)), [(2, 4, 5)], _float_input),
    "UpSampling2D": (lambda: layers.UpSampling2D(size=(2, 1)), [(2, 3, 3, 2)], _float_input),
    "ZeroPadding2D": (lambda: layers.ZeroPadding2D(((1, 0), (2, 1))), [(2, 3, 3, 2)], _float_input),
    # The functional API's layers (issue 6): cases ready for when they land in pynn.layers.
    "Add": (lambda: layers.Add(), [(2, 5), (2, 5)], _float_input),
    "Subtract": (lambda: layers.Subtract(), [(2, 5), (2, 5)], _float_input),
    "Multiply": (lambda: layers.Multiply(), [(2, 5), (2, 5)], _float_input),
    "Average": (lambda: layers.Average(), [(2, 5), (2, 5)], _float_input),
    "Maximum": (lambda: layers.Maximum(), [(2, 5), (2, 5)], _float_input),
    "Minimum": (lambda: layers.Minimum(), [(2, 5), (2, 5)], _float_input),
    "Concatenate": (lambda: layers.Concatenate(axis=-1), [(2, 5), (2, 3)], _float_input),
    "Dot": (lambda: layers.Dot(axes=1), [(2, 5), (2, 5)], _float_input),
    "Lambda": (lambda: layers.Lambda(double_plus_one), [(2, 5)], _float_input),
}
# Not layers one builds on data: the abstract bases, and the Input placeholder (tested on its own below).
NOT_ROUND_TRIPPED = {"Layer", "RNNBase", "InputLayer"}


def public_layer_classes():
    return sorted(name for name in dir(layers) if not name.startswith("_") and inspect.isclass(getattr(layers, name))
                  and issubclass(getattr(layers, name), layers.Layer))


def test_every_layer_class_has_a_case():
    missing = [name for name in public_layer_classes() if name not in LAYER_CASES and name not in NOT_ROUND_TRIPPED]
    assert not missing, f"add a case to LAYER_CASES for {missing}"


def _call(layer, inputs):
    return layer(inputs if len(inputs) > 1 else inputs[0])


@pytest.mark.parametrize("name", sorted(n for n in public_layer_classes() if n in LAYER_CASES))
def test_layer_config_round_trip(name, rng):
    make, shapes, make_input = LAYER_CASES[name]
    layer = make()
    inputs = [make_input(shape, rng) for shape in shapes]
    expected = _call(layer, inputs)
    if layer.weights:  # weights away from their initial values, so that copying them is what makes outputs equal
        layer.set_weights([w + rng.standard_normal(w.shape).astype(w.dtype) * 0.1 for w in layer.get_weights()])
        expected = _call(layer, inputs)
    config = _json(layer.get_config())

    clone = type(layer).from_config(config)
    assert _json(clone.get_config()) == config
    _call(clone, inputs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(_call(clone, inputs), expected)

    # The same through the generic serializer (module + class name, resolved among pynn's own classes).
    serialized = _json(serialize_keras_object(layer))
    assert serialized["module"] == "pynn.layers" and serialized["class_name"] == name
    again = deserialize_keras_object(serialized)
    assert type(again) is type(layer) and _json(again.get_config()) == config


@pytest.mark.parametrize("name", sorted(n for n in public_layer_classes() if n in LAYER_CASES))
def test_layer_config_names_every_constructor_argument(name):
    """Keras's contract: get_config() holds every argument of __init__ (so from_config can pass them back)."""
    layer = LAYER_CASES[name][0]()
    config = layer.get_config()
    parameters = [p for p, spec in inspect.signature(type(layer).__init__).parameters.items()
                  if p != "self" and spec.kind not in (spec.VAR_KEYWORD, spec.VAR_POSITIONAL)]
    # Bidirectional(weights=...): initial values, not configuration (as in Keras); the legacy input-shape
    # arguments of every layer are recorded as input_shape when given.
    allowed_missing = {"weights", "input_shape", "input_dim", "batch_size", "batch_input_shape"}
    if "__init__" not in vars(type(layer)):
        allowed_missing.add("activity_regularizer")  # only layers that take it themselves save it (Keras)
    missing = [p for p in parameters if p not in config and p not in allowed_missing]
    assert not missing, f"{name}.get_config() lacks {missing}"


def test_seeded_random_layers_draw_the_same_after_a_round_trip(rng):
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    for layer in (layers.Dropout(0.5, seed=7), layers.RandomRotation(0.2, seed=7), layers.RandomZoom(0.2, seed=7)):
        clone = type(layer).from_config(_json(layer.get_config()))
        np.testing.assert_array_equal(clone.forward(x, training=True)[0], layer.forward(x, training=True)[0])


def test_input_layer_config_round_trip():
    layer = layers.InputLayer(shape=(28, 28, 1), batch_size=8, name="pixels")
    clone = deserialize_keras_object(_json(serialize_keras_object(layer)))
    assert isinstance(clone, layers.InputLayer)
    assert clone.shape == (28, 28, 1) and clone.batch_size == 8 and clone.name == "pixels"


# ---------------------------------------------------------------------------------------------- other families
def _public_classes(module, base):
    return [getattr(module, n) for n in dir(module) if not n.startswith("_") and inspect.isclass(getattr(module, n))
            and issubclass(getattr(module, n), base) and getattr(module, n) is not base]


OPTIMIZER_ARGS = {"learning_rate": 0.05, "clipnorm": 1.5}


@pytest.mark.parametrize("cls", _public_classes(pynn.optimizers, pynn.optimizers.Optimizer),
                         ids=lambda c: c.__name__)
def test_optimizer_config_round_trip(cls):
    optimizer = cls(**OPTIMIZER_ARGS)
    config = _json(serialize_keras_object(optimizer))
    assert config["module"] == "pynn.optimizers"
    clone = deserialize_keras_object(config)
    assert type(clone) is cls and _json(clone.get_config()) == _json(optimizer.get_config())
    assert clone.learning_rate == 0.05 and clone.clipnorm == 1.5


SCHEDULE_ARGS = {
    "ExponentialDecay": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5, staircase=True),
    "PiecewiseConstantDecay": dict(boundaries=[5, 10], values=[0.1, 0.05, 0.01]),
    "InverseTimeDecay": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
    "PolynomialDecay": dict(initial_learning_rate=0.1, decay_steps=10, end_learning_rate=0.01, power=2.0),
    "CosineDecay": dict(initial_learning_rate=0.1, decay_steps=10, alpha=0.1),
    "CosineDecayRestarts": dict(initial_learning_rate=0.1, first_decay_steps=5),
}


@pytest.mark.parametrize("cls", _public_classes(pynn.optimizers.schedules,
                                                pynn.optimizers.schedules.LearningRateSchedule),
                         ids=lambda c: c.__name__)
def test_schedule_in_an_optimizer_round_trips(cls):
    assert cls.__name__ in SCHEDULE_ARGS, f"add constructor arguments for {cls.__name__} to SCHEDULE_ARGS"
    schedule = cls(**SCHEDULE_ARGS[cls.__name__])
    optimizer = pynn.optimizers.SGD(learning_rate=schedule)
    optimizer.iterations = 7
    clone = deserialize_keras_object(_json(serialize_keras_object(optimizer)))
    assert type(clone._learning_rate) is cls
    clone.iterations = 7
    assert clone.learning_rate == optimizer.learning_rate


@pytest.mark.parametrize("cls", _public_classes(pynn.losses, pynn.losses.Loss), ids=lambda c: c.__name__)
def test_loss_config_round_trip(cls):
    if cls is pynn.losses.LossFunctionWrapper:
        pytest.skip("wraps a Python function: saved through the registry (test_registered_function_loss)")
    loss = cls(name="my_loss", reduction="sum")
    clone = deserialize_keras_object(_json(serialize_keras_object(loss)))
    assert type(clone) is cls and clone.get_config() == loss.get_config()
    y = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    if cls is pynn.losses.SparseCategoricalCrossentropy:
        y = np.array([1, 0])
    p = np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)
    assert float(clone(y, p)) == float(loss(y, p))


METRIC_ARGS = {"MeanMetricWrapper": None, "Metric": None,      # wraps a Python function, or abstract
               "IoU": dict(num_classes=3, target_class_ids=[0, 2]), "MeanIoU": dict(num_classes=3),
               "OneHotIoU": dict(num_classes=3, target_class_ids=[1]), "OneHotMeanIoU": dict(num_classes=3),
               "PrecisionAtRecall": dict(recall=0.7), "RecallAtPrecision": dict(precision=0.6),
               "SensitivityAtSpecificity": dict(specificity=0.8), "SpecificityAtSensitivity": dict(sensitivity=0.9)}


@pytest.mark.parametrize("cls", _public_classes(pynn.metrics, pynn.metrics.Metric), ids=lambda c: c.__name__)
def test_metric_config_round_trip(cls):
    if METRIC_ARGS.get(cls.__name__, {}) is None:
        pytest.skip("wraps a Python function or is abstract")
    metric = cls(name="my_metric", **METRIC_ARGS.get(cls.__name__, {}))
    clone = deserialize_keras_object(_json(serialize_keras_object(metric)))
    assert type(clone) is cls and _json(clone.get_config()) == _json(metric.get_config())


@pytest.mark.parametrize("family", ["initializers", "regularizers", "constraints"])
def test_initializers_regularizers_constraints_round_trip(family):
    module = getattr(pynn, family)
    base = {"initializers": pynn.initializers.Initializer, "regularizers": pynn.regularizers.Regularizer,
            "constraints": pynn.constraints.Constraint}[family]
    classes = _public_classes(module, base)
    assert classes
    for cls in classes:
        obj = cls()
        serialized = _json(serialize_keras_object(obj))
        assert serialized["module"] == f"pynn.{family}"
        clone = deserialize_keras_object(serialized)
        assert type(clone) is cls and _json(clone.get_config()) == _json(obj.get_config())


CALLBACK_ARGS = {
    "EarlyStopping": dict(monitor="loss", patience=3, min_delta=0.1, restore_best_weights=True),
    "ModelCheckpoint": dict(filepath="ckpt.keras", monitor="loss", save_best_only=True),
    "ReduceLROnPlateau": dict(monitor="loss", factor=0.5, patience=2),
    "CSVLogger": dict(filename="log.csv", separator=";", append=True),
    "TerminateOnNaN": {},
    "BackupAndRestore": dict(backup_dir="backup", save_freq=5, delete_checkpoint=False),
    "TensorBoard": dict(log_dir="tb", histogram_freq=2, update_freq=10),
    "History": {},
    "ProgbarLogger": {},
}


@pytest.mark.parametrize("cls", _public_classes(pynn.callbacks, pynn.callbacks.Callback), ids=lambda c: c.__name__)
def test_callback_config_round_trip(cls):
    if cls.__name__ in ("LambdaCallback", "LearningRateScheduler", "CallbackList"):
        pytest.skip("holds Python functions")
    assert cls.__name__ in CALLBACK_ARGS, f"add constructor arguments for {cls.__name__} to CALLBACK_ARGS"
    callback = cls(**CALLBACK_ARGS[cls.__name__])
    clone = deserialize_keras_object(_json(serialize_keras_object(callback)))
    assert type(clone) is cls and clone.get_config() == callback.get_config()
    for key, value in CALLBACK_ARGS[cls.__name__].items():
        assert clone.get_config()[key] == value


# ---------------------------------------------------------------------------------------------- the registry
def test_register_names_and_lookups():
    @saving.register_keras_serializable(package="Pkg", name="Sq")
    class Square(layers.Layer):
        def forward(self, x, training=False):
            return x * x, x

    assert saving.get_registered_name(Square) == "Pkg>Sq"
    assert saving.get_registered_object("Pkg>Sq") is Square
    assert saving.get_custom_objects()["Pkg>Sq"] is Square
    assert pynn.utils.register_keras_serializable is saving.register_keras_serializable
    assert pynn.utils.custom_object_scope is saving.custom_object_scope
    assert pynn.utils.get_custom_objects is saving.get_custom_objects
    assert saving.get_registered_name(layers.Dense) == "Dense"
    config = _json(serialize_keras_object(Square(name="sq")))
    assert config["registered_name"] == "Pkg>Sq"
    clone = deserialize_keras_object(config)
    assert type(clone) is Square and clone.name == "sq"
    with pytest.raises(ValueError, match="get_config"):
        saving.register_keras_serializable()(type("NoConfig", (), {}))
    with pytest.raises(ValueError, match="already registered"):
        saving.register_keras_serializable(package="Pkg", name="Sq")(type("Other", (layers.Layer,), {}))


class Unregistered(layers.Layer):
    def forward(self, x, training=False):
        return x, None


def test_unregistered_class_needs_custom_objects():
    config = _json(serialize_keras_object(Unregistered(name="u")))
    assert config["registered_name"] == "Unregistered"
    with pytest.raises(ValueError, match="Could not locate class 'Unregistered'"):
        deserialize_keras_object(config)
    assert type(deserialize_keras_object(config, custom_objects={"Unregistered": Unregistered})) is Unregistered
    with saving.custom_object_scope({"Unregistered": Unregistered}):
        assert type(deserialize_keras_object(config)) is Unregistered
    with pytest.raises(ValueError):
        deserialize_keras_object(config)  # the scope is gone


def test_functions_serialize_by_registered_name_only():
    config = serialize_keras_object(double_plus_one)
    assert config == {"module": __name__, "class_name": "function", "config": "Tests>double_plus_one",
                      "registered_name": "Tests>double_plus_one"}
    assert deserialize_keras_object(_json(config)) is double_plus_one
    assert deserialize_keras_object(serialize_keras_object(pynn.activations.relu)) is pynn.activations.relu

    def local_function(x):
        return x

    with pytest.raises(ValueError, match="register_keras_serializable"):
        serialize_keras_object(local_function)
    with pytest.raises(ValueError, match="register_keras_serializable"):
        serialize_keras_object(lambda x: x)


def test_registered_custom_initializer_regularizer_inside_a_layer():
    @saving.register_keras_serializable(package="Tests")
    class Halves(pynn.initializers.Initializer):
        def __call__(self, shape, dtype="float32"):
            return np.full(shape, 0.5, dtype)

        def get_config(self):
            return {}

    @saving.register_keras_serializable(package="Tests")
    class Scaled(pynn.regularizers.Regularizer):
        def __init__(self, factor=1.0):
            self.factor = factor

        def __call__(self, x):
            return self.factor * float(np.sum(x))

        def gradient(self, x):
            return np.full_like(x, self.factor)

        def get_config(self):
            return {"factor": self.factor}

    @saving.register_keras_serializable(package="Tests")
    def thirds(shape, dtype="float32"):
        return np.full(shape, 1 / 3, dtype)

    layer = layers.Dense(2, kernel_initializer=Halves(), kernel_regularizer=Scaled(3.0), bias_initializer=thirds)
    clone = deserialize_keras_object(_json(serialize_keras_object(layer)))
    clone(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(clone.kernel.value, np.full((3, 2), 0.5, np.float32))
    np.testing.assert_array_equal(clone.bias.value, np.full((2,), 1 / 3, np.float32))
    assert isinstance(clone.kernel.regularizer, Scaled) and clone.kernel.regularizer.factor == 3.0

    def unregistered(shape, dtype="float32"):
        return np.zeros(shape, dtype)

    with pytest.raises(ValueError, match="Dense.*unregistered.*register_keras_serializable"):
        serialize_keras_object(layers.Dense(2, kernel_initializer=unregistered))


# ---------------------------------------------------------------------------------------------- safety
@pytest.mark.parametrize("config", [
    {"module": "os", "class_name": "system", "config": {"command": "echo hacked"}},
    {"module": "builtins", "class_name": "eval", "config": {}},
    {"module": "subprocess", "class_name": "Popen", "config": {"args": ["true"]}},
    {"module": "os", "class_name": "function", "config": "system", "registered_name": "function"},
    {"module": "pynn.layers", "class_name": "layer", "config": {}},          # a submodule, not a class
    {"module": "pynn.layers", "class_name": "__builtins__", "config": {}},
    {"module": "pynn.layers", "class_name": "Densse", "config": {"units": 2}},
    {"class_name": "__import__", "config": {}},
])
def test_deserialize_never_reaches_outside_pynn(config, monkeypatch):
    import os
    import subprocess
    monkeypatch.setattr(os, "system", lambda *a, **k: pytest.fail("os.system was called"))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("subprocess.Popen was called"))
    with pytest.raises(ValueError, match="Could not locate"):
        deserialize_keras_object(config)


def test_bad_config_for_a_known_class_is_a_value_error():
    with pytest.raises(ValueError, match="Dense"):
        deserialize_keras_object({"module": "pynn.layers", "class_name": "Dense", "config": {"unitz": 3}})
