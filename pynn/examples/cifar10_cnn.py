"""A small CNN on CIFAR-10 with augmentation layers: Keras's cifar10_cnn example, the augmentation done in the
model.

    python -m pynn.examples.cifar10_cnn [--epochs 10] [--samples N] [--batch-size 32] [--no-augment]
                                        [--threads N] [--data DIR]

Keras's network: two 3x3 Conv2D of 32 filters (the first 'same', the second 'valid'), MaxPooling2D(2),
Dropout(0.25), the same with 64 filters, Flatten, Dense(512, relu), Dropout(0.5), Dense(10, softmax);
images scaled to [0, 1], sparse categorical cross-entropy, batch 32, the test images as validation data.
Keras's ImageDataGenerator (horizontal flips, shifts of up to 10% each way, nearest fill) becomes
RandomFlip("horizontal") and RandomTranslation(0.1, 0.1, fill_mode="nearest") at the model's input: they act
in training only, seeded, for about 6% of a step's time. Adam at 0.001 replaces Keras's RMSprop at 0.0001
so that a CPU run of a few epochs gets somewhere. `--samples N` trains and tests on the first N images of
each split, for a quick run.

The data come from pynn.datasets.cifar10: cifar-10-python.tar.gz or its extracted cifar-10-batches-py/ in
$PYNN_DATA (or --data DIR), in ~/.pynn/datasets, or downloaded there with checksum verification; with none
of those the example stops with a message saying where to put the file. An epoch over the 50,000 images takes about
2.5 min on two cores (measured on random images: 6 s per 2,048) and the validation pass 10 s. Its accuracy
on the real images is not stated here because it has not been measured: the machine it was written on has
no copy of CIFAR-10 and no network. It has run on fabricated files in the same format, where it learns
(tests/test_examples_data.py).
"""
import argparse
import time

import numpy as np

import pynn
from pynn import layers
from pynn.examples._data import load_or_exit, use_data_dir

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def build_model(augment=True, filters=32, dense=512):
    augmentation = [layers.RandomFlip("horizontal"),
                    layers.RandomTranslation(0.1, 0.1, fill_mode="nearest")] if augment else []
    return pynn.Sequential([
        layers.Input(shape=(32, 32, 3)),
        *augmentation,
        layers.Conv2D(filters, 3, padding="same", activation="relu"),
        layers.Conv2D(filters, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Conv2D(2 * filters, 3, padding="same", activation="relu"),
        layers.Conv2D(2 * filters, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(dense, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(len(CLASSES), activation="softmax"),
    ], name="cifar10_cnn")


def load(samples=None):
    """((x_train, y_train), (x_test, y_test)): float32 images in [0, 1], labels of shape (n, 1)."""
    (x_train, y_train), (x_test, y_test) = load_or_exit(
        pynn.datasets.cifar10.load_data, "pynn.examples.cifar10_cnn",
        "CIFAR-10 (cifar-10-python.tar.gz, 170 MB)")
    if samples:
        x_train, y_train, x_test, y_test = x_train[:samples], y_train[:samples], x_test[:samples], y_test[:samples]
    return (x_train.astype(np.float32) / 255, y_train), (x_test.astype(np.float32) / 255, y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=None, help="train and test on the first N images of each")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--filters", type=int, default=32, help="of the first convolutions (twice that after)")
    parser.add_argument("--dense", type=int, default=512, help="units of the hidden Dense layer")
    parser.add_argument("--no-augment", action="store_true", help="leave out the flips and shifts")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="directory holding cifar-10-python.tar.gz or "
                                                      "cifar-10-batches-py/ (as PYNN_DATA)")
    args = parser.parse_args(argv)
    use_data_dir(args.data)
    if args.threads:
        pynn.set_num_threads(args.threads)
    pynn.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = load(args.samples)
    print(f"CIFAR-10: {len(x_train)} training and {len(x_test)} test images")
    model = build_model(augment=not args.no_augment, filters=args.filters, dense=args.dense)
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_test, y_test))
    elapsed = time.perf_counter() - start
    accuracy = history.history["val_accuracy"][-1]
    print(f"Trained {args.epochs} epochs in {elapsed:.1f} s ({elapsed / args.epochs:.1f} s per epoch)")
    print(f"Test accuracy: {accuracy:.4f}  (test loss {history.history['val_loss'][-1]:.4f})")
    return accuracy


if __name__ == "__main__":
    main()
