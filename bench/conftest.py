"""Shared setup for the benchmarks: every peer runs with pynn's thread count, in the same process."""
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


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["pynn"] = {"threads": pynn.get_num_threads(), "isa": pynn._C.get_isa(),
                           "numpy": np.__version__, "torch": None if torch is None else torch.__version__}
