"""What each rank runs in tests/test_distributed.py, under `mpirun -n 2 python tests/distributed_worker.py MODE OUT`.

train:    fit an MLP, a small CNN, an LSTM and a CNN with synchronized batch normalization with a
          DistributedOptimizer on this rank's shard (rank 1 starts from other weights, which the broadcast must
          replace), checking after every step that both ranks hold the same bits; then a train_on_batch step and
          a hand-written GradientTape loop. Each rank writes OUT/<model>_rank<r>.npz (its weights and history)
          for the test to compare with one process.
crash:    rank 1 raises mid-epoch; the job must end (non-zero) instead of hanging.
exit N:   rank 1 leaves mid-epoch with sys.exit(N) (no exception hook runs); the job must end, non-zero.
exit_all: both ranks sys.exit(0) at the same step: a normal end (exit code 0), not an abort.
mismatch: rank 1 builds a wider layer; the first broadcast must fail with a clear error.
repro:    both ranks set the same seed and fit an MLP with dropout, shuffling; each writes its weights and the
          dropout mask and global-stream draw it makes next (OUT/repro_rank<r>.npz).
backup P: fit with BackupAndRestore (a directory per rank, so that the writer shows), P = interrupted (both ranks
          raise at epoch 2, batch 3), resumed (run again) or full (never interrupted, another directory).
"""
import hashlib
import json
import os
import sys

import numpy as np

import pynn
from pynn import distributed as dist
from pynn import layers

BATCH = 8           # per rank; the one-process reference uses 2 * BATCH
ROWS = 160          # 10 steps per epoch on each of 2 ranks, 2 epochs: 20 steps


def data(kind):
    """The full data set (every rank makes the same); ranks shard it."""
    rng = np.random.default_rng(7)
    if kind == "mlp":
        x = rng.normal(size=(ROWS + 32, 12)).astype("float32")
    elif kind in ("cnn", "bn"):
        x = rng.normal(size=(ROWS + 32, 8, 8, 1)).astype("float32")
    else:
        x = rng.normal(size=(ROWS + 32, 6, 3)).astype("float32")
    y = rng.integers(0, 3, len(x))
    return (x[:ROWS], y[:ROWS]), (x[ROWS:], y[ROWS:])


def build(kind, seed, wide=False):
    pynn.utils.set_random_seed(seed)
    if kind == "mlp":
        body = [layers.Input(shape=(12,)), layers.Dense(17 if wide else 16, activation="relu")]
    elif kind == "cnn":
        body = [layers.Input(shape=(8, 8, 1)), layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Flatten()]
    elif kind == "bn":      # batch statistics over both ranks' batches: as one process's batch of twice the size
        body = [layers.Input(shape=(8, 8, 1)), layers.Conv2D(4, 3, use_bias=False),
                layers.BatchNormalization(synchronized=True, momentum=0.8), layers.Activation("relu"),
                layers.MaxPooling2D(2), layers.Flatten(), layers.SyncBatchNormalization(momentum=0.5, epsilon=1e-2)]
    elif kind == "dropout":
        body = [layers.Input(shape=(12,)), layers.Dense(16, activation="relu"), layers.Dropout(0.5)]
    else:
        body = [layers.Input(shape=(6, 3)), layers.LSTM(5)]
    return pynn.Sequential(body + [layers.Dense(3, activation="softmax")])


def optimizer(kind):
    if kind == "cnn":
        return pynn.optimizers.Adam(0.01)
    # SGD for "bn": Adam scales each update by the gradient's own size, so where batch normalization makes a
    # gradient nearly zero (beta's, at times), float32 rounding becomes a whole step of lr
    return pynn.optimizers.SGD(0.1, momentum=0.9)


def digest(model):
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


class SameBitsEverywhere(pynn.callbacks.Callback):
    """After every step, compares the ranks' weights (and before the first one too)."""

    def __init__(self):
        super().__init__()
        self.steps = self.mismatches = 0

    def _check(self):
        digests = dist._group().comm.allgather(digest(self.model))
        self.steps += 1
        self.mismatches += len(set(digests)) != 1

    def on_train_batch_begin(self, batch, logs=None):
        if self.steps == 0:
            self._check()

    def on_train_batch_end(self, batch, logs=None):
        self._check()


def train(out):
    rank = dist.rank()
    for kind in ("mlp", "cnn", "lstm", "bn"):
        (x, y), (xv, yv) = data(kind)
        model = build(kind, seed=1 + 100 * rank)    # rank 1 starts elsewhere: fit's broadcast must fix that
        buckets = 256 if kind == "cnn" else 16 << 20        # the CNN's gradients in several buckets
        model.compile(optimizer=dist.DistributedOptimizer(optimizer(kind), bucket_bytes=buckets),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        checker = SameBitsEverywhere()
        callbacks = [checker, pynn.callbacks.CSVLogger(os.path.join(out, f"{kind}_log_rank{rank}.csv")),
                     pynn.callbacks.ModelCheckpoint(os.path.join(out, f"{kind}_ckpt_rank{rank}.weights.npz"),
                                                    save_weights_only=True, monitor="loss")]
        history = model.fit(dist.shard(x), dist.shard(y), batch_size=BATCH, epochs=2, shuffle=False, verbose=2,
                            validation_data=(dist.shard(xv), dist.shard(yv)), callbacks=callbacks)
        if rank == 0:       # evaluate makes no collective: one rank may run it alone
            model.evaluate(xv, yv, verbose=0)
        evaluated = dist.allreduce(model.evaluate(dist.shard(xv), dist.shard(yv), verbose=0)).tolist()
        buffers = [b for plan in model.optimizer._distributed.plans._plans.values() for b in plan.buffers]
        in_buckets = all(any(np.shares_memory(v.grad, b) for b in buffers) for v in model.trainable_weights)
        np.savez(os.path.join(out, f"{kind}_rank{rank}.npz"), *model.get_weights())
        with open(os.path.join(out, f"{kind}_rank{rank}.json"), "w") as f:
            json.dump({"history": history.history, "evaluate": evaluated, "steps": checker.steps,
                       "mismatches": checker.mismatches, "grads_in_buckets": in_buckets}, f)

    # train_on_batch (the GAN's loop): the first step after compile broadcasts rank 0's weights.
    (x, y), _ = data("mlp")
    model = build("mlp", seed=1 + 100 * rank)
    model.compile(optimizer=dist.DistributedOptimizer("adam"), loss="sparse_categorical_crossentropy")
    for step in range(3):
        model.train_on_batch(dist.shard(x)[step * BATCH:(step + 1) * BATCH],
                             dist.shard(y)[step * BATCH:(step + 1) * BATCH])
    on_batch = len(set(dist._group().comm.allgather(digest(model)))) == 1

    # A hand-written loop: the optimizer broadcasts variables it has not seen before their first update.
    model = build("mlp", seed=1 + 100 * rank)
    opt = dist.DistributedOptimizer(pynn.optimizers.SGD(0.05))
    xs, ys = dist.shard(x), dist.shard(y)
    loss_fn = pynn.losses.SparseCategoricalCrossentropy()
    for step in range(3):
        with pynn.GradientTape() as tape:
            loss = loss_fn(ys[step * BATCH:(step + 1) * BATCH], model(xs[step * BATCH:(step + 1) * BATCH],
                                                                        training=True))
        opt.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
    by_hand = len(set(dist._group().comm.allgather(digest(model)))) == 1
    summed = dist.allreduce(np.array([rank + 1.0]), average=False)
    with open(os.path.join(out, f"loops_rank{rank}.json"), "w") as f:
        json.dump({"train_on_batch": on_batch, "by_hand": by_hand, "allreduce": float(summed[0]),
                   "size": dist.size(), "local_rank": dist.local_rank()}, f)


class FailOnRank1(pynn.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if dist.rank() == 1 and batch == 3:
            raise RuntimeError("rank 1 fails on purpose")


def crash():
    (x, y), _ = data("mlp")
    model = build("mlp", seed=1)
    model.compile(optimizer=dist.DistributedOptimizer("sgd"), loss="sparse_categorical_crossentropy")
    model.fit(dist.shard(np.repeat(x, 50, axis=0)), dist.shard(np.repeat(y, 50)), batch_size=BATCH, epochs=1000,
              verbose=0, callbacks=[FailOnRank1()])


class ExitOnRank1(pynn.callbacks.Callback):
    def __init__(self, code, everyone=False):
        super().__init__()
        self.code, self.everyone = code, everyone

    def on_train_batch_end(self, batch, logs=None):
        if batch == 3 and (self.everyone or dist.rank() == 1):
            sys.exit(int(self.code))


def leave(code, everyone=False):
    (x, y), _ = data("mlp")
    model = build("mlp", seed=1)
    model.compile(optimizer=dist.DistributedOptimizer("sgd"), loss="sparse_categorical_crossentropy")
    model.fit(dist.shard(np.repeat(x, 50, axis=0)), dist.shard(np.repeat(y, 50)), batch_size=BATCH, epochs=1000,
              verbose=0, callbacks=[ExitOnRank1(code, everyone)])


def repro(out):
    rank = dist.rank()
    (x, y), _ = data("mlp")
    model = build("dropout", seed=3)       # the same seed on every rank, as scripts usually set it
    model.compile(optimizer=dist.DistributedOptimizer(pynn.optimizers.SGD(0.1, momentum=0.9)),
                  loss="sparse_categorical_crossentropy")
    history = model.fit(dist.shard(x), dist.shard(y), batch_size=BATCH, epochs=2, shuffle=True, verbose=0)
    dropout = model.layers[1]
    mask = dropout(np.ones((4, 16), "float32"), training=True)        # the next draws of the rank's streams
    draw = pynn.random.uniform((8,))
    np.savez(os.path.join(out, f"repro_rank{rank}.npz"), *model.get_weights(), mask, draw,
             np.array(history.history["loss"]))


class InterruptAt(pynn.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 2 and batch == 3:
            raise RuntimeError("interrupted on purpose, on every rank")


def backup(out, phase):
    rank = dist.rank()
    (x, y), _ = data("mlp")
    model = build("dropout", seed=11 + 100 * rank)      # rank 1's seed must not matter: rank 0's state counts
    model.compile(optimizer=dist.DistributedOptimizer(pynn.optimizers.Adam(0.01)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    where = os.path.join(out, f"{'full' if phase == 'full' else 'backup'}_rank{rank}")
    callbacks = [pynn.callbacks.BackupAndRestore(where)] + ([InterruptAt()] if phase == "interrupted" else [])
    history = model.fit(dist.shard(x), dist.shard(y), batch_size=BATCH, epochs=4, shuffle=True, verbose=0,
                        callbacks=callbacks)
    np.savez(os.path.join(out, f"backup_{phase}_rank{rank}.npz"), *model.get_weights())
    with open(os.path.join(out, f"backup_{phase}_rank{rank}.json"), "w") as f:
        json.dump(history.history, f)


def mismatch():
    (x, y), _ = data("mlp")
    model = build("mlp", seed=1, wide=dist.rank() == 1)
    model.compile(optimizer=dist.DistributedOptimizer("sgd"), loss="sparse_categorical_crossentropy")
    model.fit(dist.shard(x), dist.shard(y), batch_size=BATCH, epochs=100, verbose=0)


if __name__ == "__main__":
    dist.init()
    mode, arguments = sys.argv[1], sys.argv[2:]
    {"train": lambda: train(arguments[0]), "crash": crash, "mismatch": mismatch,
     "exit": lambda: leave(arguments[1]), "exit_all": lambda: leave(0, everyone=True),
     "repro": lambda: repro(arguments[0]), "backup": lambda: backup(arguments[0], arguments[1])}[mode]()
