import os
from pathlib import Path

import numpy as np
import pytest

import pynn
from pynn import _C

ALL_ISAS = ["avx512", "avx2", "generic"]


@pytest.fixture(params=ALL_ISAS)
def isa(request):
    """Run the test once per instruction set, skipping those this CPU lacks; restores the previous one."""
    if request.param not in _C.supported_isas():
        pytest.skip(f"this CPU cannot run {request.param}")
    before = _C.get_isa()
    _C.set_isa(request.param)
    yield request.param
    _C.set_isa(before)


@pytest.fixture
def threads():
    """Set pynn's thread count inside a test; restores it after."""
    before = pynn.get_num_threads()
    yield pynn.set_num_threads
    pynn.set_num_threads(before)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def real_mnist():
    """Real MNIST from ../shared/data/mnist, loaded once per session: (x_train, y_train, x_test, y_test) as
    load_data() gives them (uint8 images of 28x28). Skips the test when the files are absent."""
    if not MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    old = os.environ.get("PYNN_DATA")
    os.environ["PYNN_DATA"] = str(MNIST_DIR)
    try:
        (x_train, y_train), (x_test, y_test) = pynn.datasets.mnist.load_data()
    finally:
        if old is None:
            os.environ.pop("PYNN_DATA")
        else:
            os.environ["PYNN_DATA"] = old
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="module")
def keras():
    """Keras 3 on its torch backend, the reference for Keras's behaviour (skips when not installed)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")
