"""Where pynn's data sets come from: one search, cache and download helper shared by every loader.

A file is looked for, first match wins, in
    1. the directory named by $PYNN_DATA,
    2. ~/.pynn/datasets/ (the cache),
each under the data set's subdirectory when it has one (Fashion-MNIST: ``fashion-mnist/``, as in Keras's cache,
so PYNN_DATA=~/.keras/datasets finds Keras's downloads too). With no copy, it is downloaded from the address
Keras uses into the cache, checked against its known checksum, and only then put in place: the download goes
to a temporary file beside the target, which is renamed onto the target once complete and verified, and is
removed on any failure (network error, truncated transfer, checksum mismatch, Ctrl-C), so the cache never
holds a partial or unverified file. A failed download raises DatasetDownloadError, whose message says where
to put the file by hand.

Files found locally are used as they are (not checksummed), so a copy of one's own, in the same format, works.
"""
import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["DatasetDownloadError", "SOURCES", "get_file", "search_dirs", "cache_dir"]

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DOWNLOAD_TIMEOUT_S = 30

# Each file pynn can download: its path in the cache (subdirectory/name) -> (address, checksum). The checksum
# is SHA-256 (64 hex digits) where Keras gives one; Keras publishes only MD5 (32 digits) for the two word
# indices and none for Fashion-MNIST, whose MD5s are those published by Zalando with the data set. Tests
# replace entries to serve fabricated files from a local server.
SOURCES = {
    "mnist.npz": (ORIGIN + "mnist.npz",
                  "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
    "fashion-mnist/train-labels-idx1-ubyte.gz": (ORIGIN + "train-labels-idx1-ubyte.gz",
                                                 "25c81989df183df01b3e8a0aad5dffbe"),
    "fashion-mnist/train-images-idx3-ubyte.gz": (ORIGIN + "train-images-idx3-ubyte.gz",
                                                 "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": (ORIGIN + "t10k-labels-idx1-ubyte.gz",
                                                "bb300cfdad3c16e7a12a480ee83cd310"),
    "fashion-mnist/t10k-images-idx3-ubyte.gz": (ORIGIN + "t10k-images-idx3-ubyte.gz",
                                                "bef4ecab320f06d8554ea6380940ec79"),
    "cifar-10-python.tar.gz": ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                               "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),
    "cifar-100-python.tar.gz": ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                                "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"),
    "imdb.npz": (ORIGIN + "imdb.npz",
                 "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"),
    "imdb_word_index.json": (ORIGIN + "imdb_word_index.json", "bfafd718b763782e994055a2d397834f"),
    "reuters.npz": (ORIGIN + "reuters.npz",
                    "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"),
    "reuters_word_index.json": (ORIGIN + "reuters_word_index.json", "4d44cc38712099c9e383dc6e5f11a921"),
    "boston_housing.npz": (ORIGIN + "boston_housing.npz",
                           "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"),
    "california_housing.npz": (ORIGIN + "california_housing.npz",
                               "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"),
}

_ALGORITHMS = {64: "sha256", 32: "md5"}


class DatasetDownloadError(OSError):
    """A data set file is nowhere on this machine and could not be downloaded (or failed its checksum)."""


def cache_dir():
    """~/.pynn/datasets: where downloads go."""
    return Path.home() / ".pynn" / "datasets"


def search_dirs():
    """The directories searched for data, in order: $PYNN_DATA (when set), then ~/.pynn/datasets."""
    dirs = []
    if os.environ.get("PYNN_DATA"):
        dirs.append(Path(os.environ["PYNN_DATA"]).expanduser())
    dirs.append(cache_dir())
    return dirs


def file_hash(path, algorithm="sha256"):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _places(relative):
    return [str(directory / relative) for directory in search_dirs()]


def _help(url, relative, alternatives):
    places = " or ".join(_places(relative))
    text = f"Download {url} yourself and save it as {places}"
    if alternatives:
        text += f" ({alternatives})"
    return text + "; a directory named by $PYNN_DATA is searched first."


def get_file(source, fname=None, alternatives=None):
    """The local path of a data set file, downloading it into the cache when there is no copy.

    Args:
        source: a key of SOURCES, e.g. "imdb.npz" or "fashion-mnist/train-labels-idx1-ubyte.gz".
        fname: the name to look for and to save as, in place of the key's own (Keras's `path` argument of
            load_data). A path to an existing file (absolute or with a directory) is returned as it is.
        alternatives: words added to the error message, naming other files that would also do.

    Raises:
        DatasetDownloadError (an OSError): no copy, and the download failed or gave a file whose checksum
            is not the expected one; no file is left behind either way. Its message says where to put
            the file by hand.
    """
    url, checksum = SOURCES[source]
    subdir, _, own_name = source.rpartition("/")
    name = os.fspath(fname) if fname is not None else own_name
    if os.sep in name or (os.altsep and os.altsep in name):
        given = Path(name).expanduser()
        if given.is_file():
            return given
        raise ValueError(f"{name!r}: no such file. Give the name of a file (e.g. {own_name!r}) to be looked "
                         f"for in $PYNN_DATA and ~/.pynn/datasets/, or the path of an existing file")
    relative = Path(subdir) / name if subdir else Path(name)
    for directory in search_dirs():
        if (directory / relative).is_file():
            return directory / relative
    target = cache_dir() / relative
    _download(url, target, checksum, _help(url, relative, alternatives))
    return target


def _download(url, target, checksum, help_text):
    """Download url to target through a temporary file; verify the checksum; rename. No file left on failure."""
    algorithm = _ALGORITHMS.get(len(checksum))
    if algorithm is None:
        raise ValueError(f"checksum for {url} is neither SHA-256 nor MD5: {checksum!r}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetDownloadError(f"Cannot create the cache directory {target.parent} ({error}). "
                                   f"{help_text}") from error
    import urllib.error
    import urllib.request  # here, not at the top: it costs 40 ms of `import pynn` (http, ssl, email)

    print(f"Downloading data from {url}", flush=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                expected = response.headers.get("Content-Length") if hasattr(response, "headers") else None
                received = 0
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    received += len(block)
            if expected is not None and expected.isdigit() and received != int(expected):
                raise DatasetDownloadError(f"the transfer stopped after {received} of {expected} bytes")
        except DatasetDownloadError as error:
            raise DatasetDownloadError(f"Could not download {url}: {error}. {help_text}") from None
        except Exception as error:  # URLError, HTTPError, timeouts, http.client.IncompleteRead, ...
            if isinstance(error, urllib.error.HTTPError):
                error.close()  # it holds the server's open response
            raise DatasetDownloadError(f"Could not download {url} ({type(error).__name__}: {error}). "
                                       f"{help_text}") from error
        digest = file_hash(tmp, algorithm)
        if digest != checksum:
            raise DatasetDownloadError(
                f"The file downloaded from {url} is corrupt or not the expected one: its {algorithm.upper()} is "
                f"{digest}, expected {checksum}. It was not kept. Try again later, or: {help_text}")
        os.chmod(tmp, 0o644)  # mkstemp made it private; a cache file is readable like any download
        os.replace(tmp, target)
    finally:  # on any error, Ctrl-C included, the partial download goes
        if os.path.exists(tmp):
            os.unlink(tmp)
