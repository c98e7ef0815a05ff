"""Data sets in Keras's format: `pynn.datasets.mnist.load_data()`, and likewise fashion_mnist, cifar10,
cifar100, imdb, reuters, boston_housing and california_housing, each with Keras 3's arguments, shapes, dtypes
and shuffling.

Files are looked for in $PYNN_DATA, then ~/.pynn/datasets/, then downloaded from Keras's sources into the
latter with checksum verification (see pynn.datasets._files); a failed download raises DatasetDownloadError
(an OSError) saying where to put the file by hand.
"""
from pynn.datasets import (boston_housing, california_housing, cifar10, cifar100, fashion_mnist, imdb, mnist,
                           reuters)
from pynn.datasets._files import DatasetDownloadError
from pynn.datasets.mnist import SampleDataWarning

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing",
           "california_housing", "DatasetDownloadError", "SampleDataWarning"]
