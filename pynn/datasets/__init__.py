"""Data sets in Keras's format: `pynn.datasets.mnist.load_data()`."""
from pynn.datasets import mnist

__all__ = ["mnist"]
