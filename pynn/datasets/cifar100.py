"""CIFAR-100: 50,000 training and 10,000 test 32x32 colour images in 100 classes (20 superclasses), as Keras
returns them.

`load_data(label_mode="fine")` -> ((x_train, y_train), (x_test, y_test)): x uint8, channels last, of shape
(50000, 32, 32, 3) and (10000, 32, 32, 3); y of shape (50000, 1) and (10000, 1), the 100 fine classes
(label_mode="fine") or the 20 coarse superclasses (label_mode="coarse"). Like Keras 3's, whose documentation
says uint8, the labels come as NumPy's default integer (int64 on Linux), as Keras actually returns them.
Where the files come from: pynn.datasets.cifar.
"""
import numpy as np

from pynn.datasets.cifar import read_batches

__all__ = ["load_data"]


def load_data(label_mode="fine"):
    """Load CIFAR-100: ((x_train, y_train), (x_test, y_test)) (see the module docstring)."""
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'`label_mode` must be one of "fine", "coarse". Received: label_mode={label_mode}.')
    (x_train, y_train), (x_test, y_test) = read_batches("cifar-100-python.tar.gz", "cifar-100-python",
                                                        ("train", "test"), f"{label_mode}_labels")
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    return (x_train.transpose(0, 2, 3, 1), y_train), (x_test.transpose(0, 2, 3, 1), y_test)
