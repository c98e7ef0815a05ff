"""The tutorial CNN on real MNIST (issue 4): Conv 32 3x3 relu - MaxPool - Conv 64 3x3 relu - MaxPool - Flatten -
Dense 128 relu - Dense 10 softmax, Adam, batch 64.

What it asserts: after 2 epochs on all 60,000 training images (about 30 s on 2 cores), accuracy >= 98% on
the 10,000-image test set, and the loss falls between the epochs. With this seed the run reaches 98.57%
(issue 4's goal is >= 98.5%); the assertion leaves a margin so that a change in summation order elsewhere
does not fail it. Skipped when real MNIST is absent.
"""
import os
from pathlib import Path

import numpy as np
import pytest

import pynn
from pynn import layers

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def tutorial_cnn():
    return pynn.Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def load_mnist_images():
    if not MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    old = os.environ.get("PYNN_DATA")
    os.environ["PYNN_DATA"] = str(MNIST_DIR)
    try:
        (x, y), (xt, yt) = pynn.datasets.mnist.load_data()
    finally:
        if old is None:
            os.environ.pop("PYNN_DATA")
        else:
            os.environ["PYNN_DATA"] = old
    return (x[..., None].astype(np.float32) / 255, y, xt[..., None].astype(np.float32) / 255, yt)


def test_tutorial_cnn_reaches_98_percent_in_two_epochs_on_real_mnist():
    x, y, xt, yt = load_mnist_images()
    pynn.utils.set_random_seed(0)
    model = tutorial_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    loss, accuracy = model.evaluate(xt, yt, verbose=0)
    assert accuracy >= 0.98, f"test accuracy {accuracy:.4f} after 2 epochs on 60,000 images"
    assert history.history["loss"][1] < history.history["loss"][0]
