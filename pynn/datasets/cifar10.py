"""CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes, as Keras returns them.

`load_data()` -> ((x_train, y_train), (x_test, y_test)): x uint8, channels last, of shape (50000, 32, 32, 3)
and (10000, 32, 32, 3); y uint8 of shape (50000, 1) and (10000, 1). Classes: 0 airplane, 1 automobile,
2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck. Where the files come from: pynn.datasets.cifar.
"""
import numpy as np

from pynn.datasets.cifar import read_batches

__all__ = ["load_data"]

_FOLDER = "cifar-10-batches-py"
_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


def load_data():
    """Load CIFAR-10: ((x_train, y_train), (x_test, y_test)), uint8 (see the module docstring)."""
    batches = read_batches("cifar-10-python.tar.gz", _FOLDER, _TRAIN + ("test_batch",), "labels")
    x_train = np.concatenate([data for data, _ in batches[:-1]]).astype(np.uint8, copy=False)
    y_train = np.concatenate([np.asarray(labels) for _, labels in batches[:-1]]).astype(np.uint8)
    x_test, y_test = batches[-1]
    y_train = y_train.reshape(len(y_train), 1)
    y_test = np.reshape(y_test, (len(y_test), 1)).astype(np.uint8)
    x_train = x_train.transpose(0, 2, 3, 1)
    x_test = x_test.transpose(0, 2, 3, 1).astype(np.uint8, copy=False)
    return (x_train, y_train), (x_test, y_test)
