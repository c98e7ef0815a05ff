"""pynn.datasets.mnist: the real shared MNIST, IDX parsing (gzipped or not, corrupt files) and the bundled sample."""
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from pynn.datasets import mnist

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_shared = pytest.mark.skipif(not (SHARED_MNIST / "train-labels-idx1-ubyte.gz").is_file(),
                                  reason=f"no MNIST copy at {SHARED_MNIST}")


@pytest.fixture
def no_sources(monkeypatch, tmp_path):
    """Empty $PYNN_DATA and HOME, and a download that fails at once."""
    (tmp_path / "data").mkdir()
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("PYNN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(mnist.urllib.request, "urlopen", refuse)
    return tmp_path


@needs_shared
def test_real_mnist_from_pynn_data(monkeypatch):
    monkeypatch.setenv("PYNN_DATA", str(SHARED_MNIST))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    assert set(np.unique(y_train)) == set(range(10)) and set(np.unique(y_test)) == set(range(10))
    assert x_train.max() == 255 and x_train.min() == 0
    assert abs(x_train.mean() - 33.318) < 0.01  # MNIST's well-known training-set mean


@needs_shared
def test_gz_and_plain_idx_read_the_same(tmp_path):
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(SHARED_MNIST / (name + ".gz"), "rb") as src, open(tmp_path / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
        np.testing.assert_array_equal(mnist.read_idx(tmp_path / name), mnist.read_idx(SHARED_MNIST / (name + ".gz")))


@needs_shared
def test_plain_idx_directory(tmp_path, monkeypatch):
    """A directory of ungzipped IDX files loads like the gzipped one."""
    for name in mnist._IDX_FILES.values():
        with gzip.open(SHARED_MNIST / (name + ".gz"), "rb") as src, open(tmp_path / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    monkeypatch.setenv("PYNN_DATA", str(tmp_path))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_test.shape == (10000,)


def _idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + np.array(dims, dtype=">u4").tobytes() + bytes(data)


def test_read_idx_small(tmp_path):
    (tmp_path / "a").write_bytes(_idx([2, 3], range(6)))
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "a"), np.arange(6, dtype=np.uint8).reshape(2, 3))


@pytest.mark.parametrize("content, message", [
    (_idx([2, 3], range(6))[:-1], "holds 5"),                  # truncated data
    (_idx([4], range(4)) + b"\0", "holds 5"),                  # trailing bytes
    (b"\x01\x02" + _idx([2], range(2))[2:], "magic"),          # bad magic
    (bytes([0, 0, 0x0D, 1]) + _idx([1], [0])[4:], "type byte"),  # float data
    (bytes([0, 0, 8, 3, 0, 0]), "truncated IDX header"),
])
def test_read_idx_corrupt_names_the_file(tmp_path, content, message):
    path = tmp_path / "broken-idx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        mnist.read_idx(path)
    assert "broken-idx" in str(info.value)


def test_read_idx_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(_idx([100], range(100)))[:-12])
    with pytest.raises(ValueError, match="cut.gz"):
        mnist.read_idx(path)


def test_npz_in_pynn_data(no_sources):
    x = np.zeros((3, 28, 28), np.uint8)
    y = np.array([1, 2, 3], np.uint8)
    np.savez(no_sources / "data" / "mnist.npz", x_train=x, y_train=y, x_test=x[:1], y_test=y[:1])
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (3, 28, 28) and list(y_train) == [1, 2, 3] and x_test.shape == (1, 28, 28)


def test_home_cache_used(no_sources):
    cache = no_sources / "home" / ".pynn" / "datasets"
    cache.mkdir(parents=True)
    x = np.ones((2, 28, 28), np.uint8)
    np.savez(cache / "mnist.npz", x_train=x, y_train=np.zeros(2, np.uint8), x_test=x, y_test=np.zeros(2, np.uint8))
    (x_train, _), _ = mnist.load_data()
    assert x_train.shape == (2, 28, 28)


def test_bad_checksum_rejected(no_sources, monkeypatch):
    import io

    monkeypatch.setattr(mnist.urllib.request, "urlopen", lambda *a, **k: io.BytesIO(b"not mnist"))
    with pytest.warns(RuntimeWarning, match="SHA-256"):
        (x_train, _), _ = mnist.load_data()
    assert x_train.shape == (6000, 28, 28)
    assert not (no_sources / "home" / ".pynn" / "datasets" / "mnist.npz").exists()


def _check_sample(data):
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (6000, 28, 28) and y_train.shape == (6000,)
    assert x_test.shape == (1000, 28, 28) and y_test.shape == (1000,)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))
    assert list(np.bincount(y_train, minlength=10)) == [600] * 10
    assert list(np.bincount(y_test, minlength=10)) == [100] * 10
    # real digits, not noise: MNIST's pixel statistics (mean 33.3, std 78.6, ~19% of pixels lit)
    assert 31 < x_train.mean() < 36 and 76 < x_train.std() < 81
    assert 0.17 < (x_train > 0).mean() < 0.21
    # digits sit in the centre: the top two rows are almost empty
    assert x_train[:, :2, :].mean() < 0.5 and x_train[:, 10:18, 10:18].mean() > 60


def test_bundled_sample_when_nothing_else(no_sources):
    with pytest.warns(RuntimeWarning, match="bundled sample"):
        data = mnist.load_data()
    _check_sample(data)


@needs_shared
def test_sample_flag_forces_sample(monkeypatch):
    monkeypatch.setenv("PYNN_DATA", str(SHARED_MNIST))
    _check_sample(mnist.load_data(sample=True))


def test_sample_is_installed_with_the_package():
    assert mnist.SAMPLE.is_file() and mnist.SAMPLE.stat().st_size < 3_000_000
