"""The tutorial CNN on real MNIST (issue 4): Conv 32 3x3 relu - MaxPool - Conv 64 3x3 relu - MaxPool - Flatten -
Dense 128 relu - Dense 10 softmax, Adam, batch 64.

What it asserts: after 2 epochs on all 60,000 training images (about 30 s on 2 cores), accuracy >= 98% on
the 10,000-image test set, and the loss falls between the epochs. With this seed the run reaches 98.57%
(issue 4's goal is >= 98.5%); the assertion leaves a margin so that a change in summation order elsewhere
does not fail it. Skipped when real MNIST is absent.
"""
import numpy as np

import pynn
from pynn import layers


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


def test_tutorial_cnn_reaches_98_percent_in_two_epochs_on_real_mnist(real_mnist):
    x, y, xt, yt = real_mnist
    x, xt = x[..., None].astype(np.float32) / 255, xt[..., None].astype(np.float32) / 255
    pynn.utils.set_random_seed(0)
    model = tutorial_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    loss, accuracy = model.evaluate(xt, yt, verbose=0)
    assert accuracy >= 0.98, f"test accuracy {accuracy:.4f} after 2 epochs on 60,000 images"
    assert history.history["loss"][1] < history.history["loss"][0]
