"""The examples that train on a downloadable data set (pynn.examples.imdb_lstm, cifar10_cnn), run through their
main() on small files fabricated here in the real formats (IMDB's npz of ragged object arrays; CIFAR's
Python 2 pickled batches in the distributed tar.gz), in a temporary $PYNN_DATA, with the network refused.

The fabricated tasks are learnable (a review's label is the polarity of the few sentiment words strewn among
filler words; an image's class is its colour under noise), and each example must do much better than chance
on the fabricated test split. With no copy and no download, each must stop with one paragraph saying which
file to put where, not a traceback (checked in-process and, for the traceback, in a subprocess).
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pynn.examples import cifar10_cnn, imdb_lstm
from test_datasets import isolated  # noqa: F401  (fixture: empty $PYNN_DATA and HOME, network refused)
from test_datasets_loaders import npz_bytes, py2_pickle, tar_gz

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------------ IMDB
POSITIVE, NEGATIVE, FILLER = range(5, 10), range(10, 15), range(20, 60)   # word ranks


def reviews(rng, n):
    """n reviews (an object array of lists of word ranks, as imdb.npz holds them) and their labels: 3 words of
    the review's polarity among 5 to 17 filler words."""
    texts, labels = [], rng.integers(0, 2, n)
    for label in labels:
        words = list(rng.choice(FILLER, rng.integers(5, 18)))
        for _ in range(3):
            words.insert(int(rng.integers(0, len(words) + 1)), rng.choice(POSITIVE if label else NEGATIVE))
        texts.append([int(w) for w in words])
    texts[1].append(int(FILLER[0]))      # two lengths differ: NumPy keeps a one-dimensional object array
    out = np.empty(n, dtype=object)
    out[:] = texts
    return out, labels


@pytest.fixture
def imdb_data(isolated):
    rng = np.random.default_rng(7)
    x_train, y_train = reviews(rng, 320)
    x_test, y_test = reviews(rng, 200)
    path = isolated / "data" / "imdb.npz"
    path.write_bytes(npz_bytes(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test))
    return path


IMDB_SMALL = ["--epochs", "8", "--num-words", "100", "--maxlen", "32", "--embedding-dim", "8", "--units", "8",
              "--batch-size", "16"]


def test_imdb_lstm_learns_on_fabricated_reviews(imdb_data, capsys):
    accuracy = imdb_lstm.main(IMDB_SMALL)
    out = capsys.readouterr().out
    assert "IMDB: 320 training and 200 test reviews, padded to 32 words" in out
    assert "bidirectional" in out.lower()                     # the summary lists the Bidirectional layers
    assert accuracy > 0.85, accuracy                          # chance: 0.5


def test_imdb_lstm_one_way_with_data_flag_and_samples(imdb_data, tmp_path, capsys, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    imdb_data.rename(elsewhere / "imdb.npz")
    accuracy = imdb_lstm.main(IMDB_SMALL + ["--lstm", "--samples", "300", "--data", str(elsewhere)])
    out = capsys.readouterr().out
    assert "IMDB: 300 training and 200 test reviews" in out and "bidirectional" not in out.lower()
    assert accuracy > 0.8, accuracy


def test_imdb_lstm_pads_like_keras(imdb_data):
    (x_train, y_train), (x_test, _) = imdb_lstm.load(num_words=12, maxlen=6)
    assert x_train.shape == (320, 6) and x_train.dtype == np.int32 and x_test.shape == (200, 6)
    assert y_train.shape == (320,)
    assert x_train.max() < 12 and (x_train == 2).any()        # words past num_words became oov_char 2
    # the last 6 words are kept; a sequence shorter than maxlen is padded with 0 in front
    assert np.all(x_train[:, -1] > 0)


# ----------------------------------------------------------------------------------------------------- CIFAR
PALETTE = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [128, 128, 128]])


def colour_images(rng, n):
    """n images of one of 4 colours under noise, as CIFAR rows of 3072 (red, green, blue planes), and labels."""
    labels = rng.integers(0, len(PALETTE), n)
    images = PALETTE[labels][:, None, None, :] + rng.integers(-50, 51, (n, 32, 32, 3))
    rows = np.clip(images, 0, 255).astype(np.uint8).transpose(0, 3, 1, 2).reshape(n, 3072)
    return rows, labels


def cifar_batch_pickle(rows, labels):
    return py2_pickle({b"batch_label": b"fabricated", b"labels": [int(v) for v in labels], b"data": rows,
                       b"filenames": [b"img_%d.png" % i for i in range(len(rows))]})


@pytest.fixture
def cifar_data(isolated):
    rng = np.random.default_rng(3)
    members = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        members[f"cifar-10-batches-py/{name}"] = cifar_batch_pickle(*colour_images(rng, 64))
    members["cifar-10-batches-py/batches.meta"] = py2_pickle({b"label_names": [c.encode() for c in
                                                                              cifar10_cnn.CLASSES]})
    path = isolated / "data" / "cifar-10-python.tar.gz"
    path.write_bytes(tar_gz(members))
    return path


def test_cifar10_cnn_learns_on_fabricated_images(cifar_data, capsys):
    accuracy = cifar10_cnn.main(["--epochs", "3", "--filters", "8", "--dense", "32", "--batch-size", "16"])
    out = capsys.readouterr().out
    assert "CIFAR-10: 320 training and 64 test images" in out
    assert "RandomFlip" in out and "RandomTranslation" in out
    assert accuracy > 0.6, accuracy                           # chance: 0.25 (4 colours), 0.1 over 10 classes


def test_cifar10_cnn_without_augmentation_and_samples(cifar_data, capsys):
    accuracy = cifar10_cnn.main(["--epochs", "3", "--filters", "8", "--dense", "32", "--batch-size", "16",
                                 "--no-augment", "--samples", "200"])
    out = capsys.readouterr().out
    assert "CIFAR-10: 200 training and 64 test images" in out and "RandomFlip" not in out
    assert accuracy > 0.6, accuracy


# ---------------------------------------------------------------------------------------- no data, no network
@pytest.mark.parametrize("example, file", [(imdb_lstm, "imdb.npz"), (cifar10_cnn, "cifar-10-python.tar.gz")])
def test_offline_without_data_says_how_to_get_it(isolated, example, file, capsys):
    with pytest.raises(SystemExit) as info:
        example.main(["--epochs", "1"])
    message = info.value.code
    assert isinstance(message, str) and "\n" not in message   # one paragraph, exit status 1
    assert message.startswith(example.__name__)
    assert "Download https://" in message and file in message
    assert str(isolated / "data" / file) in message                             # $PYNN_DATA's place
    assert str(isolated / "home" / ".pynn" / "datasets" / file) in message      # the cache's
    assert "PYNN_DATA" in message and "--data DIR" in message
    assert list((isolated / "home").rglob("*.part")) == []                      # no partial download left


def test_offline_run_prints_no_traceback(tmp_path):
    """python -m pynn.examples.imdb_lstm with no copy and the download refused (a proxy on a closed port)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "home").mkdir()
    env = dict(os.environ, PYNN_DATA=str(tmp_path / "data"), HOME=str(tmp_path / "home"),
               https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", no_proxy="", NO_PROXY="")
    result = subprocess.run([sys.executable, "-m", "pynn.examples.imdb_lstm"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "pynn.examples.imdb_lstm trains on the IMDB reviews" in result.stderr
    assert str(tmp_path / "data" / "imdb.npz") in result.stderr
