"""TensorBoard: the event files of a fit, read back (with tensorboardX's protos, and with TensorBoard's own
EventAccumulator when the tensorboard package is installed), hold Keras 3's tags with History's values."""
import io
import os
import struct
import sys
import warnings

import numpy as np
import pytest

import pynn
from pynn import callbacks, layers

N, BATCH = 40, 8          # five steps per epoch


# ---------------------------------------------------------------------------------------------- readers
def _records(directory):
    """The serialized events of every event file of a directory, in file and write order, CRCs checked."""
    from tensorboardX.record_writer import masked_crc32c
    names = sorted(os.listdir(directory))
    assert names and all(name.startswith("events.out.tfevents.") for name in names), names
    for name in names:
        with open(os.path.join(directory, name), "rb") as file:
            data = file.read()
        position = 0
        while position < len(data):
            header = data[position:position + 8]
            (length,) = struct.unpack("<Q", header)
            assert struct.unpack("<I", data[position + 8:position + 12])[0] == masked_crc32c(header)
            body = data[position + 12:position + 12 + length]
            assert struct.unpack("<I", data[position + 12 + length:position + 16 + length])[0] == masked_crc32c(body)
            yield body
            position += 16 + length


class ProtoReader:
    """Reads event files with the Event protobuf classes tensorboardX ships."""

    def __init__(self, directory):
        from tensorboardX.proto.event_pb2 import Event
        self.values = [(event.step, value) for event in map(Event.FromString, _records(directory))
                       for value in event.summary.value]

    def scalars(self):
        found = {}
        for step, value in self.values:
            if value.WhichOneof("value") == "simple_value":
                found.setdefault(value.tag, []).append((step, value.simple_value))
        return found

    def histograms(self):
        found = {}
        for step, value in self.values:
            if value.WhichOneof("value") == "histo":
                h = value.histo
                found.setdefault(value.tag, []).append((step, (h.min, h.max, h.num, h.sum, list(h.bucket))))
        return found

    def tensors(self):
        return {value.tag: [(step, value.metadata.plugin_data.plugin_name, value.tensor.string_val[0])]
                for step, value in self.values if value.WhichOneof("value") == "tensor"}

    def images(self):
        found = {}
        for step, value in self.values:
            if value.WhichOneof("value") == "image":
                found.setdefault(value.tag, []).append((step, value.image.encoded_image_string))
        return found


class AccumulatorReader:
    """Reads event files with TensorBoard's own EventAccumulator."""

    def __init__(self, directory):
        from tensorboard.backend.event_processing import event_accumulator as ea
        self.acc = ea.EventAccumulator(directory, size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0,
                                                                 ea.IMAGES: 0})
        self.acc.Reload()

    def scalars(self):
        return {tag: [(e.step, e.value) for e in self.acc.Scalars(tag)] for tag in self.acc.Tags()["scalars"]}

    def histograms(self):
        return {tag: [(e.step, (e.histogram_value.min, e.histogram_value.max, e.histogram_value.num,
                                e.histogram_value.sum, list(e.histogram_value.bucket)))
                      for e in self.acc.Histograms(tag)] for tag in self.acc.Tags()["histograms"]}

    def tensors(self):
        return {tag: [(e.step, self.acc.SummaryMetadata(tag).plugin_data.plugin_name, e.tensor_proto.string_val[0])
                      for e in self.acc.Tensors(tag)] for tag in self.acc.Tags()["tensors"]}

    def images(self):
        return {tag: [(e.step, e.encoded_image_string) for e in self.acc.Images(tag)]
                for tag in self.acc.Tags()["images"]}


@pytest.fixture(params=["protos", "tensorboard"])
def read(request):
    pytest.importorskip("tensorboardX")
    if request.param == "tensorboard":
        pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
        return AccumulatorReader
    return ProtoReader


@pytest.fixture
def tbx():
    return pytest.importorskip("tensorboardX")


# ---------------------------------------------------------------------------------------------- the model
def make_model():
    pynn.utils.set_random_seed(4)
    model = pynn.Sequential([layers.Input((5,)), layers.Dense(6, activation="relu"),
                             layers.Dense(3, activation="softmax")])
    model.compile(optimizer=pynn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 5)).astype(np.float32)
    return x, rng.integers(0, 3, N), x[:12], rng.integers(0, 3, 12)


def fit(model, callback_list, epochs=3, **kwargs):
    x, y, xv, yv = data()
    return model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=callback_list,
                     validation_data=(xv, yv), **kwargs)


def f32(values):
    return [float(np.float32(v)) for v in values]


# ---------------------------------------------------------------------------------------------- tests
def test_epoch_scalars_are_history(tmp_path, read):
    model = make_model()
    history = fit(model, [callbacks.TensorBoard(tmp_path, write_graph=False)]).history
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train = read(str(tmp_path / "train")).scalars()
    assert sorted(train) == ["epoch_accuracy", "epoch_learning_rate", "epoch_loss"]
    for name in ("loss", "accuracy"):
        assert train[f"epoch_{name}"] == list(zip([0, 1, 2], f32(history[name])))
    assert train["epoch_learning_rate"] == [(e, float(np.float32(0.01))) for e in range(3)]
    validation = read(str(tmp_path / "validation")).scalars()
    assert sorted(validation) == ["epoch_accuracy", "epoch_loss", "evaluation_accuracy_vs_iterations",
                                  "evaluation_loss_vs_iterations"]
    for name in ("loss", "accuracy"):
        assert validation[f"epoch_{name}"] == list(zip([0, 1, 2], f32(history["val_" + name])))
        # after each validation, at the optimizer's step count (five steps an epoch)
        assert validation[f"evaluation_{name}_vs_iterations"] == list(zip([5, 10, 15], f32(history["val_" + name])))


def test_validation_freq(tmp_path, read):
    history = fit(make_model(), [callbacks.TensorBoard(tmp_path)], epochs=4, validation_freq=2).history
    validation = read(str(tmp_path / "validation")).scalars()
    assert validation["epoch_loss"] == list(zip([1, 3], f32(history["val_loss"])))
    assert [step for step, _ in read(str(tmp_path / "train")).scalars()["epoch_loss"]] == [0, 1, 2, 3]


class BatchLogs(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(dict(logs))


@pytest.mark.parametrize("update_freq, steps", [(2, [2, 4, 6, 8, 10, 12, 14]), ("batch", list(range(1, 16))),
                                                (4, [4, 8, 12])])
def test_batch_scalars(tmp_path, read, update_freq, steps):
    recorder = BatchLogs()
    fit(make_model(), [callbacks.TensorBoard(tmp_path, update_freq=update_freq), recorder])
    train = read(str(tmp_path / "train")).scalars()
    assert sorted(tag for tag in train if tag.startswith("batch_")) == ["batch_accuracy", "batch_loss"]
    for name in ("loss", "accuracy"):
        # the running means of the epoch so far, at the count of batches since fit began (from 1)
        assert train[f"batch_{name}"] == [(step, float(np.float32(recorder.logs[step - 1][name]))) for step in steps]


def test_epoch_update_freq_adds_no_batch_hooks(tbx):
    tensorboard = callbacks.TensorBoard("unused")
    assert not callbacks.CallbackList([tensorboard]).has_train_batch_hooks
    assert callbacks.CallbackList([callbacks.TensorBoard("unused", update_freq=3)]).has_train_batch_hooks


def test_steps_per_second(tmp_path, read):
    fit(make_model(), [callbacks.TensorBoard(tmp_path, write_steps_per_second=True, update_freq=5)], epochs=2)
    train = read(str(tmp_path / "train")).scalars()
    assert [step for step, _ in train["epoch_steps_per_second"]] == [0, 1]
    assert [step for step, _ in train["batch_steps_per_second"]] == [5, 10]
    assert all(value > 0 for _, value in train["epoch_steps_per_second"] + train["batch_steps_per_second"])


class EpochWeights(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_histograms(tmp_path, read):
    recorder = EpochWeights()
    model = make_model()
    fit(model, [callbacks.TensorBoard(tmp_path, histogram_freq=2), recorder], epochs=4)
    histograms = read(str(tmp_path / "train")).histograms()
    names = [f"{layer.name}/{weight}/histogram" for layer in model.layers for weight in ("kernel", "bias")]
    assert sorted(histograms) == sorted(names)
    for i, name in enumerate(names):
        assert [step for step, _ in histograms[name]] == [0, 2]
        for step, (low, high, count, total, buckets) in histograms[name]:
            weight = recorder.weights[step][i].astype(np.float64)
            assert (low, high, count) == (weight.min(), weight.max(), weight.size)
            assert total == pytest.approx(weight.sum(), abs=1e-9)
            assert sum(buckets) == weight.size
    assert not read(str(tmp_path / "train")).images()


def test_graph(tmp_path, read):
    model = make_model()
    fit(model, [callbacks.TensorBoard(tmp_path)], epochs=1)
    tensors = read(str(tmp_path / "train")).tensors()
    assert list(tensors) == ["keras"]
    [(step, plugin, config)] = tensors["keras"]
    assert (step, plugin) == (0, "graph_keras_model")
    assert config.decode() == model.to_json()


def test_write_images(tmp_path, read):
    Image = pytest.importorskip("PIL.Image")
    model = make_model()
    fit(model, [callbacks.TensorBoard(tmp_path, histogram_freq=1, write_images=True)], epochs=2)
    images = read(str(tmp_path / "train")).images()
    names = [f"{layer.name}/{weight}/image" for layer in model.layers for weight in ("kernel", "bias")]
    assert sorted(images) == sorted(names)
    # Keras's layout: a Dense kernel (in, out) as an in x out image, transposed when in > out; a bias as a column
    expected = {model.layers[0].name: {"kernel": (6, 5), "bias": (1, 6)},   # PIL's (width, height)
                model.layers[1].name: {"kernel": (6, 3), "bias": (1, 3)}}
    for layer, sizes in expected.items():
        for weight, size in sizes.items():
            steps = images[f"{layer}/{weight}/image"]
            assert [step for step, _ in steps] == [0, 1]
            assert Image.open(io.BytesIO(steps[0][1])).size == size


def test_evaluate_writes_evaluation_scalars(tmp_path, read):
    model = make_model()
    fit(model, [], epochs=2)
    x, y, _, _ = data()
    loss, accuracy = model.evaluate(x, y, verbose=0, callbacks=[callbacks.TensorBoard(tmp_path)])
    assert os.listdir(tmp_path) == ["validation"]
    validation = read(str(tmp_path / "validation")).scalars()
    assert validation == {"evaluation_loss_vs_iterations": [(10, float(np.float32(loss)))],
                          "evaluation_accuracy_vs_iterations": [(10, float(np.float32(accuracy)))]}


def test_two_fits_write_two_files(tmp_path, read):
    model = make_model()
    tensorboard = callbacks.TensorBoard(tmp_path, write_graph=False)
    first = fit(model, [tensorboard], epochs=2).history["loss"]
    second = fit(model, [tensorboard], epochs=2).history["loss"]
    assert len(os.listdir(tmp_path / "train")) == 2
    assert read(str(tmp_path / "train")).scalars()["epoch_loss"] == list(zip([0, 1, 0, 1], f32(first + second)))


def test_missing_writer_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install tensorboardX \(or pip install \"pynn\[tensorboard\]\"\)"):
        callbacks.TensorBoard("logs")


def test_missing_pillow(monkeypatch, tbx):
    monkeypatch.setitem(sys.modules, "PIL", None)
    callbacks.TensorBoard("logs")
    with pytest.raises(ImportError, match="pip install pillow"):
        callbacks.TensorBoard("logs", write_images=True)


def test_arguments_and_config(tmp_path, tbx):
    for bad in ({"update_freq": 0}, {"update_freq": "step"}, {"update_freq": 1.5}, {"histogram_freq": -1},
                {"histogram_freq": 0.5}):
        with pytest.raises(ValueError):
            callbacks.TensorBoard(tmp_path, **bad)
    with pytest.raises(ValueError, match="Profiling"):
        callbacks.TensorBoard(tmp_path, profile_batch=3)
    with pytest.warns(UserWarning, match="embeddings"):
        callbacks.TensorBoard(tmp_path, embeddings_freq=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensorboard = callbacks.TensorBoard(tmp_path, histogram_freq=2, update_freq="batch")
    config = tensorboard.get_config()
    assert config["update_freq"] == 1 and config["log_dir"] == str(tmp_path)
    assert callbacks.TensorBoard.from_config(config).get_config() == config
    assert not os.listdir(tmp_path)    # nothing is written before there is something to write
