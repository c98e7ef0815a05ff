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
