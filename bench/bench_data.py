"""W2 fed three ways: the same CNN epoch (10,000 MNIST images, batch 64) from in-memory arrays, from a
PyDataset that makes each batch from the raw uint8 images (scaling to float32 as a loader would), and from a
Python generator doing the same. The goal: the streamed epochs within 10% of the in-memory one, since their
batches are made in the background while the C++ step runs. The in-memory fit is the baseline of this
group; bench_cnn.py has W2 against NumPy and PyTorch.

    pytest bench/bench_data.py --benchmark-only --benchmark-json=bench/results/data.json
"""
import math

import numpy as np
import pytest

import pynn
from bench_cnn import pynn_cnn

N_TRAIN, BATCH = 10000, 64


class MnistBatches(pynn.utils.PyDataset):
    """Batches of raw uint8 images scaled to float32 in __getitem__, in a shuffled order chosen by fit."""

    def __init__(self, images, labels, **kwargs):
        super().__init__(**kwargs)
        self.images, self.labels = images, labels

    def __len__(self):
        return math.ceil(len(self.images) / BATCH)

    def __getitem__(self, index):
        rows = slice(index * BATCH, (index + 1) * BATCH)
        return self.images[rows, ..., None].astype(np.float32) / 255, self.labels[rows]


def generated_batches(images, labels, rng):
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(images), BATCH):
            rows = np.sort(order[start:start + BATCH])
            yield images[rows, ..., None].astype(np.float32) / 255, labels[rows]


@pytest.mark.parametrize("source", ["arrays", "pydataset", "generator"])
def test_w2_epoch_by_data_source(benchmark, raw_mnist, source):
    x, y, xt, yt = raw_mnist
    images, labels = x[:N_TRAIN], y[:N_TRAIN]
    benchmark.group = "W2 CNN epoch by data source (10k MNIST images, batch 64)"
    pynn.utils.set_random_seed(0)
    model = pynn_cnn()
    if source == "arrays":
        x_train = images[..., None].astype(np.float32) / 255
        benchmark.pedantic(lambda: model.fit(x_train, labels, batch_size=BATCH, epochs=1, verbose=0),
                           rounds=3, iterations=1)
    elif source == "pydataset":
        data = MnistBatches(images, labels)
        benchmark.pedantic(lambda: model.fit(data, epochs=1, verbose=0), rounds=3, iterations=1)
    else:
        stream = generated_batches(images, labels, np.random.default_rng(0))
        steps = math.ceil(N_TRAIN / BATCH)
        benchmark.pedantic(lambda: model.fit(stream, steps_per_epoch=steps, epochs=1, verbose=0),
                           rounds=3, iterations=1)
    accuracy = model.evaluate(xt[..., None].astype(np.float32) / 255, yt, verbose=0)[1]
    benchmark.extra_info["test_accuracy"] = accuracy
    assert accuracy >= 0.95, f"{source}: test accuracy {accuracy:.4f} after its epochs"
