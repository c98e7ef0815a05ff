"""pynn.utils / pynn.preprocessing: pad_sequences, split_dataset, timeseries_dataset_from_array, the
TF-compatible image resizing, smart_resize and plot_model / model_to_dot, against hand-computed values and,
where installed, Keras 3 (torch backend; TensorFlow for the functions that need it in Keras)."""
import os
import random
import sys

import numpy as np
import pytest

import pynn
from pynn import layers
from pynn.utils import dataset_utils, image_utils, model_visualization
from pynn.utils.image_utils import resize_images, smart_resize


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def keras_tf(keras):
    """Keras with TensorFlow importable: Keras's dataset utilities (and tf.image.resize) need it."""
    tf = pytest.importorskip("tensorflow")
    return keras, tf


# ---------------------------------------------------------------------------------------------- exports
def test_keras_names_are_exported():
    assert pynn.preprocessing.sequence.pad_sequences is pynn.utils.pad_sequences
    assert pynn.preprocessing.timeseries_dataset_from_array is pynn.utils.timeseries_dataset_from_array
    assert pynn.preprocessing.image_dataset_from_directory is pynn.utils.image_dataset_from_directory
    assert pynn.preprocessing.text_dataset_from_directory is pynn.utils.text_dataset_from_directory
    for name in ("load_img", "img_to_array", "array_to_img", "save_img"):
        assert getattr(pynn.preprocessing.image, name) is getattr(pynn.utils, name)
    assert pynn.preprocessing.image.smart_resize is smart_resize
    for name in ("pad_sequences", "split_dataset", "timeseries_dataset_from_array", "plot_model", "model_to_dot",
                 "PyDataset", "to_categorical", "normalize"):
        assert name in pynn.utils.__all__
    assert "preprocessing" in pynn.__all__


# ---------------------------------------------------------------------------------------------- pad_sequences
def test_pad_sequences_hand_computed():
    seqs = [[1], [2, 3], [4, 5, 6]]
    out = pynn.utils.pad_sequences(seqs)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pynn.utils.pad_sequences(seqs, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pynn.utils.pad_sequences(seqs, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pynn.utils.pad_sequences(seqs, maxlen=2), [[0, 1], [2, 3], [5, 6]])
    np.testing.assert_array_equal(pynn.utils.pad_sequences(seqs, maxlen=2, truncating="post", padding="post"),
                                  [[1, 0], [2, 3], [4, 5]])
    np.testing.assert_array_equal(pynn.utils.pad_sequences(seqs, maxlen=4), [[0, 0, 0, 1], [0, 0, 2, 3], [0, 4, 5, 6]])


def test_pad_sequences_dtypes_items_and_empty_sequences():
    out = pynn.utils.pad_sequences([[1.5], [], [2, 3.75]], dtype="float32")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 1.5], [0, 0], [2, 3.75]])
    # items with a shape: (samples, timesteps, 2)
    out = pynn.utils.pad_sequences([[[1, 2]], [[3, 4], [5, 6]]])
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out, [[[0, 0], [1, 2]], [[3, 4], [5, 6]]])
    # strings need dtype=object (or a string dtype)
    out = pynn.utils.pad_sequences([["a"], ["bb", "c"]], dtype=object, value="x")
    assert out.dtype == object and out.tolist() == [["x", "a"], ["bb", "c"]]
    out = pynn.utils.pad_sequences([["a"], ["bb", "c"]], dtype="<U2", value="x")
    assert out.tolist() == [["x", "a"], ["bb", "c"]]
    np.testing.assert_array_equal(pynn.utils.pad_sequences([np.array([1, 2, 3]), np.array([4])], maxlen=5),
                                  [[0, 0, 1, 2, 3], [0, 0, 0, 0, 4]])


@pytest.mark.parametrize("kwargs, message", [
    (dict(sequences=[["a"], ["bb"]], value="x"), "`dtype` int32 is not compatible with `value`'s type"),
    (dict(sequences=[1, 2]), "must be a list of iterables. Found non-iterable: 1"),
    (dict(sequences=5), "`sequences` must be iterable"),
    (dict(sequences=[[1], [2, 3]], padding="mid"), 'Padding type "mid" not understood'),
    (dict(sequences=[[1], [2, 3]], truncating="mid", maxlen=1), 'Truncating type "mid" not understood'),
    (dict(sequences=[[[1, 2]], [[3, 4, 5]]]), r"Shape of sample \(3,\) of sequence at position 1"),
])
def test_pad_sequences_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pynn.utils.pad_sequences(**kwargs)


PAD_CASES = [
    dict(sequences=[[1], [2, 3], [4, 5, 6]]),
    dict(sequences=[[1], [2, 3], [4, 5, 6]], maxlen=2, truncating="post", padding="post", value=-1),
    dict(sequences=[[1.5], [], [2, 3.7]], dtype="float32"),
    dict(sequences=[["a"], ["bb", "c"]], dtype=object, value="x"),
    dict(sequences=[[[1, 2]], [[3, 4], [5, 6]]], maxlen=3),
    dict(sequences=[[1, 2, 3]], maxlen=0),
    dict(sequences=[["a"], ["bb", "c"]], value="x"),
    dict(sequences=[1, 2]),
    dict(sequences=[]),
]


@pytest.mark.parametrize("kwargs", PAD_CASES)
def test_pad_sequences_matches_keras(keras, kwargs):
    def run(fn):
        try:
            out = fn(**kwargs)
            return "ok", out.dtype, out.tolist()
        except Exception as e:  # the same error, with the same message
            return type(e).__name__, str(e)
    assert run(pynn.utils.pad_sequences) == run(keras.utils.pad_sequences)


# ---------------------------------------------------------------------------------------------- split_dataset
def test_split_dataset_keeps_order_without_shuffle():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    left, right = pynn.utils.split_dataset(x, left_size=0.3)
    np.testing.assert_array_equal(left, x[:3])
    np.testing.assert_array_equal(right, x[3:])
    assert left.dtype == np.float32
    # tuple in, tuple out; with both sizes the samples in between are in neither split
    y = np.arange(10)
    (lx, ly), (rx, ry) = pynn.utils.split_dataset((x, y), left_size=3, right_size=4)
    np.testing.assert_array_equal(ly, [0, 1, 2])
    np.testing.assert_array_equal(ry, [6, 7, 8, 9])
    np.testing.assert_array_equal(rx, x[6:])
    # list in, list out; right_size alone
    left, right = pynn.utils.split_dataset([x, y], right_size=0.25)
    assert isinstance(left, list) and isinstance(right, list)
    np.testing.assert_array_equal(left[1], np.arange(8))
    np.testing.assert_array_equal(right[0], x[8:])


def test_split_dataset_sizes_follow_python_rounding():
    y = np.arange(10)
    # round(0.25 * 10) = 2 (banker's rounding of 2.5): left 8, right 2
    left, right = pynn.utils.split_dataset(y, right_size=0.25)
    np.testing.assert_array_equal(left, np.arange(8))
    np.testing.assert_array_equal(right, [8, 9])
    left, right = pynn.utils.split_dataset(y, left_size=0.55)   # round(5.5) = 6
    assert len(left) == 6 and len(right) == 4


def test_split_dataset_shuffle_is_pythons_random_with_the_seed():
    x, y = np.arange(10), np.arange(10) * 10
    (lx, ly), (rx, ry) = pynn.utils.split_dataset((x, y), left_size=0.3, shuffle=True, seed=1)
    np.testing.assert_array_equal(lx, [6, 8, 9])                 # random.Random(1).shuffle(range(10))
    np.testing.assert_array_equal(rx, [7, 5, 3, 0, 4, 1, 2])
    np.testing.assert_array_equal(ly, lx * 10)
    np.testing.assert_array_equal(ry, rx * 10)
    order = list(range(10))
    random.Random(1).shuffle(order)
    np.testing.assert_array_equal(np.concatenate([lx, rx]), order)
    # deterministic per seed
    again = pynn.utils.split_dataset((x, y), left_size=0.3, shuffle=True, seed=1)
    np.testing.assert_array_equal(again[0][0], lx)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(dataset=np.arange(10)), ValueError, "At least one of the `left_size` or `right_size`"),
    (dict(dataset=np.arange(10), left_size=10), ValueError, "`left_size` should be either a positive integer"),
    (dict(dataset=np.arange(10), left_size=0), ValueError, "`left_size` should be either"),
    (dict(dataset=np.arange(10), right_size=1.0), ValueError, "`right_size` should be either"),
    (dict(dataset=np.arange(10), left_size=0.6, right_size=0.6), ValueError, "greater than 1"),
    (dict(dataset=np.arange(10), left_size=6, right_size=6), ValueError, "should be smaller than the 10"),
    (dict(dataset=np.arange(10), left_size=0.01), ValueError, "split will be empty"),
    (dict(dataset=np.arange(10), left_size=np.int64(3)), TypeError, "Invalid `left_size` Type"),
    (dict(dataset=np.arange(10), left_size="a", right_size=[1]), TypeError, "Invalid `left_size` and `right_size`"),
    (dict(dataset=(np.arange(10), np.arange(5)), left_size=2), ValueError, "different lengths"),
    (dict(dataset=[np.arange(10), [1, 2]], left_size=2), ValueError, "Expected a list of `numpy.ndarray`"),
    (dict(dataset=np.arange(0), left_size=0.5), ValueError, "Received an empty dataset"),
    (dict(dataset=(), left_size=0.5), ValueError, "empty tuple dataset"),
    (dict(dataset={"a": np.arange(3)}, left_size=1), TypeError, "must be either a NumPy array"),
])
def test_split_dataset_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        pynn.utils.split_dataset(**kwargs)


@pytest.mark.parametrize("left, right", [(0.3, None), (None, 0.25), (3, 4), (0.5, 0.5), (1, None), (None, 9),
                                         (0.55, None), (0.05, None), (0.99, None), (7, 0.2)])
@pytest.mark.parametrize("total", [10, 13])
def test_split_sizes_match_keras(keras, left, right, total):
    from keras.src.utils import dataset_utils as keras_dataset_utils

    def run(fn):
        try:
            return fn(left, right, total)
        except Exception as e:
            return type(e).__name__, str(e)
    assert run(dataset_utils._rescale_dataset_split_sizes) == run(keras_dataset_utils._rescale_dataset_split_sizes)


@pytest.mark.parametrize("kwargs", [dict(left_size=0.3), dict(left_size=3, right_size=4, shuffle=True, seed=7),
                                    dict(right_size=0.25, shuffle=True, seed=3)])
def test_split_dataset_matches_keras_tensorflow_path(keras_tf, kwargs):
    keras, _ = keras_tf
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    ours = pynn.utils.split_dataset((x, y), **kwargs)
    theirs = keras.utils.split_dataset((x, y), preferred_backend="tensorflow", **kwargs)
    for (ox, oy), split in zip(ours, theirs):
        rows = list(split.as_numpy_iterator())
        np.testing.assert_array_equal(ox, np.stack([r[0] for r in rows]))
        np.testing.assert_array_equal(oy, np.stack([r[1] for r in rows]))


# ---------------------------------------------------------------------------------------------- timeseries
def test_timeseries_windows_keras_docstring_example_1():
    # Keras's example: indices 0..98, sequence_length=10, sampling_rate=2, sequence_stride=3
    data = np.arange(100)
    ds = pynn.utils.timeseries_dataset_from_array(data[:-1], None, sequence_length=10, sampling_rate=2,
                                                  sequence_stride=3, batch_size=128)
    assert isinstance(ds, pynn.utils.PyDataset) and len(ds) == 1
    windows = ds[0]
    np.testing.assert_array_equal(windows[0], np.arange(0, 20, 2))
    np.testing.assert_array_equal(windows[1], np.arange(3, 23, 2))
    np.testing.assert_array_equal(windows[2], np.arange(6, 26, 2))
    np.testing.assert_array_equal(windows[-1], np.arange(78, 98, 2))
    assert windows.shape == (27, 10)   # starts 0, 3, ..., 78 (the last one ending before 99)


def test_timeseries_targets_offset_keras_docstring_example_2():
    # predict data[i + 10] from data[i:i + 10]
    data = np.arange(100).astype(np.float32)
    ds = pynn.utils.timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10, batch_size=16)
    x, y = ds[0]
    assert x.dtype == np.float32 and x.shape == (16, 10) and y.shape == (16,)
    np.testing.assert_array_equal(x[0], np.arange(10))
    assert y[0] == 10 and y[5] == 15
    assert len(ds) == 6                                    # 90 - 9 = 81 windows in batches of 16
    np.testing.assert_array_equal(ds[5][0], [np.arange(80, 90)])
    np.testing.assert_array_equal(ds[5][1], [90])


def test_timeseries_hand_computed_stride_rate_and_indices():
    ds = pynn.utils.timeseries_dataset_from_array(np.arange(10), np.arange(10) * 10, sequence_length=3,
                                                  sequence_stride=2, sampling_rate=2, batch_size=2)
    batches = list(ds)
    assert len(batches) == 2
    np.testing.assert_array_equal(batches[0][0], [[0, 2, 4], [2, 4, 6]])
    np.testing.assert_array_equal(batches[0][1], [0, 20])
    np.testing.assert_array_equal(batches[1][0], [[4, 6, 8]])
    np.testing.assert_array_equal(batches[1][1], [40])
    # start_index / end_index; batch_size=None gives single windows
    ds = pynn.utils.timeseries_dataset_from_array(np.arange(100), None, sequence_length=5, batch_size=None,
                                                  start_index=10, end_index=20)
    assert len(ds) == 6
    np.testing.assert_array_equal(ds[0], [10, 11, 12, 13, 14])
    np.testing.assert_array_equal(ds[-1], [15, 16, 17, 18, 19])
    with pytest.raises(IndexError):
        ds[6]
    # targets shorter than the windows limit their number
    ds = pynn.utils.timeseries_dataset_from_array(np.arange(10), np.arange(4), sequence_length=2, batch_size=8)
    x, y = ds[0]
    np.testing.assert_array_equal(y, [0, 1, 2, 3])
    np.testing.assert_array_equal(x, [[0, 1], [1, 2], [2, 3], [3, 4]])


def test_timeseries_multichannel_data():
    data = np.arange(24, dtype=np.float64).reshape(12, 2)
    x, y = pynn.utils.timeseries_dataset_from_array(data, np.arange(12), sequence_length=4, batch_size=3)[1]
    assert x.shape == (3, 4, 2) and x.dtype == np.float64
    np.testing.assert_array_equal(x[0], data[3:7])
    np.testing.assert_array_equal(y, [3, 4, 5])


def test_timeseries_shuffle_is_keras_permutation_then_deterministic_reshuffles():
    data = np.arange(20)
    ds = pynn.utils.timeseries_dataset_from_array(data, data, sequence_length=3, batch_size=4, shuffle=True, seed=3)
    starts = np.arange(18, dtype=np.int32)
    np.random.RandomState(3).shuffle(starts)            # Keras's first-stage shuffle of the start positions
    first = np.concatenate([y for _, y in ds])
    np.testing.assert_array_equal(first, starts)
    for x, y in ds:
        np.testing.assert_array_equal(x, y[:, None] + np.arange(3))
    ds.on_epoch_end()
    second = np.concatenate([y for _, y in ds])
    assert sorted(second) == list(range(18)) and not np.array_equal(second, first)
    # the same seed gives the same epochs
    again = pynn.utils.timeseries_dataset_from_array(data, data, sequence_length=3, batch_size=4, shuffle=True,
                                                     seed=3)
    np.testing.assert_array_equal(np.concatenate([y for _, y in again]), first)
    again.on_epoch_end()
    np.testing.assert_array_equal(np.concatenate([y for _, y in again]), second)


@pytest.mark.parametrize("kwargs, message", [
    (dict(start_index=-1), "`start_index` must be 0 or greater"),
    (dict(start_index=10), "`start_index` must be lower than the length of the data"),
    (dict(start_index=5, end_index=4), "`end_index` must be higher than `start_index`"),
    (dict(end_index=10), "`end_index` must be lower than the length of the data"),
    (dict(end_index=-2), "`end_index` must be higher than 0"),
    (dict(sampling_rate=0), "`sampling_rate` must be higher than 0"),
    (dict(sampling_rate=10), "`sampling_rate` must be lower than the length"),
    (dict(sequence_stride=0), "`sequence_stride` must be higher than 0"),
    (dict(sequence_stride=10), "`sequence_stride` must be lower than the length"),
    (dict(batch_size=0), "`batch_size` must be a positive integer or None"),
])
def test_timeseries_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pynn.utils.timeseries_dataset_from_array(np.arange(10), None, sequence_length=2, **kwargs)


def test_timeseries_dataset_trains_in_fit():
    rng = np.random.default_rng(0)
    series = rng.standard_normal((200, 3)).astype(np.float32)
    target = series[:, :1].sum(axis=1).astype(np.float32)
    ds = pynn.utils.timeseries_dataset_from_array(series, target, sequence_length=5, batch_size=32, shuffle=True,
                                                  seed=0)
    model = pynn.Sequential([layers.Input(shape=(5, 3)), layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(pynn.utils.timeseries_dataset_from_array(series, None, 5, batch_size=64),
                         verbose=0).shape == (196, 1)
    assert np.isfinite(model.evaluate(ds, verbose=0))


@pytest.mark.parametrize("kwargs", [dict(sequence_length=4, sequence_stride=2, sampling_rate=2, batch_size=3),
                                    dict(sequence_length=3, batch_size=None, start_index=2, end_index=17),
                                    dict(sequence_length=1, batch_size=5, sequence_stride=3)])
def test_timeseries_matches_keras(keras_tf, kwargs):
    keras, _ = keras_tf
    data = np.random.default_rng(0).random((20, 2)).astype(np.float32)
    targets = np.arange(20) * 10
    theirs = list(keras.utils.timeseries_dataset_from_array(data, targets, **kwargs))
    ours = list(pynn.utils.timeseries_dataset_from_array(data, targets, **kwargs))
    assert len(ours) == len(theirs)
    for (ox, oy), (tx, ty) in zip(ours, theirs):
        np.testing.assert_array_equal(ox, tx.numpy())
        np.testing.assert_array_equal(oy, ty.numpy())


# ---------------------------------------------------------------------------------------------- resizing
def test_resize_bilinear_hand_computed():
    x = np.array([[0., 4.], [8., 12.]], dtype=np.float32)[:, :, None]
    out = resize_images(x, (4, 4), "bilinear")[:, :, 0]
    # half-pixel centres: source positions -0.25, 0.25, 0.75, 1.25 -> clamped weights 0, .25, .75, 1
    row = np.array([0, 1, 3, 4], dtype=np.float32)
    np.testing.assert_array_equal(out, row[None, :] + 2 * row[:, None])
    # 2x downscale: the mean of each 2x2 block
    y = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    np.testing.assert_array_equal(resize_images(y, (2, 2), "bilinear")[:, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    assert resize_images(y, (2, 2)).dtype == np.float32


def test_resize_nearest_area_and_identity_hand_computed():
    y = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    # nearest: floor((i + 0.5) * 2) = 1, 3
    np.testing.assert_array_equal(resize_images(y, (2, 2), "nearest")[:, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(resize_images(y, (2, 2), "area")[:, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    # area with fractional overlaps: 3 -> 2 columns, weights (1, .5) and (.5, 1) over 1.5
    z = np.array([[0., 3., 6.]], dtype=np.float32)[:, :, None]
    np.testing.assert_allclose(resize_images(z, (1, 2), "area")[0, :, 0], [1.0, 5.0], rtol=1e-6)
    for method in image_utils.RESIZE_INTERPOLATIONS:
        if method not in ("gaussian", "mitchellcubic"):   # the interpolating kernels keep a same-size image
            np.testing.assert_allclose(resize_images(y, (4, 4), method), y, atol=1e-5, err_msg=method)
        const = np.full((5, 7, 2), 3.0, np.float32)
        np.testing.assert_allclose(resize_images(const, (3, 11), method), 3.0, rtol=1e-5, err_msg=method)


def test_resize_batches_and_channels_first():
    rng = np.random.default_rng(0)
    batch = rng.random((2, 5, 6, 3)).astype(np.float32)
    out = resize_images(batch, (3, 4))
    assert out.shape == (2, 3, 4, 3)
    np.testing.assert_array_equal(out[1], resize_images(batch[1], (3, 4)))
    cf = resize_images(batch.transpose(0, 3, 1, 2), (3, 4), data_format="channels_first")
    np.testing.assert_array_equal(cf, out.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="interpolation"):
        resize_images(batch, (3, 4), "cubic-ish")


def test_resize_matches_torch_interpolate():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    for _ in range(40):
        h, w, oh, ow = (int(v) for v in rng.integers(1, 20, 4))
        x = rng.integers(0, 256, (h, w, 2)).astype(np.float32)
        t = torch.from_numpy(x).permute(2, 0, 1)[None]
        ref = F.interpolate(t, size=(oh, ow), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(resize_images(x, (oh, ow), "bilinear"), ref, atol=1e-3)
        ref = F.interpolate(t, size=(oh, ow), mode="nearest-exact")[0].permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(resize_images(x, (oh, ow), "nearest"), ref)


def test_resize_matches_tensorflow_bit_for_bit(keras_tf):
    _, tf = keras_tf
    rng = np.random.default_rng(2)
    for _ in range(30):
        h, w = (int(v) for v in rng.integers(1, 25, 2))
        oh, ow = (int(v) for v in rng.integers(1, 30, 2))
        x = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        for method in image_utils.RESIZE_INTERPOLATIONS:
            ref = tf.image.resize(x, (oh, ow), method=method).numpy().astype(np.float32)
            np.testing.assert_array_equal(resize_images(x, (oh, ow), method), ref, err_msg=method)
        ref = tf.image.resize_with_pad(x, oh + 4, ow + 4).numpy()
        np.testing.assert_array_equal(image_utils.resize_with_pad(x.astype(np.float32), oh + 4, ow + 4), ref)


def test_smart_resize_hand_computed():
    x = np.arange(32, dtype=np.float32).reshape(4, 8, 1)
    # crop of the target aspect (1:1): the centred 4x4 block, columns 2..5, then a 2x downscale
    out = smart_resize(x, (2, 2))
    block = x[:, 2:6, 0]
    expected = block.reshape(2, 2, 2, 2).mean(axis=(1, 3))
    np.testing.assert_array_equal(out[:, :, 0], expected)
    assert smart_resize(np.zeros((3, 10, 20, 1)), (5, 5)).shape == (3, 5, 5, 1)
    assert smart_resize(np.zeros((1, 10, 20)), (4, 6), data_format="channels_first").shape == (1, 4, 6)
    with pytest.raises(ValueError, match="incorrect rank"):
        smart_resize(np.zeros((4, 4)), (2, 2))
    with pytest.raises(ValueError, match="tuple of 2 integers"):
        smart_resize(np.zeros((4, 4, 1)), (2, 2, 2))
    with pytest.raises(TypeError, match="unexpected keyword"):
        smart_resize(np.zeros((4, 4, 1)), (2, 2), antialias=True)


def test_smart_resize_matches_keras(keras):
    rng = np.random.default_rng(3)
    for _ in range(10):
        h, w, th, tw = (int(v) for v in rng.integers(2, 30, 4))
        x = rng.random((h, w, 3)).astype(np.float32) * 255
        theirs = np.asarray(keras.preprocessing.image.smart_resize(x, (th, tw)))
        np.testing.assert_allclose(smart_resize(x, (th, tw)), theirs, atol=1e-3)


# ---------------------------------------------------------------------------------------------- plot_model
def _graph_model():
    inp = pynn.Input(shape=(8,), name="inp")
    a = layers.Dense(4, activation="relu", name="d1")(inp)
    b = layers.Dense(4, name="d2")(inp)
    out = layers.Dense(2, activation="softmax", name="out")(layers.Add(name="add")([a, b]))
    return pynn.Model(inp, out, name="fm")


def _not_a_notebook(monkeypatch):
    # in IPython the message is printed instead (Keras's behaviour); some imports load that module
    monkeypatch.delitem(sys.modules, "IPython.core.magics.namespace", raising=False)


def test_plot_model_without_pydot_names_the_install(monkeypatch, tmp_path):
    _not_a_notebook(monkeypatch)
    monkeypatch.setattr(model_visualization, "pydot", None)
    model = _graph_model()
    with pytest.raises(ImportError, match=r"pip install pydot"):
        pynn.utils.plot_model(model, to_file=str(tmp_path / "m.png"))
    with pytest.raises(ImportError, match=r"pip install pydot"):
        pynn.utils.model_to_dot(model)


def test_plot_model_without_graphviz_names_it(monkeypatch, tmp_path):
    _not_a_notebook(monkeypatch)
    monkeypatch.setattr(model_visualization, "check_pydot", lambda: True)
    monkeypatch.setattr(model_visualization, "check_graphviz", lambda: False)
    with pytest.raises(ImportError, match=r"install graphviz .*graphviz.gitlab.io"):
        pynn.utils.plot_model(_graph_model(), to_file=str(tmp_path / "m.png"))
    assert not (tmp_path / "m.png").exists()


def test_plot_model_refuses_an_unbuilt_model():
    with pytest.raises(ValueError, match="not yet been built"):
        pynn.utils.plot_model(pynn.Sequential([layers.Dense(2)]))


def test_model_to_dot_text():
    pytest.importorskip("pydot")
    dot = pynn.utils.model_to_dot(_graph_model(), show_shapes=True, show_layer_activations=True,
                                  show_trainable=True, show_dtype=True)
    text = dot.to_string()
    assert "rankdir=TB" in text and "splines=ortho" in text and "dpi=200" in text
    nodes = {n.get_name(): n.get("label") for n in dot.get_nodes() if n.get_name().isdigit()}
    assert len(nodes) == 5
    labels = " ".join(nodes.values())
    for piece in ("<b>inp</b> (InputLayer)", "<b>d1</b> (Dense)", "<b>add</b> (Add)", "Activation: <b>relu</b>",
                  "Activation: <b>softmax</b>", "Input shape: <b>(None, 8)</b>", "Output shape: <b>(None, 2)</b>",
                  "Output dtype: <b>float32</b>", "<b>Trainable</b>"):
        assert piece in labels, piece
    name = {k: v.split("<b>")[1].split("</b>")[0] for k, v in nodes.items()}
    edges = sorted((name[e.get_source()], name[e.get_destination()]) for e in dot.get_edges())
    assert edges == [("add", "out"), ("d1", "add"), ("d2", "add"), ("inp", "d1"), ("inp", "d2")]
    # a Sequential: a chain without the input layer; the class names alone when asked
    seq = pynn.Sequential([layers.Input(shape=(3,)), layers.Dense(5, name="s1"), layers.Dense(1, name="s2")])
    dot = pynn.utils.model_to_dot(seq, show_layer_names=False, rankdir="LR")
    assert "rankdir=LR" in dot.to_string()
    assert len(dot.get_edges()) == 1
    assert all("<b>Dense</b>" in n.get("label") for n in dot.get_nodes() if n.get_name().isdigit())


def _nested(lib):
    L = lib.layers
    si = lib.Input(shape=(4,), name="sub_in")
    sub = lib.Model(si, L.Dense(3, name="subd")(si), name="subf")
    seq = lib.Sequential([lib.Input(shape=(3,), name="seq_in"), L.Dense(3, name="q1"), L.Dense(2, name="q2")],
                         name="subseq")
    inp = lib.Input(shape=(4,), name="inp")
    return lib.Model(inp, L.Dense(1, name="last")(seq(sub(inp))), name="outer")


def _dot_summary(dot):
    nodes, edges = [], []

    def walk(g):
        nodes.extend(n for n in g.get_nodes() if n.get_name().isdigit())
        edges.extend(g.get_edges())
        for sub in g.get_subgraphs():
            walk(sub)
    walk(dot)
    labels = {n.get_name(): n.get("label") for n in nodes}
    name = {k: v.split("<b>")[1].split("</b>")[0] for k, v in labels.items()}
    return (sorted(labels.values()), sorted((name[e.get_source()], name[e.get_destination()]) for e in edges),
            sorted(g.get_name() for g in dot.get_subgraphs()))


@pytest.mark.parametrize("kwargs", [dict(), dict(show_shapes=True, show_dtype=True, show_layer_activations=True,
                                                 show_trainable=True), dict(expand_nested=True, show_shapes=True)])
def test_model_to_dot_matches_keras(keras, kwargs):
    pytest.importorskip("pydot")
    for build in (_nested, lambda lib: lib.Sequential([lib.Input(shape=(3,)), lib.layers.Dense(5, name="s1"),
                                                       lib.layers.Dropout(0.1, name="dr"),
                                                       lib.layers.Dense(1, name="s2")])):
        assert _dot_summary(pynn.utils.model_to_dot(build(pynn), **kwargs)) == \
            _dot_summary(keras.utils.model_to_dot(build(keras), **kwargs))


def test_plot_model_writes_the_image_when_graphviz_is_installed(tmp_path):
    if not model_visualization.check_graphviz():
        pytest.skip("pydot and the Graphviz programs are not both installed")
    path = tmp_path / "model.png"
    pynn.utils.plot_model(_graph_model(), to_file=str(path), show_shapes=True)
    assert path.read_bytes()[:4] == b"\x89PNG"
    pynn.utils.plot_model(_graph_model(), to_file=str(tmp_path / "model.svg"))
    assert b"<svg" in (tmp_path / "model.svg").read_bytes()
