"""The Keras 3-style examples: the VAE (custom layer, subclassed model, train_step / test_step, add_loss)
and the DCGAN (a hand-written loop with two GradientTapes), on a few real MNIST digits."""
import numpy as np
import pytest

import pynn
from pynn.examples import dcgan, vae


@pytest.fixture(autouse=True)
def _mnist(monkeypatch):
    import pathlib
    shared = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    if shared.is_dir():
        monkeypatch.setenv("PYNN_DATA", str(shared))


def test_vae_learns_to_reconstruct(capsys):
    model, history, test = vae.main(["--epochs", "3", "--samples", "1024", "--batch-size", "64"])
    rec = history["reconstruction_loss"]
    assert rec[-1] < 0.8 * rec[0]
    assert history["kl_loss"][-1] > 0 and set(test) == {"total_loss", "reconstruction_loss", "kl_loss"}
    assert "a grey image's reconstruction loss" in capsys.readouterr().out
    assert isinstance(model.sampling, vae.Sampling) and len(model.sampling.losses) == 1


def test_vae_kl_term_reaches_the_weights_through_add_loss():
    model = vae.VAE(latent_dim=2)
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    model.predict(x, verbose=0)
    with pynn.GradientTape() as tape:
        model(x, training=True)
        kl = model.compute_loss()
    grads = tape.gradient(kl, [model.z_mean.kernel, model.pixels.kernel])
    assert np.abs(grads[0]).sum() > 0          # the KL term depends on the encoder ...
    assert grads[1] is None                    # ... not on the decoder


def test_dcgan_hand_written_loop_trains_both_models():
    (x_train, _), _ = pynn.datasets.mnist.load_data()
    x = (x_train[:256, ..., None].astype(np.float32) - 127.5) / 127.5
    gan, history = dcgan.train(x, epochs=2, batch_size=32, log=None)
    d_loss, g_loss, acc = history[-1]
    assert np.isfinite(g_loss) and d_loss < 2 * np.log(2)      # better than a discriminator at chance
    before = dcgan.DCGAN().generate(200)
    after = gan.generate(200)
    real = x_train[:1000].reshape(-1, 784) / 255.0
    assert dcgan.pixel_statistics(after, real)["mean_image_distance"] < \
        dcgan.pixel_statistics(before, real)["mean_image_distance"]


def test_text_transformer_learns_the_fabricated_reviews():
    from pynn.examples import text_transformer
    model, history = text_transformer.main(["--fabricated", "--samples", "1500", "--maxlen", "60", "--vocab",
                                            "2000", "--epochs", "2"])
    assert history["val_accuracy"][-1] > 0.9
    blocks = [l for l in model.layers if isinstance(l, text_transformer.TransformerBlock)]
    assert len(blocks) == 1 and len(blocks[0].trainable_weights) == 16
