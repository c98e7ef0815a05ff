"""pynn.utils.image_dataset_from_directory / text_dataset_from_directory and the image file helpers
(load_img, img_to_array, array_to_img, save_img) on small directories made here: file order, labels,
splits, shuffling, pixel values against hand-computed ones, training on them with fit, and, where
TensorFlow and Keras are installed, Keras's own datasets. The image tests skip without Pillow."""
import io
import os
import pickle

import numpy as np
import pytest

import pynn
from pynn import layers
from pynn.utils import image_utils


@pytest.fixture(scope="module")
def keras_tf():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")
    return keras, tf


@pytest.fixture
def PIL():
    return pytest.importorskip("PIL.Image")


def _save(PIL, path, array, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    PIL.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)


@pytest.fixture
def image_dir(tmp_path, PIL):
    """3 classes, 2x2 RGB PNGs whose red channel is 10 * the image number (c: one in a nested folder),
    and a .txt file that is skipped."""
    root = tmp_path / "images"
    number = 0
    for cls, count in (("a", 3), ("b", 2), ("c", 2)):
        for i in range(count):
            img = np.zeros((2, 2, 3), np.uint8)
            img[..., 0] = 10 * number
            img[..., 1] = [[0, 40], [80, 120]]
            sub = "nested" if (cls == "c" and i == 1) else ""
            _save(PIL, str(root / cls / sub / f"img{i}.png"), img)
            number += 1
    (root / "a" / "notes.txt").write_text("not an image")
    return root


def _expected_paths(root):
    return [str(root / "a" / f"img{i}.png") for i in range(3)] + \
        [str(root / "b" / f"img{i}.png") for i in range(2)] + \
        [str(root / "c" / "img0.png"), str(root / "c" / "nested" / "img1.png")]


# ---------------------------------------------------------------------------------------------- image files
def test_image_dataset_order_labels_and_pixels(image_dir):
    ds = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), batch_size=4, shuffle=False,
                                                 verbose=False)
    assert isinstance(ds, pynn.utils.PyDataset)
    assert ds.class_names == ["a", "b", "c"]
    assert ds.file_paths == _expected_paths(image_dir)
    assert len(ds) == 2
    x, y = ds[0]
    assert x.dtype == np.float32 and x.shape == (4, 2, 2, 3)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [0, 0, 0, 1])
    np.testing.assert_array_equal(x[:, 0, 0, 0], [0, 10, 20, 30])          # values kept in [0, 255]
    np.testing.assert_array_equal(x[2, :, :, 1], [[0, 40], [80, 120]])
    x, y = ds[1]
    assert x.shape == (3, 2, 2, 3)
    np.testing.assert_array_equal(y, [1, 2, 2])
    np.testing.assert_array_equal(x[:, 0, 0, 0], [40, 50, 60])


def test_image_dataset_resizes_like_tf_bilinear(image_dir):
    ds = pynn.utils.image_dataset_from_directory(image_dir, image_size=(4, 4), batch_size=None, shuffle=False,
                                                 verbose=False)
    x, y = ds[0]                                   # one image, no batch dimension
    assert x.shape == (4, 4, 3) and int(y) == 0
    # green channel [[0, 40], [80, 120]] at half-pixel centres: weights 0, .25, .75, 1 on each axis
    w = np.array([0, .25, .75, 1], np.float32)
    expected = 40 * w[None, :] + 80 * w[:, None]
    np.testing.assert_allclose(x[:, :, 1], expected, rtol=1e-6)
    ds = pynn.utils.image_dataset_from_directory(image_dir, image_size=(1, 1), batch_size=8, shuffle=False,
                                                 verbose=False, interpolation="area", label_mode=None)
    x = ds[0]
    assert x.shape == (7, 1, 1, 3)
    np.testing.assert_allclose(x[:, 0, 0, 1], 60.0)


@pytest.mark.parametrize("label_mode, expected", [
    ("int", np.array([0, 0, 0, 1, 1, 2, 2], np.int32)),
    ("categorical", np.eye(3, dtype=np.float32)[[0, 0, 0, 1, 1, 2, 2]]),
])
def test_image_dataset_label_modes(image_dir, label_mode, expected):
    ds = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), label_mode=label_mode,
                                                 shuffle=False, verbose=False)
    x, y = ds[0]
    assert y.dtype == expected.dtype
    np.testing.assert_array_equal(y, expected)


def test_image_dataset_binary_none_and_explicit_labels(image_dir):
    ds = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), label_mode="binary",
                                                 class_names=["c", "a"], shuffle=False, verbose=False)
    assert ds.class_names == ["c", "a"]
    x, y = ds[0]
    assert y.dtype == np.float32 and y.shape == (5, 1)
    np.testing.assert_array_equal(y[:, 0], [0, 0, 1, 1, 1])             # c's two images first, then a's
    ds = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), labels=None, shuffle=False,
                                                 verbose=False)
    assert ds.class_names is None
    assert isinstance(ds[0], np.ndarray) and ds[0].shape == (7, 2, 2, 3)
    ds = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), labels=[5, 1, 1, 0, 0, 0, 5],
                                                 shuffle=False, verbose=False)
    assert ds.class_names == ["0", "1", "5"]
    np.testing.assert_array_equal(ds[0][1], [5, 1, 1, 0, 0, 0, 5])
    # categorical one-hot over len(class_names) = 4 columns: label 5 is outside and gives zeros (tf.one_hot)
    ds = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), labels=[2, 1, 1, 0, 0, 0, 5],
                                                 label_mode="categorical", shuffle=False, verbose=False)
    assert ds.class_names == ["0", "1", "2", "5"]
    np.testing.assert_array_equal(ds[0][1][[0, 1, 3, 6]], [[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])


def test_image_dataset_color_modes_and_channels_first(image_dir):
    gray = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), color_mode="grayscale",
                                                   shuffle=False, verbose=False)[0][0]
    assert gray.shape == (7, 2, 2, 1)
    # libpng's rgb_to_gray (what TF's PNG decoder does): (9797 R + 19234 G + 3737 B) >> 15
    r, g = 10 * np.arange(7)[:, None, None], np.array([[0, 40], [80, 120]])[None]
    expected = (9797 * r + 19234 * g) >> 15
    expected = np.where((r == g) & (g == 0), r, expected)   # grey pixels (R = G = B; B is 0) are kept
    np.testing.assert_array_equal(gray[..., 0], expected)
    rgba = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), color_mode="rgba",
                                                   shuffle=False, verbose=False)[0][0]
    assert rgba.shape == (7, 2, 2, 4)
    np.testing.assert_array_equal(rgba[..., 3], 255)
    cf = pynn.utils.image_dataset_from_directory(image_dir, image_size=(3, 5), data_format="channels_first",
                                                 shuffle=False, verbose=False)[0][0]
    cl = pynn.utils.image_dataset_from_directory(image_dir, image_size=(3, 5), shuffle=False, verbose=False)[0][0]
    assert cf.shape == (7, 3, 3, 5)
    np.testing.assert_array_equal(cf, cl.transpose(0, 3, 1, 2))


def test_image_dataset_crop_and_pad_to_aspect_ratio(tmp_path, PIL):
    img = np.zeros((2, 4, 3), np.uint8)
    img[:, :, 0] = [[1, 2, 3, 4], [5, 6, 7, 8]]
    _save(PIL, str(tmp_path / "d" / "k" / "x.png"), img)
    crop = pynn.utils.image_dataset_from_directory(tmp_path / "d", image_size=(2, 2), crop_to_aspect_ratio=True,
                                                   verbose=False)[0][0][0]
    np.testing.assert_array_equal(crop[:, :, 0], [[2, 3], [6, 7]])        # the centred 2x2 block, unscaled
    pad = pynn.utils.image_dataset_from_directory(tmp_path / "d", image_size=(4, 4), pad_to_aspect_ratio=True,
                                                  verbose=False)[0][0][0]
    np.testing.assert_array_equal(pad[0], 0)
    np.testing.assert_array_equal(pad[3], 0)                                # a zero row above and below
    np.testing.assert_array_equal(pad[1:3, :, 0], [[1, 2, 3, 4], [5, 6, 7, 8]])
    with pytest.raises(ValueError, match="Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio`"):
        pynn.utils.image_dataset_from_directory(tmp_path / "d", crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)


def test_image_dataset_reads_16_bit_png_and_palette_gif(tmp_path, PIL):
    deep = np.array([[0, 300], [40000, 65535]], np.uint16)
    os.makedirs(tmp_path / "d" / "k")
    PIL.fromarray(deep).save(tmp_path / "d" / "k" / "a.png")
    palette = PIL.new("P", (2, 2), 1)
    palette.putpalette([0, 0, 0, 77, 77, 77] + [0] * 762)
    palette.save(tmp_path / "d" / "k" / "b.gif")
    x, _ = pynn.utils.image_dataset_from_directory(tmp_path / "d", image_size=(2, 2), color_mode="grayscale",
                                                   shuffle=False, verbose=False)[0]
    np.testing.assert_array_equal(x[0, :, :, 0], deep >> 8)                 # TF keeps the high byte
    np.testing.assert_array_equal(x[1], 77)


def test_image_dataset_shuffle_split_and_epochs(image_dir):
    order = np.arange(7)
    np.random.RandomState(5).shuffle(order)                                 # Keras's file shuffle
    paths = [_expected_paths(image_dir)[i] for i in order]
    ds = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), batch_size=3, seed=5, verbose=False)
    assert ds.file_paths == paths
    first = np.concatenate([x[:, 0, 0, 0] for x, _ in ds]) / 10
    np.testing.assert_array_equal(first, order)
    labels = np.concatenate([y for _, y in ds])
    np.testing.assert_array_equal(labels, np.array([0, 0, 0, 1, 1, 2, 2])[order])
    ds.on_epoch_end()
    second = np.concatenate([x[:, 0, 0, 0] for x, _ in ds]) / 10
    assert sorted(second) == list(range(7)) and not np.array_equal(second, first)
    again = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), batch_size=3, seed=5,
                                                    verbose=False)
    again.on_epoch_end()
    np.testing.assert_array_equal(np.concatenate([x[:, 0, 0, 0] for x, _ in again]) / 10, second)

    # int(0.3 * 7) = 2 validation files: the last two of the shuffled list
    train = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), seed=5, validation_split=0.3,
                                                    subset="training", verbose=False)
    val = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), seed=5, validation_split=0.3,
                                                  subset="validation", verbose=False)
    assert train.file_paths == paths[:5] and val.file_paths == paths[5:]
    both = pynn.utils.image_dataset_from_directory(image_dir, image_size=(2, 2), seed=5, validation_split=0.3,
                                                   subset="both", verbose=False)
    assert isinstance(both, list) and [d.file_paths for d in both] == [paths[:5], paths[5:]]
    assert both[1].class_names == ["a", "b", "c"]


def test_image_dataset_prints_what_it_found(image_dir, capsys):
    pynn.utils.image_dataset_from_directory(image_dir, seed=1, validation_split=0.3, subset="training")
    out = capsys.readouterr().out
    assert "Found 7 files belonging to 3 classes." in out and "Using 5 files for training." in out


@pytest.mark.parametrize("kwargs, message", [
    (dict(label_mode="binary"), "there must be exactly 2 class_names"),
    (dict(label_mode="sparse"), "`label_mode` argument must be one of"),
    (dict(labels="x"), "`labels` argument should be a list/tuple of integer labels"),
    (dict(labels=[0, 1], class_names=["a"]), "You can only pass `class_names` if"),
    (dict(labels=[0, 1]), "Expected the lengths of `labels` to match the number of files"),
    (dict(color_mode="cmyk"), "`color_mode` must be one of"),
    (dict(image_size=(1, 2, 3)), "Invalid `image_size` value"),
    (dict(interpolation="sinc"), "Argument `interpolation` should be one of"),
    (dict(validation_split=0.2), "If `subset` is set, `validation_split` must be set"),
    (dict(validation_split=0.2, subset="training"), "you must provide a `seed` argument"),
    (dict(validation_split=1.5, subset="training", seed=1), "`validation_split` must be between 0 and 1"),
    (dict(validation_split=0.2, subset="test", seed=1), '`subset` must be either "training"'),
    (dict(class_names=["a", "zzz"]), "did not match the names of the subdirectories"),
    (dict(format="torch"), '`format` should be either "tf" or "grain"'),
])
def test_image_dataset_errors(image_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pynn.utils.image_dataset_from_directory(image_dir, verbose=False, **kwargs)


def test_image_dataset_without_images(tmp_path, PIL):
    (tmp_path / "empty" / "k").mkdir(parents=True)
    with pytest.raises(ValueError, match="No images found in directory"):
        pynn.utils.image_dataset_from_directory(tmp_path / "empty", verbose=False)


def test_image_functions_without_pillow_name_the_install(monkeypatch, tmp_path):
    monkeypatch.setattr(image_utils, "pil_image", None)
    (tmp_path / "k").mkdir()
    for call in (lambda: pynn.utils.image_dataset_from_directory(tmp_path, verbose=False),
                 lambda: pynn.utils.load_img(str(tmp_path / "x.png")),
                 lambda: pynn.utils.array_to_img(np.zeros((2, 2, 3))),
                 lambda: pynn.utils.save_img(str(tmp_path / "x.png"), np.zeros((2, 2, 3)))):
        with pytest.raises(ImportError, match=r"`pip install pillow`"):
            call()
    # arrays alone need no Pillow
    assert pynn.utils.img_to_array(np.zeros((2, 3))).shape == (2, 3, 1)


def test_image_dataset_trains_in_fit(image_dir):
    train, val = pynn.utils.image_dataset_from_directory(image_dir, image_size=(4, 4), batch_size=2, seed=3,
                                                         validation_split=0.3, subset="both", verbose=False)
    model = pynn.Sequential([layers.Input(shape=(4, 4, 3)), layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "val_loss" in history.history
    assert model.predict(val, verbose=0).shape == (2, 3)


# ---------------------------------------------------------------------------------------------- load_img etc.
def test_save_load_img_round_trip(tmp_path, PIL):
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    path = str(tmp_path / "a.png")
    pynn.utils.save_img(path, rgb, scale=False)
    img = pynn.utils.load_img(path)
    assert img.mode == "RGB" and img.size == (3, 2)                          # PIL: (width, height)
    arr = pynn.utils.img_to_array(img)
    assert arr.dtype == np.float32 and arr.shape == (2, 3, 3)
    np.testing.assert_array_equal(arr, rgb)
    assert pynn.utils.img_to_array(img, data_format="channels_first").shape == (3, 2, 3)
    assert pynn.utils.img_to_array(img, dtype="uint8").dtype == np.uint8
    # load_img from bytes, as grayscale, resized (PIL's nearest by default)
    with open(path, "rb") as f:
        buffer = io.BytesIO(f.read())
    gray = pynn.utils.load_img(buffer, color_mode="grayscale", target_size=(4, 6))
    assert gray.mode == "L" and gray.size == (6, 4)
    assert pynn.utils.img_to_array(gray).shape == (4, 6, 1)
    assert pynn.utils.load_img(path, color_mode="rgba").mode == "RGBA"
    square = pynn.utils.load_img(path, target_size=(2, 2), keep_aspect_ratio=True)
    np.testing.assert_array_equal(np.asarray(square), rgb[:, :2])           # the centred 2x2 crop (w: 0..1)
    with pytest.raises(ValueError, match='color_mode must be "grayscale", "rgb", or "rgba"'):
        pynn.utils.load_img(path, color_mode="hsv")
    with pytest.raises(ValueError, match="Invalid interpolation method"):
        pynn.utils.load_img(path, target_size=(5, 5), interpolation="sinc")
    with pytest.raises(TypeError, match="path should be path-like or io.BytesIO"):
        pynn.utils.load_img(3)


def test_array_to_img_scaling_and_modes(PIL):
    x = np.array([[[0.], [0.5]], [[1.], [0.25]]])
    img = pynn.utils.array_to_img(x)                                         # scaled to [0, 255]
    assert img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), [[0, 127], [255, 63]])
    assert pynn.utils.array_to_img(np.zeros((2, 2, 4))).mode == "RGBA"
    assert pynn.utils.array_to_img(np.zeros((3, 2, 2)), data_format="channels_first").size == (2, 2)
    assert pynn.utils.array_to_img(np.full((2, 2, 1), 1000.), scale=False).mode == "I"
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        pynn.utils.array_to_img(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="Expected image array to have rank 3"):
        pynn.utils.array_to_img(np.zeros((2, 2)))


def test_save_img_jpeg_from_rgba_warns_and_converts(tmp_path, PIL):
    with pytest.warns(UserWarning, match="JPEG format does not support RGBA"):
        pynn.utils.save_img(str(tmp_path / "x.jpg"), np.zeros((4, 4, 4)))
    assert pynn.utils.load_img(str(tmp_path / "x.jpg")).size == (4, 4)
    buffer = io.BytesIO()
    pynn.utils.save_img(buffer, np.zeros((4, 4, 3)), file_format="png")
    assert buffer.getvalue()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------------------------------- text files
@pytest.fixture
def text_dir(tmp_path):
    root = tmp_path / "texts"
    for cls in ("neg", "pos"):
        (root / cls / "deep").mkdir(parents=True)
        for i in range(3):
            where = root / cls / ("deep" if i == 2 else "")
            (where / f"t{i}.txt").write_bytes(f"{cls} {i} é\r\nend".encode("utf-8"))
    (root / "pos" / "skip.md").write_text("not a .txt")
    return root


def test_text_dataset_contents_and_labels(text_dir):
    ds = pynn.utils.text_dataset_from_directory(text_dir, batch_size=4, shuffle=False, verbose=False)
    assert isinstance(ds, pynn.utils.PyDataset)
    assert ds.class_names == ["neg", "pos"] and len(ds) == 2
    x, y = ds[0]
    assert x.dtype == object and x.shape == (4,)
    assert list(x) == ["neg 0 é\r\nend", "neg 1 é\r\nend", "neg 2 é\r\nend", "pos 0 é\r\nend"]
    np.testing.assert_array_equal(y, [0, 0, 0, 1])
    assert y.dtype == np.int32
    x, y = ds[1]
    assert list(x) == ["pos 1 é\r\nend", "pos 2 é\r\nend"]
    ds = pynn.utils.text_dataset_from_directory(text_dir, batch_size=None, shuffle=False, max_length=6,
                                                label_mode="binary", verbose=False)
    x, y = ds[4]
    assert x == "pos 1 " and y.shape == (1,) and y.dtype == np.float32 and y[0] == 1
    ds = pynn.utils.text_dataset_from_directory(text_dir, label_mode="categorical", shuffle=False, verbose=False)
    np.testing.assert_array_equal(ds[0][1], np.eye(2, dtype=np.float32)[[0, 0, 0, 1, 1, 1]])
    ds = pynn.utils.text_dataset_from_directory(text_dir, labels=None, shuffle=False, verbose=False)
    assert ds.class_names is None and ds[0].shape == (6,)


def test_datasets_pickle(text_dir):
    # (so that a PyDataset's use_multiprocessing workers can receive them)
    ds = pynn.utils.text_dataset_from_directory(text_dir, batch_size=4, seed=2, verbose=False)
    copy = pickle.loads(pickle.dumps(ds))
    assert list(copy[1][0]) == list(ds[1][0]) and copy.class_names == ds.class_names
    series = pynn.utils.timeseries_dataset_from_array(np.arange(30.), np.arange(30), 4, shuffle=True, seed=1)
    copy = pickle.loads(pickle.dumps(series))
    np.testing.assert_array_equal(copy[0][0], series[0][0])


def test_text_dataset_shuffle_and_splits(text_dir):
    order = np.arange(6)
    np.random.RandomState(9).shuffle(order)
    both = pynn.utils.text_dataset_from_directory(text_dir, seed=9, validation_split=0.5, subset="both",
                                                  verbose=False)
    texts = [t for d in both for t in d[0][0]]
    expected = [f"{c} {i} é\r\nend" for c in ("neg", "pos") for i in range(3)]
    assert texts == [expected[i] for i in order]
    assert both[0].class_names == both[1].class_names == ["neg", "pos"]
    (text_dir.parent / "no_text" / "k").mkdir(parents=True)
    (text_dir.parent / "no_text" / "k" / "a.md").write_text("x")
    with pytest.raises(ValueError, match="No text files found in directory"):
        pynn.utils.text_dataset_from_directory(text_dir.parent / "no_text", verbose=False)


# ---------------------------------------------------------------------------------------------- vs Keras
@pytest.mark.parametrize("kwargs", [
    dict(shuffle=False, image_size=(5, 7), batch_size=3),
    dict(shuffle=False, image_size=(3, 3), batch_size=None, color_mode="grayscale", label_mode="categorical"),
    dict(shuffle=False, image_size=(6, 4), batch_size=4, crop_to_aspect_ratio=True, interpolation="bicubic"),
    dict(shuffle=False, image_size=(6, 4), batch_size=4, pad_to_aspect_ratio=True, color_mode="rgba"),
    dict(shuffle=False, image_size=(4, 4), batch_size=4, interpolation="area", label_mode="binary",
         class_names=["b", "a"]),
])
def test_image_dataset_matches_keras(keras_tf, tmp_path, PIL, kwargs):
    keras, _ = keras_tf
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        for i in range(3):
            h, w = (int(v) for v in rng.integers(4, 12, 2))   # (padding a 2x11 image to 6x4 leaves no row)
            _save(PIL, str(tmp_path / cls / f"{i}.png"), rng.integers(0, 256, (h, w, 3)), "RGB")
    ours = pynn.utils.image_dataset_from_directory(tmp_path, verbose=False, **kwargs)
    theirs = keras.utils.image_dataset_from_directory(tmp_path, verbose=False, **kwargs)
    assert ours.class_names == theirs.class_names and ours.file_paths == theirs.file_paths
    batches = list(theirs)
    assert len(ours) == len(batches)
    for (ox, oy), (tx, ty) in zip(ours, batches):
        np.testing.assert_array_equal(ox, tx.numpy().astype(np.float32))
        np.testing.assert_array_equal(oy, ty.numpy())
        assert oy.dtype == ty.numpy().dtype


def test_shuffled_file_order_and_splits_match_keras(keras_tf, image_dir, text_dir):
    keras, _ = keras_tf
    for subset in ("training", "validation"):
        kw = dict(seed=1234, validation_split=0.3, subset=subset, verbose=False)
        ours = pynn.utils.image_dataset_from_directory(image_dir, **kw)
        theirs = keras.utils.image_dataset_from_directory(image_dir, **kw)
        assert ours.file_paths == theirs.file_paths
        assert sorted(np.concatenate([y for _, y in ours])) == sorted(np.concatenate([y for _, y in theirs]))
        ours = pynn.utils.text_dataset_from_directory(text_dir, **kw)
        theirs = keras.utils.text_dataset_from_directory(text_dir, **kw)
        assert sorted(t for x, _ in ours for t in x) == sorted(t.decode() for x, _ in theirs for t in x.numpy())


def test_text_dataset_matches_keras(keras_tf, text_dir):
    keras, _ = keras_tf
    for kw in (dict(batch_size=4), dict(batch_size=None, label_mode="binary"), dict(label_mode="categorical")):
        ours = pynn.utils.text_dataset_from_directory(text_dir, shuffle=False, verbose=False, **kw)
        theirs = keras.utils.text_dataset_from_directory(text_dir, shuffle=False, verbose=False, **kw)
        assert ours.class_names == theirs.class_names
        for (ox, oy), (tx, ty) in zip(ours, theirs):
            assert list(np.atleast_1d(ox)) == [t.decode() for t in np.atleast_1d(tx.numpy())]
            np.testing.assert_array_equal(oy, ty.numpy())
