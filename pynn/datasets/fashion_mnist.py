"""Fashion-MNIST (Zalando's 28x28 grayscale images of 10 kinds of clothing), as Keras returns it.

`load_data()` -> ((x_train, y_train), (x_test, y_test)): x uint8 of shape (60000, 28, 28) and (10000, 28, 28),
y uint8 labels 0..9 of shape (60000,) and (10000,). Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress,
4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.

The four gzipped IDX files (train-labels-idx1-ubyte.gz, train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz) are looked for in a `fashion-mnist/` directory under $PYNN_DATA, then under
~/.pynn/datasets/ (Keras's cache, ~/.keras/datasets, has the same layout), and downloaded from Keras's source
with checksum verification when absent. See pynn.datasets._files.
"""
from pynn.datasets import _files
from pynn.datasets.mnist import read_idx

__all__ = ["load_data"]

_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def load_data():
    """Load Fashion-MNIST: ((x_train, y_train), (x_test, y_test)), uint8 arrays (see the module docstring)."""
    y_train, x_train, y_test, x_test = (read_idx(_files.get_file("fashion-mnist/" + name)) for name in _FILES)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"Fashion-MNIST {split} images {x.shape} do not match labels {y.shape}")
    return (x_train, y_train), (x_test, y_test)
