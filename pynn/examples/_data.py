"""What the examples that train on a downloadable data set share: load it, or stop with a paragraph saying how
to get it (where to put which file, $PYNN_DATA) rather than a traceback."""
import os
import sys

from pynn.datasets import DatasetDownloadError


def use_data_dir(directory):
    """--data DIR: the same as PYNN_DATA=DIR, searched before ~/.pynn/datasets."""
    if directory:
        os.environ["PYNN_DATA"] = os.fspath(directory)


def load_or_exit(load, example, what):
    """load()'s result; when the data set is nowhere on this machine and cannot be downloaded, exit with
    status 1 and one paragraph naming the file to fetch and where to put it.

    example: the module run (e.g. "pynn.examples.imdb_lstm"); what: the data set, said for a person (e.g.
    "the IMDB reviews (imdb.npz, 17 MB)")."""
    try:
        return load()
    except DatasetDownloadError as error:
        sys.exit(f"{example} trains on {what}, which is not on this machine and could not be downloaded. "
                 f"{error} Or run with --data DIR (the same as PYNN_DATA=DIR) naming the directory that "
                 f"holds it.")
