"""pynn.datasets' loaders on small files made here in the real formats, in a temporary $PYNN_DATA (or fetched
from a local HTTP server on 127.0.0.1): Fashion-MNIST's gzipped IDX files, CIFAR's pickled batches (Python 2
pickles, as distributed; extracted, in Keras's cache layout, or in the tar.gz), IMDB's and Reuters's npz of
ragged object arrays and their word-index JSON, Boston's and California's npz.

Each is checked for Keras 3's shapes and dtypes and for its values, computed here from the file's layout,
and, with Keras installed, equal to what Keras 3's own loaders return on the same files, over the options
(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from, test_split, label_mode, version).
Files that are not what they claim, a pickle that would run code included, raise ValueError naming the file.
"""
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from pynn import datasets
from pynn.datasets import cifar
from test_datasets import http_server, isolated  # noqa: F401  (fixtures: a local server, an isolated $PYNN_DATA)


# ------------------------------------------------------------------------------------------ fabricating files
class Py2Pickler(pickle._Pickler):
    """Writes bytes and str as Python 2's str (BINSTRING), as the CIFAR batches were written by cPickle."""
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_as_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = _save_as_py2_str
    dispatch[str] = _save_as_py2_str


def py2_pickle(obj):
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")  # NumPy 1's name


def cifar_batch(rng, n, label_keys):
    """A CIFAR batch pickle with n random images, and its (data, {key: labels})."""
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = {key: [int(v) for v in rng.integers(0, top, n)] for key, top in label_keys.items()}
    d = {b"batch_label": b"fabricated batch", b"data": data, b"filenames": [b"img_%d.png" % i for i in range(n)]}
    d.update({key.encode(): value for key, value in labels.items()})
    return py2_pickle(d), data, labels


def idx_gz(array):
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def ragged(rng, n, vocabulary, longest):
    """An object array of n lists of word ranks 1..vocabulary, of lengths 1..longest (all different lengths
    among the first two, so NumPy keeps it one-dimensional), as IMDB's and Reuters's npz hold them."""
    seqs = [[int(w) for w in rng.integers(1, vocabulary + 1, rng.integers(1, longest + 1))] for _ in range(n)]
    seqs[0], seqs[1] = seqs[0][:1], seqs[1] + [1, 2]
    out = np.empty(n, dtype=object)
    out[:] = seqs
    return out


def as_py2_cifar_dir(directory, files):
    directory.mkdir(parents=True)
    for name, content in files.items():
        (directory / name).write_bytes(content)


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


@pytest.fixture
def cifar10_files(rng):
    """{member name: pickle bytes} of a fabricated cifar-10-batches-py, and the expected arrays."""
    files, xs, ys = {}, [], []
    for i, n in enumerate([4, 3, 5, 2, 4], start=1):
        files[f"data_batch_{i}"], data, labels = cifar_batch(rng, n, {"labels": 10})
        xs.append(data)
        ys += labels["labels"]
    files["test_batch"], x_test, labels = cifar_batch(rng, 6, {"labels": 10})
    files["batches.meta"] = py2_pickle({b"label_names": [b"airplane"] * 10, b"num_vis": 3072})
    expected = (np.concatenate(xs), np.array(ys), x_test, np.array(labels["labels"]))
    return files, expected


def images(rows):
    """(n, 32, 32, 3) from CIFAR's rows of 3072: red plane, green plane, blue plane, each 32 rows of 32."""
    out = np.empty((len(rows), 32, 32, 3), np.uint8)
    for i, row in enumerate(rows):
        for channel in range(3):
            for r in range(32):
                out[i, r, :, channel] = row[channel * 1024 + r * 32: channel * 1024 + (r + 1) * 32]
    return out


def check_cifar10(data, expected):
    (x_train, y_train), (x_test, y_test) = data
    ex_train, ey_train, ex_test, ey_test = expected
    assert x_train.shape == (18, 32, 32, 3) and x_test.shape == (6, 32, 32, 3)
    assert y_train.shape == (18, 1) and y_test.shape == (6, 1)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))
    np.testing.assert_array_equal(x_train, images(ex_train))
    np.testing.assert_array_equal(x_test, images(ex_test))
    np.testing.assert_array_equal(y_train[:, 0], ey_train)
    np.testing.assert_array_equal(y_test[:, 0], ey_test)


# ------------------------------------------------------------------------------------------------- Fashion-MNIST
@pytest.fixture
def fashion_files(rng):
    x_train = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    y_train = rng.integers(0, 10, 7, dtype=np.uint8)
    x_test = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    y_test = rng.integers(0, 10, 3, dtype=np.uint8)
    files = {"train-labels-idx1-ubyte.gz": idx_gz(y_train), "train-images-idx3-ubyte.gz": idx_gz(x_train),
             "t10k-labels-idx1-ubyte.gz": idx_gz(y_test), "t10k-images-idx3-ubyte.gz": idx_gz(x_test)}
    return files, (x_train, y_train, x_test, y_test)


def check_fashion(data, expected):
    (x_train, y_train), (x_test, y_test) = data
    for got, want in zip((x_train, y_train, x_test, y_test), expected):
        assert got.dtype == np.uint8 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_fashion_mnist_from_pynn_data(isolated, fashion_files):
    files, expected = fashion_files
    (isolated / "data" / "fashion-mnist").mkdir()
    for name, content in files.items():
        (isolated / "data" / "fashion-mnist" / name).write_bytes(content)
    check_fashion(datasets.fashion_mnist.load_data(), expected)


def test_fashion_mnist_downloaded_with_md5(isolated, http_server, monkeypatch, fashion_files):
    files, expected = fashion_files
    for name, content in files.items():
        http_server.serve("fashion-mnist/" + name, content, checksum=hashlib.md5(content).hexdigest(),
                          monkeypatch=monkeypatch)
    check_fashion(datasets.fashion_mnist.load_data(), expected)
    check_fashion(datasets.fashion_mnist.load_data(), expected)
    assert len(http_server.requests) == 4  # each file once


def test_fashion_mnist_mismatched_files(isolated, fashion_files):
    files, _ = fashion_files
    (isolated / "data" / "fashion-mnist").mkdir()
    files["t10k-labels-idx1-ubyte.gz"] = idx_gz(np.zeros(5, np.uint8))
    for name, content in files.items():
        (isolated / "data" / "fashion-mnist" / name).write_bytes(content)
    with pytest.raises(ValueError, match="test images"):
        datasets.fashion_mnist.load_data()


# -------------------------------------------------------------------------------------------------------- CIFAR
def test_cifar10_from_extracted_directory(isolated, cifar10_files):
    files, expected = cifar10_files
    as_py2_cifar_dir(isolated / "data" / "cifar-10-batches-py", files)
    check_cifar10(datasets.cifar10.load_data(), expected)


def test_cifar10_from_keras_cache_layout(isolated, cifar10_files):
    files, expected = cifar10_files
    as_py2_cifar_dir(isolated / "data" / "cifar-10-batches-py-target" / "cifar-10-batches-py", files)
    check_cifar10(datasets.cifar10.load_data(), expected)


def test_cifar10_from_archive_read_in_place(isolated, cifar10_files):
    files, expected = cifar10_files
    archive = tar_gz({f"cifar-10-batches-py/{name}": content for name, content in files.items()})
    (isolated / "data" / "cifar-10-python.tar.gz").write_bytes(archive)
    check_cifar10(datasets.cifar10.load_data(), expected)
    assert sorted(p.name for p in (isolated / "data").iterdir()) == ["cifar-10-python.tar.gz"]  # nothing extracted


def test_cifar10_downloaded(isolated, http_server, monkeypatch, cifar10_files):
    files, expected = cifar10_files
    archive = tar_gz({f"cifar-10-batches-py/{name}": content for name, content in files.items()})
    http_server.serve("cifar-10-python.tar.gz", archive, monkeypatch=monkeypatch)
    check_cifar10(datasets.cifar10.load_data(), expected)
    check_cifar10(datasets.cifar10.load_data(), expected)
    assert http_server.requests == ["cifar-10-python.tar.gz"]
    assert (isolated / "home" / ".pynn" / "datasets" / "cifar-10-python.tar.gz").read_bytes() == archive


def test_cifar10_archive_lacking_a_batch(isolated, cifar10_files):
    files, _ = cifar10_files
    del files["data_batch_3"]
    archive = tar_gz({f"cifar-10-batches-py/{name}": content for name, content in files.items()})
    (isolated / "data" / "cifar-10-python.tar.gz").write_bytes(archive)
    with pytest.raises(ValueError, match="lacks.*data_batch_3"):
        datasets.cifar10.load_data()


class Exploit:
    calls = []

    def __reduce__(self):
        return (Exploit.calls.append, ("ran",))


@pytest.mark.parametrize("content, message", [
    (pickle.dumps({b"data": Exploit(), b"labels": []}), "refusing to load builtins"),
    (pickle.dumps([1, 2]), "expected a dict"),
    (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), r"\(n, 3072\)"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"label": [0, 1]}), "needs 'data' and 'labels'"),
    (b"\x80\x02}q\x00(U\x04data", "not a readable CIFAR batch"),  # truncated
])
def test_cifar_bad_batches_name_the_file(tmp_path, content, message):
    (tmp_path / "data_batch_1").write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        cifar.load_batch(tmp_path / "data_batch_1")
    assert "data_batch_1" in str(info.value) and Exploit.calls == []


def test_cifar_reads_python3_pickles_too(tmp_path):
    data = np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072)
    (tmp_path / "b").write_bytes(pickle.dumps({"data": data, "labels": [7, 8]}, protocol=4))
    x, labels = cifar.load_batch(tmp_path / "b")
    assert x.shape == (2, 3, 32, 32) and labels == [7, 8]
    np.testing.assert_array_equal(x.reshape(2, 3072), data)


@pytest.fixture
def cifar100_files(rng):
    files, expected = {}, {}
    for split, n in (("train", 9), ("test", 4)):
        files[split], data, labels = cifar_batch(rng, n, {"fine_labels": 100, "coarse_labels": 20})
        expected[split] = (data, labels)
    files["meta"] = py2_pickle({b"fine_label_names": [b"apple"] * 100, b"coarse_label_names": [b"fish"] * 20})
    return files, expected


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
@pytest.mark.parametrize("where", ["directory", "archive"])
def test_cifar100(isolated, cifar100_files, label_mode, where):
    files, expected = cifar100_files
    if where == "directory":
        as_py2_cifar_dir(isolated / "data" / "cifar-100-python", files)
    else:
        archive = tar_gz({f"cifar-100-python/{name}": content for name, content in files.items()})
        (isolated / "home" / ".pynn" / "datasets").mkdir(parents=True)
        (isolated / "home" / ".pynn" / "datasets" / "cifar-100-python.tar.gz").write_bytes(archive)
    (x_train, y_train), (x_test, y_test) = datasets.cifar100.load_data(label_mode=label_mode)
    for x, y, (data, labels) in ((x_train, y_train, expected["train"]), (x_test, y_test, expected["test"])):
        assert x.dtype == np.uint8 and x.shape == (len(data), 32, 32, 3)
        np.testing.assert_array_equal(x, images(data))
        assert y.shape == (len(data), 1) and y.dtype == np.array([1]).dtype  # as Keras: NumPy's default int
        assert list(y[:, 0]) == labels[f"{label_mode}_labels"]


def test_cifar100_label_mode_checked(isolated):
    with pytest.raises(ValueError, match="label_mode"):
        datasets.cifar100.load_data(label_mode="medium")


# ------------------------------------------------------------------------------------------------ IMDB, Reuters
@pytest.fixture
def imdb_file(rng, isolated):
    arrays = {"x_train": ragged(rng, 40, 30, 12), "y_train": rng.integers(0, 2, 40),
              "x_test": ragged(rng, 25, 30, 12), "y_test": rng.integers(0, 2, 25)}
    np.savez(isolated / "data" / "imdb.npz", **arrays)
    return isolated / "data" / "imdb.npz", arrays


def test_imdb_defaults(imdb_file):
    _, arrays = imdb_file
    (x_train, y_train), (x_test, y_test) = datasets.imdb.load_data()
    rng = np.random.RandomState(113)  # the train order, then the test order, from one generator
    order_train, order_test = rng.permutation(40), rng.permutation(25)
    assert x_train.dtype == object and x_train.shape == (40,) and x_test.shape == (25,)
    np.testing.assert_array_equal(y_train, arrays["y_train"][order_train])
    np.testing.assert_array_equal(y_test, arrays["y_test"][order_test])
    top = max(max(x) for x in list(arrays["x_train"]) + list(arrays["x_test"])) + 3
    for got, source in ((x_train, arrays["x_train"][order_train]), (x_test, arrays["x_test"][order_test])):
        for seq, original in zip(got, source):
            # start_char 1, words + index_from 3, and (Keras's quirk with num_words=None) the top index -> oov 2
            assert seq == [1] + [w + 3 if w + 3 < top else 2 for w in original]


def test_imdb_options(imdb_file):
    _, arrays = imdb_file
    (x_train, y_train), (x_test, y_test) = datasets.imdb.load_data(num_words=15, skip_top=5, maxlen=8, seed=7,
                                                                   oov_char=None)
    rng = np.random.RandomState(7)
    order = rng.permutation(40)
    kept = [(x, y) for x, y in zip(arrays["x_train"][order], arrays["y_train"][order]) if len(x) + 1 < 8]
    assert len(x_train) == len(kept) < 40
    for seq, (original, label) in zip(x_train, kept):
        assert seq == [w for w in [1] + [w + 3 for w in original] if 5 <= w < 15]
    np.testing.assert_array_equal(y_train, [y for _, y in kept])
    assert all(max(seq, default=5) < 15 for seq in x_test)
    with pytest.raises(ValueError, match="maxlen=2"):
        datasets.imdb.load_data(maxlen=2)
    with pytest.warns(UserWarning, match="nb_words"):
        datasets.imdb.load_data(nb_words=10)


def test_word_indices(isolated, http_server, monkeypatch):
    index = {"the": 1, "and": 2, "a": 3, "of": 4, "ünïcode": 5}
    (isolated / "data" / "imdb_word_index.json").write_text(json.dumps(index), encoding="utf-8")
    assert datasets.imdb.get_word_index() == index
    content = json.dumps({"said": 1, "mln": 2}).encode()
    http_server.serve("reuters_word_index.json", content, checksum=hashlib.md5(content).hexdigest(),
                      monkeypatch=monkeypatch)
    assert datasets.reuters.get_word_index() == {"said": 1, "mln": 2}
    assert len(datasets.reuters.get_label_names()) == 46 and datasets.reuters.get_label_names()[3] == "earn"


@pytest.fixture
def reuters_file(rng, isolated):
    arrays = {"x": ragged(rng, 50, 40, 15), "y": rng.integers(0, 46, 50)}
    np.savez(isolated / "data" / "reuters.npz", **arrays)
    return isolated / "data" / "reuters.npz", arrays


def test_reuters(reuters_file):
    _, arrays = reuters_file
    (x_train, y_train), (x_test, y_test) = datasets.reuters.load_data(num_words=20, test_split=0.3,
                                                                      start_char=None, index_from=0)
    order = np.random.RandomState(113).permutation(50)
    assert len(x_train) == int(50 * 0.7) == 35 and len(x_test) == 15
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), arrays["y"][order])
    for seq, original in zip(list(x_train) + list(x_test), arrays["x"][order]):
        assert seq == [w if w < 20 else 2 for w in original]


def test_ragged_npz_refuses_code(isolated, tmp_path):
    """An npz whose object array pickle names anything but NumPy's rebuilding functions is refused."""
    payload = np.empty(1, dtype=object)
    payload[0] = Exploit()
    np.savez(isolated / "data" / "imdb.npz", x_train=payload, y_train=np.zeros(1), x_test=payload,
             y_test=np.zeros(1))
    with pytest.raises(ValueError, match="imdb.npz.*refusing to load builtins"):
        datasets.imdb.load_data()
    assert Exploit.calls == []
    (isolated / "data" / "reuters.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="reuters.npz: not a readable npz"):
        datasets.reuters.load_data()


# --------------------------------------------------------------------------------------------- housing prices
@pytest.mark.parametrize("module, features, kwargs", [
    ("boston_housing", 13, {}), ("boston_housing", 13, {"test_split": 0.25, "seed": 3}),
    ("california_housing", 8, {}), ("california_housing", 8, {"version": "small", "test_split": 0.1}),
])
def test_housing(isolated, rng, module, features, kwargs):
    n = 700
    x, y = rng.standard_normal((n, features)), rng.uniform(10, 50, n).astype(np.float32)
    np.savez(isolated / "data" / f"{module}.npz", x=x, y=y)
    (x_train, y_train), (x_test, y_test) = getattr(datasets, module).load_data(**kwargs)
    if kwargs.get("version") == "small":
        x, y, n = x[:600], y[:600], 600
    order = np.random.RandomState(kwargs.get("seed", 113)).permutation(n)
    cut = int(n * (1 - kwargs.get("test_split", 0.2)))
    np.testing.assert_array_equal(x_train, x[order[:cut]])
    np.testing.assert_array_equal(x_test, x[order[cut:]])
    np.testing.assert_array_equal(y_train, y[order[:cut]])
    np.testing.assert_array_equal(y_test, y[order[cut:]])
    assert x_train.dtype == np.float64 and y_train.dtype == np.float32 and y_test.shape == (n - cut,)


def test_housing_arguments_checked(isolated):
    for module in (datasets.boston_housing, datasets.california_housing):
        with pytest.raises(ValueError, match="test_split"):
            module.load_data(test_split=1.0)
    with pytest.raises(ValueError, match="version"):
        datasets.california_housing.load_data(version="medium")


def test_missing_file_error_says_where_to_put_it(isolated):
    with pytest.raises(datasets.DatasetDownloadError) as info:
        datasets.boston_housing.load_data()
    assert str(isolated / "data" / "boston_housing.npz") in str(info.value)
    assert "boston_housing.npz" in str(info.value) and "PYNN_DATA" in str(info.value)


# ------------------------------------------------------------------------------- the same arrays as Keras 3's
@pytest.fixture(scope="module")
def keras_datasets():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    from keras.src import datasets as kd
    from keras.src.datasets import (boston_housing, california_housing, cifar10, cifar100, imdb,  # noqa: F401
                                    reuters)
    return kd


def assert_same(ours, theirs):
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and x.shape == y.shape
            if x.dtype == object:
                assert [list(s) for s in x] == [list(s) for s in y]
            else:
                np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kwargs", [
    {}, {"num_words": 12}, {"num_words": 20, "skip_top": 4, "maxlen": 9, "seed": 5},
    {"oov_char": None, "num_words": 15}, {"start_char": None, "index_from": 0}, {"start_char": None},
    {"start_char": 7, "oov_char": 9, "index_from": 10, "maxlen": 10},
])
@pytest.mark.parametrize("name", ["imdb", "reuters"])
def test_text_same_as_keras(keras_datasets, imdb_file, reuters_file, monkeypatch, name, kwargs):
    module = getattr(keras_datasets, name)
    path = imdb_file[0] if name == "imdb" else reuters_file[0]
    monkeypatch.setattr(module, "get_file", lambda *a, **k: str(path))
    if name == "reuters":
        kwargs = dict(kwargs, test_split=0.3)
    assert_same(getattr(datasets, name).load_data(**kwargs), module.load_data(**kwargs))


def test_cifar100_same_as_keras(keras_datasets, isolated, cifar100_files, monkeypatch):
    as_py2_cifar_dir(isolated / "data" / "cifar-100-python", cifar100_files[0])
    monkeypatch.setattr(keras_datasets.cifar100, "get_file", lambda *a, **k: str(isolated / "data"))
    assert_same(datasets.cifar100.load_data("coarse"), keras_datasets.cifar100.load_data("coarse"))
    assert_same(datasets.cifar100.load_data(), keras_datasets.cifar100.load_data())


def test_cifar10_same_as_keras(keras_datasets, isolated, rng, monkeypatch):
    """Keras's cifar10 expects 10,000 images per training batch: fabricate the real sizes (30 MB)."""
    folder = isolated / "data" / "cifar-10-batches-py"
    files = {f"data_batch_{i}": cifar_batch(rng, 10000, {"labels": 10})[0] for i in range(1, 6)}
    files["test_batch"] = cifar_batch(rng, 10000, {"labels": 10})[0]
    as_py2_cifar_dir(folder, files)
    monkeypatch.setattr(keras_datasets.cifar10, "get_file", lambda *a, **k: str(isolated / "data"))
    ours, theirs = datasets.cifar10.load_data(), keras_datasets.cifar10.load_data()
    assert ours[0][0].shape == (50000, 32, 32, 3)
    assert_same(ours, theirs)


@pytest.mark.parametrize("name, kwargs", [
    ("boston_housing", {}), ("boston_housing", {"test_split": 0.35, "seed": 1}),
    ("california_housing", {}), ("california_housing", {"version": "small", "seed": 9, "test_split": 0.15}),
])
def test_housing_same_as_keras(keras_datasets, isolated, rng, monkeypatch, name, kwargs):
    features = 13 if name == "boston_housing" else 8
    path = isolated / "data" / f"{name}.npz"
    np.savez(path, x=rng.standard_normal((650, features)), y=rng.uniform(0, 5e5, 650))
    module = getattr(keras_datasets, name)
    monkeypatch.setattr(module, "get_file", lambda *a, **k: str(path))
    assert_same(getattr(datasets, name).load_data(**kwargs), module.load_data(**kwargs))
