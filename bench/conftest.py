"""Shared setup for the benchmarks: every peer runs with pynn's thread count, in the same process."""
import os
import time
from pathlib import Path

import numpy as np
import pytest

import pynn

try:
    import torch
except ImportError:  # PyTorch is an optional peer
    torch = None


@pytest.fixture(scope="session", autouse=True)
def _same_threads_for_every_peer():
    if torch is not None:
        torch.set_num_threads(pynn.get_num_threads())
    yield


# NumPy's OpenBLAS threads keep spinning for ~0.1 s after a product (so do other runtimes' thread pools,
# more briefly). A peer timed inside that window shares its cores with them: pynn's W2 conv1 forward took
# 0.96 ms right after the test's own NumPy reference product and 0.43 ms 0.3 s later. Every timed run
# therefore starts after a pause long enough for the pools to go to sleep.
IDLE_BEFORE_TIMING_S = 0.3


@pytest.fixture(autouse=True)
def _other_thread_pools_idle_before_timing(request):
    if "benchmark" in request.fixturenames:
        bench = request.getfixturevalue("benchmark")
        pedantic = bench.pedantic

        def idle_then_pedantic(*args, **kwargs):
            time.sleep(IDLE_BEFORE_TIMING_S)
            return pedantic(*args, **kwargs)
        bench.pedantic = idle_then_pedantic
    yield


MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def raw_mnist():
    """MNIST as load_data() gives it (uint8 images, labels as int64): ../shared/data/mnist when present,
    else pynn's usual search (PYNN_DATA, ~/.pynn, download, the bundled sample)."""
    if MNIST_DIR.is_dir():
        os.environ.setdefault("PYNN_DATA", str(MNIST_DIR))
    (x, y), (xt, yt) = pynn.datasets.mnist.load_data()
    return x, y.astype(np.int64), xt, yt.astype(np.int64)


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["pynn"] = {"threads": pynn.get_num_threads(), "isa": pynn._C.get_isa(),
                           "numpy": np.__version__, "torch": None if torch is None else torch.__version__}
