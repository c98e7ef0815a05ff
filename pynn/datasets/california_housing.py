"""California housing prices (20,640 block groups of the 1990 census, 8 features, prices in $), as Keras
returns them.

`load_data(version="large", test_split=0.2, seed=113)` -> ((x_train, y_train), (x_test, y_test)): x float of
shape (n, 8) (MedInc, HouseAge, AveRooms, AveBedrms, Population, AveOccup, Latitude, Longitude), y float of
shape (n,); version="small" keeps the first 600 rows. Shuffled with np.random.RandomState(seed) as in Keras.
california_housing.npz comes from $PYNN_DATA, ~/.pynn/datasets/ or a checked download (pynn.datasets._files).
"""
from pynn.datasets import _regression

__all__ = ["load_data"]


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Load California housing: ((x_train, y_train), (x_test, y_test)) (see the module docstring)."""
    _regression.check_test_split(test_split)
    if version not in ("small", "large"):
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. Received: version={version}")
    x, y = _regression.read_xy("california_housing.npz", path)
    if version == "small":
        x, y = x[:600], y[:600]
    return _regression.split(x, y, test_split, seed)
