"""Boston housing prices (506 districts, 13 features, prices in k$), as Keras returns them.

Keras's warning stands: one feature ("B") encodes an assumption about race; use this data set only to
illustrate that kind of problem. california_housing(version="small") is the suggested replacement.

`load_data(test_split=0.2, seed=113)` -> ((x_train, y_train), (x_test, y_test)): x float of shape (n, 13),
y float of shape (n,), shuffled with np.random.RandomState(seed) as in Keras. boston_housing.npz comes from
$PYNN_DATA, ~/.pynn/datasets/ or a checked download (pynn.datasets._files).
"""
from pynn.datasets import _regression

__all__ = ["load_data"]


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Load Boston housing: ((x_train, y_train), (x_test, y_test)) (see the module docstring)."""
    _regression.check_test_split(test_split)
    x, y = _regression.read_xy("boston_housing.npz", path)
    return _regression.split(x, y, test_split, seed)
