"""CSVLogger: write each epoch's logs as a row of a CSV file."""
import collections.abc
import csv
import os

import numpy as np

from pynn.callbacks.callback import Callback


class CSVLogger(Callback):
    """Writes one row per epoch: "epoch" then the log keys in sorted order (a header first).

    The columns are fixed at the first epoch; when it has no "val_" keys, "val_<key>" columns are added for the
    epochs that do validate (validation_freq > 1). A missing value is written "NA".

    Args:
        filename: the CSV file.
        separator: the field separator (default ",").
        append: append to an existing file (no second header if it is not empty) instead of overwriting it.

    Example:
        >>> model.fit(x, y, epochs=5, callbacks=[CSVLogger("training.log")])
    """

    rank_0_only = True     # with several ranks (pynn.distributed), only rank 0 writes

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = self.separator = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as existing:
                    self.append_header = not bool(len(existing.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    @staticmethod
    def _handle_value(value):
        if isinstance(value, str):
            return value
        if isinstance(value, collections.abc.Iterable) and not (isinstance(value, np.ndarray) and value.ndim == 0):
            return f"\"[{', '.join(map(str, value))}]\""
        return value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend(["val_" + key for key in self.keys])
        if self.writer is None:
            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, self._handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None

    def get_config(self):
        return {"filename": self.filename, "separator": self.separator, "append": self.append}
