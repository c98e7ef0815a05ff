"""pynn.datasets: MNIST (the real shared copy, IDX parsing, gzipped or not, corrupt files, the bundled sample and
when it is used) and the shared search / cache / download helper, against a local HTTP server on 127.0.0.1:
a good file, a checksum mismatch, a truncated and an interrupted transfer (no file left behind), an HTTP
error, a cache hit (no second request), $PYNN_DATA first. The other loaders: test_datasets_loaders.py.
"""
import gzip
import hashlib
import http.server
import io
import shutil
import threading
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

import pynn
from pynn.datasets import _files, mnist

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_shared = pytest.mark.skipif(not (SHARED_MNIST / "train-labels-idx1-ubyte.gz").is_file(),
                                  reason=f"no MNIST copy at {SHARED_MNIST}")


@pytest.fixture
def no_sources(monkeypatch, tmp_path):
    """Empty $PYNN_DATA and HOME, no $PYNN_MNIST_SAMPLE, and a download that fails at once."""
    (tmp_path / "data").mkdir()
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("PYNN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    monkeypatch.delenv(mnist.SAMPLE_ENV, raising=False)

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return tmp_path


def cache_files(root):
    """Every file under the test's ~/.pynn/datasets, temporary ones included."""
    cache = root / "home" / ".pynn" / "datasets"
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


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
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: io.BytesIO(b"not mnist"))
    with pytest.warns(mnist.SampleDataWarning, match="SHA256 is [0-9a-f]{64}, expected 731c5ac6"):
        (x_train, _), _ = mnist.load_data()
    assert x_train.shape == (6000, 28, 28)
    assert cache_files(no_sources) == []


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
    with pytest.warns(mnist.SampleDataWarning) as record:
        data = mnist.load_data()
    _check_sample(data)
    assert len(record) == 1 and issubclass(record[0].category, RuntimeWarning)
    text = str(record[0].message)
    # says what it is, how big, why, where the real file goes, and how to refuse or choose the sample
    for words in ("small MNIST sample bundled with pynn", "6,000 training + 1,000 test", "60,000 + 10,000",
                  "network disabled in this test", str(no_sources / "data" / "mnist.npz"),
                  str(no_sources / "home" / ".pynn" / "datasets" / "mnist.npz"), "four IDX files",
                  "sample=False", "PYNN_MNIST_SAMPLE=never", "sample=True"):
        assert words in text, words
    assert record[0].filename == __file__  # points at the caller of load_data


@pytest.mark.parametrize("how", ["argument", "env"])
def test_sample_refused_raises_with_directions(no_sources, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv(mnist.SAMPLE_ENV, "never")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(pynn.datasets.DatasetDownloadError) as info:
            mnist.load_data(**({"sample": False} if how == "argument" else {}))
    assert isinstance(info.value, OSError)
    text = str(info.value)
    assert "Could not download https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in text
    assert str(no_sources / "data" / "mnist.npz") in text and "PYNN_DATA" in text
    assert cache_files(no_sources) == []


def test_sample_chosen_by_env_without_warning(no_sources, monkeypatch):
    monkeypatch.setenv(mnist.SAMPLE_ENV, "always")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_sample(mnist.load_data())


def test_sample_argument_beats_env_and_bad_values_rejected(no_sources, monkeypatch):
    x = np.zeros((3, 28, 28), np.uint8)
    y = np.zeros(3, np.uint8)
    np.savez(no_sources / "data" / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    monkeypatch.setenv(mnist.SAMPLE_ENV, "always")
    assert mnist.load_data(sample=False)[0][0].shape == (3, 28, 28)
    monkeypatch.setenv(mnist.SAMPLE_ENV, "sometimes")
    with pytest.raises(ValueError, match="PYNN_MNIST_SAMPLE"):
        mnist.load_data()
    with pytest.raises(TypeError):
        mnist.load_data(sample="yes")


def test_mnist_example_runs_offline_on_the_sample(no_sources, capsys):
    """The README's first command with no data and no network: trains on the sample, says so, and warns."""
    from pynn.examples import mnist_mlp

    with pytest.warns(mnist.SampleDataWarning, match="bundled with pynn"):
        accuracy = mnist_mlp.main(["--epochs", "1"])
    assert "MNIST: 6000 training and 1000 test images" in capsys.readouterr().out
    assert accuracy > 0.8


@needs_shared
def test_sample_flag_forces_sample(monkeypatch):
    monkeypatch.setenv("PYNN_DATA", str(SHARED_MNIST))
    _check_sample(mnist.load_data(sample=True))


def test_sample_is_installed_with_the_package():
    assert mnist.SAMPLE.is_file() and mnist.SAMPLE.stat().st_size < 3_000_000


# ------------------------------------------------------------------ the download helper, on a local server
class LocalServer:
    """Files served over HTTP from 127.0.0.1 by a test: files {name: bytes}, names in `truncate` sent half
    (with the full Content-Length), every request's name in `requests`."""

    def __init__(self, port):
        self.port = port
        self.files, self.truncate, self.requests = {}, set(), []

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def serve(self, key, content, name=None, checksum=None, monkeypatch=None):
        """Serve content as the source `key` of pynn.datasets._files.SOURCES, expected with its SHA-256
        (or the checksum given)."""
        name = name or key.replace("/", "_")
        self.files[name] = content
        monkeypatch.setitem(_files.SOURCES, key, (self.url(name), checksum or hashlib.sha256(content).hexdigest()))


@pytest.fixture
def http_server(monkeypatch):
    """A LocalServer in a thread, for this test only; it stops at the test's end, or after 120 s at most."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    state = None

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = 10

        def do_GET(self):
            name = self.path.lstrip("/")
            state.requests.append(name)
            body = state.files.get(name)
            if body is None:
                self.send_error(404, "no such file")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2] if name in state.truncate else body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = LocalServer(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    deadline = threading.Timer(120, server.shutdown)
    deadline.daemon = True
    deadline.start()
    try:
        yield state
    finally:
        deadline.cancel()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """$PYNN_DATA and HOME in tmp_path (both empty), the real network never used (the server's 127.0.0.1 is)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("PYNN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    monkeypatch.delenv(mnist.SAMPLE_ENV, raising=False)
    real_urlopen = urllib.request.urlopen

    def local_only(url, *args, **kwargs):
        if not str(url).startswith("http://127.0.0.1:"):
            raise OSError(f"test refuses to reach {url}")
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)
    return tmp_path


CONTENT = bytes(range(256)) * 5000  # 1.28 MB: more than one read block


def test_download_good_file_then_cache_hit(isolated, http_server, monkeypatch, capsys):
    http_server.serve("imdb.npz", CONTENT, monkeypatch=monkeypatch)
    path = _files.get_file("imdb.npz")
    assert path == isolated / "home" / ".pynn" / "datasets" / "imdb.npz"
    assert path.read_bytes() == CONTENT and cache_files(isolated) == ["imdb.npz"]
    assert http_server.requests == ["imdb.npz"]
    assert f"Downloading data from {http_server.url('imdb.npz')}" in capsys.readouterr().out
    assert _files.get_file("imdb.npz") == path
    assert http_server.requests == ["imdb.npz"]  # the cache answered the second call


def test_download_into_subdirectory_and_md5(isolated, http_server, monkeypatch):
    key = "fashion-mnist/t10k-labels-idx1-ubyte.gz"
    http_server.serve(key, CONTENT, checksum=hashlib.md5(CONTENT).hexdigest(), monkeypatch=monkeypatch)
    assert _files.get_file(key).read_bytes() == CONTENT
    assert cache_files(isolated) == [key]


def test_checksum_mismatch_raises_and_leaves_nothing(isolated, http_server, monkeypatch):
    http_server.serve("reuters.npz", CONTENT, checksum="0" * 64, monkeypatch=monkeypatch)
    with pytest.raises(_files.DatasetDownloadError) as info:
        _files.get_file("reuters.npz")
    text = str(info.value)
    assert f"SHA256 is {hashlib.sha256(CONTENT).hexdigest()}, expected {'0' * 64}" in text
    assert "not kept" in text and str(isolated / "data" / "reuters.npz") in text
    assert cache_files(isolated) == []
    # an MD5 checksum is named as such
    http_server.serve("reuters_word_index.json", b"{}", checksum="1" * 32, monkeypatch=monkeypatch)
    with pytest.raises(_files.DatasetDownloadError, match="MD5 is"):
        _files.get_file("reuters_word_index.json")
    assert cache_files(isolated) == []


def test_truncated_download_leaves_nothing(isolated, http_server, monkeypatch):
    http_server.serve("boston_housing.npz", CONTENT, monkeypatch=monkeypatch)
    http_server.truncate.add("boston_housing.npz")
    with pytest.raises(_files.DatasetDownloadError, match="Could not download") as info:
        _files.get_file("boston_housing.npz")
    assert str(isolated / "home" / ".pynn" / "datasets" / "boston_housing.npz") in str(info.value)
    assert cache_files(isolated) == []
    # once the server sends it whole, the download succeeds
    http_server.truncate.clear()
    assert _files.get_file("boston_housing.npz").read_bytes() == CONTENT


def test_truncated_download_even_without_content_length_fails_its_checksum(isolated, monkeypatch):
    monkeypatch.setitem(_files.SOURCES, "imdb.npz", ("http://127.0.0.1:1/imdb.npz",
                                                     hashlib.sha256(CONTENT).hexdigest()))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: io.BytesIO(CONTENT[:1000]))
    with pytest.raises(_files.DatasetDownloadError, match="corrupt"):
        _files.get_file("imdb.npz")
    assert cache_files(isolated) == []


def test_interrupted_download_leaves_nothing(isolated, http_server, monkeypatch):
    """Ctrl-C in the middle of the transfer: KeyboardInterrupt goes through and the partial file goes."""
    http_server.serve("imdb.npz", CONTENT, monkeypatch=monkeypatch)
    local_only = urllib.request.urlopen
    seen = []

    class Interrupted:
        def __init__(self, response):
            self.response, self.headers, self.reads = response, response.headers, 0

        def read(self, n):
            self.reads += 1
            if self.reads == 2:
                seen.append(cache_files(isolated))  # the first block is on disk, in a temporary file
                raise KeyboardInterrupt
            return self.response.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.response.close()

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Interrupted(local_only(*a, **k)))
    with pytest.raises(KeyboardInterrupt):
        _files.get_file("imdb.npz")
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0][0].endswith(".part") and "imdb.npz" in seen[0][0]
    assert cache_files(isolated) == []


def test_http_error_says_where_to_put_the_file(isolated, http_server, monkeypatch):
    monkeypatch.setitem(_files.SOURCES, "imdb.npz", (http_server.url("missing.npz"), "0" * 64))
    with pytest.raises(_files.DatasetDownloadError) as info:
        _files.get_file("imdb.npz")
    text = str(info.value)
    assert "404" in text and http_server.url("missing.npz") in text
    assert f"save it as {isolated / 'data' / 'imdb.npz'} or {isolated / 'home' / '.pynn' / 'datasets' / 'imdb.npz'}" in text
    assert cache_files(isolated) == []


def test_local_copies_come_first(isolated, http_server, monkeypatch):
    http_server.serve("imdb.npz", CONTENT, monkeypatch=monkeypatch)
    (isolated / "data" / "imdb.npz").write_bytes(b"mine")  # not checksummed: one's own copy is used as it is
    assert _files.get_file("imdb.npz") == isolated / "data" / "imdb.npz"
    cache = isolated / "home" / ".pynn" / "datasets"
    cache.mkdir(parents=True)
    (cache / "other.npz").write_bytes(b"other")
    assert _files.get_file("imdb.npz", fname="other.npz") == cache / "other.npz"
    own = isolated / "elsewhere.npz"
    own.write_bytes(b"x")
    assert _files.get_file("imdb.npz", fname=str(own)) == own
    with pytest.raises(ValueError, match="no such file"):
        _files.get_file("imdb.npz", fname=str(isolated / "absent.npz"))
    assert http_server.requests == []
    # a different name is downloaded under that name
    assert _files.get_file("imdb.npz", fname="renamed.npz") == cache / "renamed.npz"
    assert http_server.requests == ["imdb.npz"]


def test_mnist_downloaded_when_absent(isolated, http_server, monkeypatch):
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x, y_train=np.array([3, 4], np.uint8), x_test=x[:1], y_test=np.array([5], np.uint8))
    http_server.serve("mnist.npz", buffer.getvalue(), monkeypatch=monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    np.testing.assert_array_equal(x_train, x)
    assert list(y_train) == [3, 4] and list(y_test) == [5]
    assert cache_files(isolated) == ["mnist.npz"]
    mnist.load_data()
    assert http_server.requests == ["mnist.npz"]
