"""Writes the Keras fixture files that tests/test_keras_import.py reads (run with Keras 3 installed):

    KERAS_BACKEND=torch python tests/data/keras/make_fixtures.py

For each model below: <name>.keras (model.save), <name>.weights.h5 (model.save_weights) and <name>.expected.npz
(the fixed input "x" and Keras's prediction "y"). The weights are random (seeded), BatchNormalization's moving
statistics included, so that every weight matters in the prediction. Produced with keras 3.15.1 on torch.
"""
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
from keras import layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def dense_bn():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.BatchNormalization(),
                              layers.Dropout(0.5), layers.Dense(3, activation="softmax")])
    return model, np.random.default_rng(1).standard_normal((4, 6)).astype("float32")


def conv():
    model = keras.Sequential([keras.Input((8, 8, 2)), layers.Conv2D(3, 3, padding="same", activation="relu"),
                              layers.MaxPooling2D(), layers.DepthwiseConv2D(3, depth_multiplier=2),
                              layers.SeparableConv2D(2, 1), layers.Conv2DTranspose(2, 2, strides=2),
                              layers.BatchNormalization(), layers.Flatten(), layers.Dense(2)])
    return model, np.random.default_rng(2).standard_normal((3, 8, 8, 2)).astype("float32")


def rnn():
    model = keras.Sequential([keras.Input((5,), dtype="int32"), layers.Embedding(12, 4),
                              layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
                              layers.GRU(3, return_sequences=True), layers.GRU(3, reset_after=False,
                                                                              return_sequences=True),
                              layers.SimpleRNN(2), layers.Dense(1)])
    return model, np.random.default_rng(3).integers(0, 12, (4, 5)).astype("int32")


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    weights = []
    for layer in model.layers:
        for variable in layer.weights:
            value = rng.standard_normal(tuple(variable.shape)).astype("float32") * 0.5
            if "variance" in variable.path:
                value = np.abs(value) + 0.5
            weights.append(value)
    model.set_weights(weights)


def main():
    for seed, make in enumerate((dense_bn, conv, rnn)):
        model, x = make()
        randomize(model, seed)
        name = make.__name__
        model.save(os.path.join(HERE, f"{name}.keras"))
        model.save_weights(os.path.join(HERE, f"{name}.weights.h5"))
        np.savez(os.path.join(HERE, f"{name}.expected.npz"), x=x, y=model.predict(x, verbose=0))
        print(name, [layer.name for layer in model.layers])


if __name__ == "__main__":
    main()
