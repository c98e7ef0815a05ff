"""A deep convolutional GAN on MNIST with a hand-written training loop: two GradientTapes per step, as in
Keras's DCGAN guide.

    python -m pynn.examples.dcgan [--epochs 3] [--samples 6400] [--batch-size 64] [--png dcgan_digits.png]

The generator maps 64 Gaussian numbers through Dense(7*7*64) and two stride-2 Conv2DTranspose layers
(LeakyReLU 0.2) to a 28 x 28 tanh image; the discriminator is Conv2D 32 and 64 with stride 2 (LeakyReLU 0.2),
Flatten, Dropout 0.2 and one logit. Each step draws noise, and inside one GradientTape per model computes the
discriminator's loss on real (label 1) and generated (label 0) digits and the generator's loss (the
discriminator's logits on its digits against label 1); `tape.gradient` and `optimizer.apply` then update
each model with its own Adam(0.0002, beta_1=0.5). No compile, no fit: the loop is the user's own.

It prints per epoch the two mean losses and the discriminator's accuracy on the step's real and generated
digits, then the pixel statistics of 1,000 generated digits against the real ones (mean intensity, inked
pixels > 0.5, RMS distance of the mean images; pure noise is at about 0.4). With --png and Pillow or
matplotlib installed it writes an 8 x 8 grid.
"""
import argparse
import time

import numpy as np

import pynn
from pynn import layers, ops
from pynn.examples.gan import pixel_statistics


def build_models(latent_dim=64):
    generator = pynn.Sequential([
        layers.Input((latent_dim,)),
        layers.Dense(7 * 7 * 64), layers.LeakyReLU(negative_slope=0.2), layers.Reshape((7, 7, 64)),
        layers.Conv2DTranspose(64, 4, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(32, 4, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, 5, padding="same", activation="tanh"),
    ], name="generator")
    discriminator = pynn.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(32, 4, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(64, 4, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(), layers.Dropout(0.2), layers.Dense(1),
    ], name="discriminator")
    return generator, discriminator


class DCGAN:
    """The models, their optimizers and one training step written with GradientTape."""

    def __init__(self, latent_dim=64, seed=0):
        self.latent_dim = latent_dim
        self.generator, self.discriminator = build_models(latent_dim)
        self.g_optimizer = pynn.optimizers.Adam(0.0002, beta_1=0.5)
        self.d_optimizer = pynn.optimizers.Adam(0.0002, beta_1=0.5)
        self.loss_fn = pynn.losses.BinaryCrossentropy(from_logits=True)
        self.seed_generator = pynn.random.SeedGenerator(seed)

    def train_step(self, real):
        n = len(real)
        noise = pynn.random.normal((n, self.latent_dim), seed=self.seed_generator)
        ones, zeros = np.ones((n, 1), np.float32), np.zeros((n, 1), np.float32)

        # The discriminator: real digits are 1, generated ones 0.
        fake = self.generator(noise)
        with pynn.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = self.loss_fn(ones, real_logits) + self.loss_fn(zeros, fake_logits)
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply(tape.gradient(d_loss, weights), weights)
        accuracy = 0.5 * (np.mean(ops.convert_to_numpy(real_logits) > 0) +
                          np.mean(ops.convert_to_numpy(fake_logits) < 0))

        # The generator: make the discriminator say 1 (only the generator's weights are updated).
        noise = pynn.random.normal((n, self.latent_dim), seed=self.seed_generator)
        with pynn.GradientTape() as tape:
            logits = self.discriminator(self.generator(noise, training=True), training=True)
            g_loss = self.loss_fn(ones, logits)
        weights = self.generator.trainable_weights
        self.g_optimizer.apply(tape.gradient(g_loss, weights), weights)
        return float(d_loss), float(g_loss), float(accuracy)

    def generate(self, n, seed=1):
        noise = pynn.random.normal((n, self.latent_dim), seed=seed)
        return (self.generator.predict(noise, verbose=0).reshape(n, 784) + 1) / 2


def train(x_train, epochs=3, batch_size=64, seed=0, log=print):
    pynn.utils.set_random_seed(seed)
    gan = DCGAN(seed=seed)
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x_train))
        logs = [gan.train_step(x_train[order[i:i + batch_size]])
                for i in range(0, len(order) - batch_size + 1, batch_size)]
        history.append(tuple(np.mean(logs, axis=0)))
        if log:
            d, g, acc = history[-1]
            log(f"Epoch {epoch + 1}/{epochs} ({len(logs)} steps, {time.perf_counter() - start:.0f} s) - "
                f"d_loss: {d:.4f} - g_loss: {g:.4f} - d_acc: {acc:.3f}")
    return gan, history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=6400)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--png", default="dcgan_digits.png")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        pynn.set_num_threads(args.threads)
    (x_train, _), (x_test, _) = pynn.datasets.mnist.load_data()
    x = (x_train[:args.samples, ..., None].astype(np.float32) - 127.5) / 127.5
    gan, history = train(x, args.epochs, args.batch_size)
    images = gan.generate(1000)
    stats = pixel_statistics(images, x_test.reshape(len(x_test), 784) / 255.0)
    print("generated digits: " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items()) +
          f" (real: mean {x_test.mean() / 255:.3f}, ink {(x_test > 127).mean():.3f})")
    if args.png:
        from pynn.examples.image_grid import save_grid
        written = save_grid(args.png, images[:64].reshape(8, 8, 28, 28))
        if written:
            print(f"wrote {args.png}")
    return gan, history, stats


if __name__ == "__main__":
    main()
