"""pynn.distributed: a no-op in one process; under `mpirun -n 2`, the same training as one process on both halves.

The single-process tests never initialize MPI in pytest's process (they hide mpi4py): init() then makes a group
of one. The two-rank tests run tests/distributed_worker.py under mpirun in a subprocess with a timeout, and
skip when mpi4py or mpirun is missing (`pip install "pynn[mpi]"` brings both).
"""
import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import pynn
from pynn import distributed as dist
from pynn import layers
from pynn.distributed import _runtime
from pynn.distributed.collectives import Buckets

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "distributed_worker.py"


@pytest.fixture
def alone(monkeypatch):
    """A single process with no mpi4py and no MPI launcher around it; leaves pynn.distributed uninitialized."""
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    for name in _runtime._LAUNCHER_SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    dist.shutdown()
    yield
    dist.shutdown()


def _data(rows=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 10)).astype("float32"), rng.integers(0, 4, rows)


def _model(seed=5, dropout=False):
    pynn.utils.set_random_seed(seed)
    body = [layers.Input(shape=(10,)), layers.Dense(16, activation="tanh")]
    body += [layers.Dropout(0.3)] if dropout else []
    return pynn.Sequential(body + [layers.Dense(4, activation="softmax")])


def _fit(optimizer, **kwargs):
    x, y = _data()
    model = _model(dropout=kwargs.pop("dropout", False))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_split=0.25, **kwargs)
    return model, history.history


# ---------------------------------------------------------------------------------------------- one process
@pytest.mark.parametrize("make", [lambda: pynn.optimizers.Adam(0.01),
                                  lambda: pynn.optimizers.SGD(0.1, momentum=0.9, clipnorm=0.5),
                                  lambda: pynn.optimizers.RMSprop(0.01, global_clipnorm=1.0)])
def test_single_process_is_a_no_op(alone, make):
    plain, plain_history = _fit(make(), dropout=True)
    wrapped, wrapped_history = _fit(dist.DistributedOptimizer(make()), dropout=True)
    assert wrapped.optimizer.replicas is None
    assert plain_history == wrapped_history
    for a, b in zip(plain.get_weights(), wrapped.get_weights()):
        assert np.array_equal(a, b)
    dist.init()                   # a group of one: still the wrapped optimizer exactly
    assert (dist.rank(), dist.size(), dist.local_rank(), dist.local_size()) == (0, 1, 0, 1)
    again, again_history = _fit(dist.DistributedOptimizer(make()), dropout=True)
    assert again_history == plain_history
    dist.barrier()


def test_hand_written_loop_no_op(alone):
    x, y = _data(32)
    results = []
    for optimizer in (pynn.optimizers.Adam(0.01), dist.DistributedOptimizer(pynn.optimizers.Adam(0.01))):
        model = _model()
        model(x[:1])
        loss_fn = pynn.losses.SparseCategoricalCrossentropy()
        for step in range(3):
            with pynn.GradientTape() as tape:
                loss = loss_fn(y[step * 8:(step + 1) * 8], model(x[step * 8:(step + 1) * 8], training=True))
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
        results.append(model.get_weights())
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_wrapper_shares_state_saves_and_pickles_as_the_wrapped_optimizer(alone, tmp_path):
    inner = pynn.optimizers.Adam(0.01, beta_1=0.8)
    opt = dist.DistributedOptimizer(inner)
    assert isinstance(opt, pynn.optimizers.Adam) and dist.is_distributed(opt) and not dist.is_distributed(inner)
    assert dist.DistributedOptimizer(opt) is opt
    assert opt.get_config() == inner.get_config()
    assert "DistributedOptimizer(Adam)" in repr(opt)
    inner.learning_rate = 0.5                       # one state for both
    assert opt.learning_rate == 0.5
    model, _ = _fit(opt)
    assert inner.iterations == opt.iterations == 10     # 72 rows in batches of 16, 2 epochs
    model.save(tmp_path / "m.keras")
    loaded = pynn.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is pynn.optimizers.Adam and loaded.optimizer.iterations == 10
    again = dist.load_model(tmp_path / "m.keras")
    assert dist.is_distributed(again.optimizer) and again.optimizer.iterations == 10
    copy = pickle.loads(pickle.dumps(model))
    assert dist.is_distributed(copy.optimizer) and copy.optimizer.iterations == 10
    assert len(copy.optimizer.variables) == len(opt.variables)
    assert dist.is_distributed(dist.DistributedOptimizer("sgd"))
    with pytest.raises(ValueError, match="bucket_bytes"):
        dist.DistributedOptimizer("sgd", bucket_bytes=0)


def test_functions_alone(alone):
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="init"):
        dist.rank()
    out = dist.allreduce(np.arange(3))
    assert out.dtype == np.float64 and out.tolist() == [0, 1, 2]
    assert dist.allreduce(np.arange(3), average=False).dtype.kind == "i"
    a = np.ones(3, np.float32)
    b = dist.broadcast(a)
    assert np.array_equal(a, b) and b is not a
    with pytest.raises(TypeError, match="numeric"):
        dist.allreduce(np.array(["a"]))
    dist.broadcast_weights(_model())                # nothing to do alone


def test_shard():
    x = np.arange(22).reshape(11, 2)
    parts = [dist.shard(x, rank=r, size=3) for r in range(3)]
    assert [len(p) for p in parts] == [3, 3, 3]       # the 2 rows left over are left out
    assert parts[1][:, 0].tolist() == [2, 8, 14] and parts[1].flags.c_contiguous
    both = dist.shard({"a": x, "b": x[:, 0]}, rank=2, size=3)
    assert both["b"].tolist() == [4, 10, 16]
    assert isinstance(dist.shard([x, x], rank=0, size=2), list)
    assert dist.shard(x, rank=0, size=1) is x
    with pytest.raises(ValueError, match="rank"):
        dist.shard(x, rank=3, size=3)
    with pytest.raises(ValueError, match="fewer"):
        dist.shard(x[:2], rank=0, size=3)


def test_buckets_pack_in_order_aligned_and_within_the_limit():
    shapes = [(3, 5), (7,), (2, 2), (100,), (1,)]
    dtypes = ["float32", "float32", "float64", "float32", "float64"]
    plan = Buckets(shapes, dtypes, bucket_bytes=256)
    arrays = [np.full(s, k + 1, d) for k, (s, d) in enumerate(zip(shapes, dtypes))]
    plan.pack(arrays)
    for (index, view), array in zip(plan.places, arrays):
        assert view.shape == array.shape and view.dtype == array.dtype and np.array_equal(view, array)
        assert view.ctypes.data % 64 == 0
    assert all(b.dtype in (np.float32, np.float64) for b in plan.buffers)
    assert len({b.dtype for b in plan.buffers}) == 2
    for buffer in plan.buffers:          # over the limit only for a single array larger than it
        members = [a for (i, _), a in zip(plan.places, arrays) if plan.buffers[i] is buffer]
        assert buffer.nbytes <= 256 or len(members) == 1
    for earlier, later in zip(plan.places, plan.places[1:]):     # in the given order within a bucket
        if earlier[0] == later[0]:
            assert earlier[1].ctypes.data < later[1].ctypes.data
    out = [np.empty_like(a) for a in arrays]
    plan.unpack(out)
    assert all(np.array_equal(a, b) for a, b in zip(arrays, out))


def test_buckets_adopt_gradient_buffers_and_pack_copies_only_the_others():
    from pynn.variable import Variable
    variables = [Variable(np.zeros(s, np.float32)) for s in [(3, 4), (5,), (2, 2)]]
    for k, v in enumerate(variables):
        v.grad[...] = k + 1
    grads = [v.grad for v in variables]
    plan = Buckets([g.shape for g in grads], [g.dtype for g in grads])
    plan.adopt(variables, grads)
    for (_, view), v, k in zip(plan.places, variables, range(3)):
        assert v.grad is view and np.all(view == k + 1)      # the gradient lives in its bucket, values kept
    v0 = variables[0]
    v0.zero_grad()
    v0.grad[...] = 7                                          # a backward pass writes straight into the bucket
    assert np.all(plan.places[0][1] == 7)
    v0.grad = np.full((3, 4), 9, np.float32)                  # rebound by someone else: pack copies it again
    plan.pack([v.grad for v in variables])
    assert np.all(plan.places[0][1] == 9) and np.all(plan.places[1][1] == 2)


def test_init_without_mpi4py_under_a_launcher_says_what_to_install(alone, monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    with pytest.raises(ImportError, match=r"pynn\[mpi\]"):
        dist.init()
    model = _model()
    model.compile(optimizer=dist.DistributedOptimizer("sgd"), loss="sparse_categorical_crossentropy")
    x, y = _data(16)
    with pytest.raises(RuntimeError, match="init"):      # training alone among others would diverge silently
        model.fit(x, y, verbose=0)


def test_pynn_imports_and_trains_without_mpi4py():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import numpy as np, pynn\n"
            "from pynn import distributed as dist\n"
            "dist.init(); assert dist.size() == 1\n"
            "m = pynn.Sequential([pynn.layers.Input(shape=(3,)), pynn.layers.Dense(2)])\n"
            "m.compile(optimizer=dist.DistributedOptimizer('adam'), loss='mse')\n"
            "m.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)\n"
            "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k not in _runtime._LAUNCHER_SIZE_VARIABLES}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    result = subprocess.run([sys.executable, "-c", "import sys, pynn; print('mpi4py' in sys.modules)"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_only_file_writing_callbacks_are_rank_0_only():
    cbs = pynn.callbacks
    assert cbs.ModelCheckpoint.rank_0_only and cbs.CSVLogger.rank_0_only and cbs.TensorBoard.rank_0_only
    assert cbs.BackupAndRestore.rank_0_only
    assert not cbs.EarlyStopping.rank_0_only and not cbs.ReduceLROnPlateau.rank_0_only
    assert not cbs.Callback.rank_0_only and not cbs.History.rank_0_only


def test_rank_seeds_derive_from_rank_0s():
    from pynn.distributed.functions import _rank_seed
    assert _rank_seed(12345, 0) == 12345
    seeds = [_rank_seed(12345, r) for r in range(1, 5)] + [_rank_seed(12346, 1)]
    assert len(set(seeds)) == 5 and 12345 not in seeds and all(0 <= s < 2 ** 64 for s in seeds)
    assert _rank_seed(12345, 3) == seeds[2]


class _ThreadRanks:
    """Ranks simulated by threads: sum() adds up what every thread passes (in rank order), as MPI's allreduce."""

    def __init__(self, size):
        self.size = size
        self.parts = [None] * size
        self.barrier = threading.Barrier(size, timeout=60)
        self.local = threading.local()

    def sum(self, array, what=""):
        self.parts[self.local.rank] = array.copy()
        self.barrier.wait()
        total = self.parts[0].copy()
        for part in self.parts[1:]:
            total += part
        self.barrier.wait()
        array[...] = total
        return array

    def run(self, fn, *per_rank):
        """fn(rank, *its arguments) on one thread per rank; their results in rank order."""
        results, errors = [None] * self.size, []

        def body(rank):
            self.local.rank = rank
            try:
                results[rank] = fn(rank, *[args[rank] for args in per_rank])
            except BaseException as e:      # noqa: BLE001  (re-raised in the test's thread)
                errors.append(e)
                self.barrier.abort()
        threads = [threading.Thread(target=body, args=(r,)) for r in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results


@pytest.mark.parametrize("axis, shape", [(-1, (6, 4, 3)), (1, (6, 3, 5)), (-1, (8, 3))])
def test_sync_batch_normalization_over_ranks_is_one_batch_of_all(monkeypatch, axis, shape):
    """Ranks (threads here, through the same code as over MPI) each with part of a batch: the outputs, the
    moving statistics, the input gradients and the sum of the ranks' gamma / beta gradients are plain batch
    normalization's on the whole batch (float64, checked itself against finite differences)."""
    from pynn.layers import sync_batch_normalization as sync
    ranks = _ThreadRanks(2)
    monkeypatch.setattr(sync, "replicas", lambda: ranks)
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, size=shape)
    dy = rng.normal(size=shape)
    options = dict(axis=axis, momentum=0.7, epsilon=1e-2, dtype="float64")

    def make(cls, **extra):
        layer = cls(**options, **extra)
        layer.build_for(shape)
        for w, value in zip(layer.weights, reference_values):
            w.value[...] = value
        return layer
    features = shape[axis]
    reference_values = [rng.normal(size=features), rng.normal(size=features), rng.normal(size=features),
                        rng.uniform(0.5, 2.0, size=features)]
    plain = make(layers.BatchNormalization)
    y, ctx = plain.forward(x, training=True)
    dx = plain.backward(ctx, dy)
    synced = [make(layers.SyncBatchNormalization), make(layers.BatchNormalization, synchronized=True)]

    def step(rank, layer, xr, dyr):
        yr, ctx_r = layer.forward(xr, training=True)
        assert len(ctx_r) == 5                # the synchronized path
        return yr, layer.backward(ctx_r, dyr)
    half = shape[0] // 2
    out = ranks.run(step, synced, [x[:half], x[half:]], [dy[:half], dy[half:]])
    np.testing.assert_allclose(np.concatenate([o[0] for o in out]), y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([o[1] for o in out]), dx, rtol=1e-9, atol=1e-11)
    for layer in synced:
        np.testing.assert_allclose(layer.moving_mean.value, plain.moving_mean.value, rtol=1e-12)
        np.testing.assert_allclose(layer.moving_variance.value, plain.moving_variance.value, rtol=1e-12)
    for k in range(2):                        # gamma, beta: each rank's share, summed
        np.testing.assert_allclose(synced[0].weights[k].grad + synced[1].weights[k].grad, plain.weights[k].grad,
                                   rtol=1e-10, atol=1e-12)
    first = ranks.run(lambda rank, layer, xr: layer.backward_weights(layer.forward(xr, True)[1], dy[:half]),
                      synced, [x[:half], x[half:]])          # a model's first layer: no input gradient
    assert first == [None, None]


def test_sync_batch_normalization_alone_is_plain_batch_normalization(alone, tmp_path):
    from gradcheck import check_layer_gradients
    check_layer_gradients(layers.SyncBatchNormalization(dtype="float64", gamma_initializer="random_normal"),
                          np.random.default_rng(0).normal(size=(6, 3, 2)), training=True, rtol=1e-5, atol=1e-7)
    x = np.random.default_rng(1).normal(size=(32, 6, 6, 2)).astype("float32")
    y = np.random.default_rng(2).integers(0, 3, 32)
    results = []
    for norm in (lambda: layers.BatchNormalization(momentum=0.8),
                 lambda: layers.BatchNormalization(synchronized=True, momentum=0.8),
                 lambda: layers.SyncBatchNormalization(momentum=0.8)):
        pynn.utils.set_random_seed(4)
        model = pynn.Sequential([layers.Input(shape=(6, 6, 2)), layers.Conv2D(3, 3), norm(), layers.Flatten(),
                                 layers.Dense(3, activation="softmax")])
        model.compile(optimizer=dist.DistributedOptimizer(pynn.optimizers.Adam(0.01)),
                      loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        results.append(model)
    for model in results[1:]:
        for a, b in zip(results[0].get_weights(), model.get_weights()):
            assert np.array_equal(a, b)
    layer = results[2].layers[1]
    assert type(layer) is layers.SyncBatchNormalization and layer.synchronized
    config = layer.get_config()
    assert config["synchronized"] is True and config["momentum"] == 0.8
    clone = layers.SyncBatchNormalization.from_config(config)
    assert clone.synchronized and clone.get_config() == config
    assert not layers.SyncBatchNormalization(synchronized=False).synchronized
    results[2].save(tmp_path / "sync.keras")
    loaded = pynn.models.load_model(tmp_path / "sync.keras")
    assert type(loaded.layers[1]) is layers.SyncBatchNormalization and loaded.layers[1].synchronized
    assert type(results[1].layers[1]) is layers.BatchNormalization
    for a, b in zip(loaded.get_weights(), results[2].get_weights()):
        assert np.array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x[:4], verbose=0), results[2].predict(x[:4], verbose=0))


def test_set_distribution_data_parallel(alone):
    from pynn.distributed import data_parallel
    assert dist.distribution() is None
    with pytest.raises(TypeError, match="DataParallel"):
        dist.set_distribution("data_parallel")
    with pytest.raises(ValueError, match="bucket_bytes"):
        dist.DataParallel(bucket_bytes=0)
    strategy = dist.DataParallel(bucket_bytes=1 << 20)
    try:
        dist.set_distribution(strategy)
        assert dist.is_initialized() and dist.distribution() is strategy and strategy.num_replicas == 1
        wrapped = data_parallel.compile_optimizer(pynn.optimizers.Adam(0.01))
        assert dist.is_distributed(wrapped) and wrapped._distributed.bucket_bytes == 1 << 20
        dist.set_distribution(None)
        assert data_parallel.compile_optimizer(pynn.optimizers.Adam(0.01)).__class__ is pynn.optimizers.Adam
        with strategy.scope():
            assert dist.distribution() is strategy
        assert dist.distribution() is None
    finally:
        dist.set_distribution(None)


def test_compile_wraps_the_optimizer_under_data_parallel(alone):
    try:
        dist.set_distribution(dist.DataParallel())
        model = _model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        assert dist.is_distributed(model.optimizer)
    finally:
        dist.set_distribution(None)


# ---------------------------------------------------------------------------------------------- two ranks
def _mpirun():
    """The launcher command for 2 local ranks, or None when mpi4py or mpirun is missing."""
    if importlib.util.find_spec("mpi4py") is None:
        return None
    launcher = shutil.which("mpirun") or shutil.which("mpiexec")
    if launcher is None:
        return None
    version = subprocess.run([launcher, "--version"], capture_output=True, text=True, timeout=60)
    open_mpi = "Open MPI" in version.stdout + version.stderr or "OpenRTE" in version.stdout
    return [launcher] + (["--allow-run-as-root", "--oversubscribe"] if open_mpi else []) + ["-n", "2"]


def _run_ranks(mode, out, timeout, *arguments):
    command = _mpirun()
    if command is None:
        pytest.skip("needs mpi4py and mpirun (pip install \"pynn[mpi]\")")
    env = {k: v for k, v in os.environ.items() if k not in _runtime._LAUNCHER_SIZE_VARIABLES}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    start = time.monotonic()
    try:
        result = subprocess.run(command + [sys.executable, str(WORKER), mode, str(out), *arguments], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mpirun {mode} did not end within {timeout} s (a hang):\n{e.stdout}\n{e.stderr}")
    return result, time.monotonic() - start


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """tests/distributed_worker.py train, once for the module: its output directory and the mpirun result."""
    out = tmp_path_factory.mktemp("two_ranks")
    result, _ = _run_ranks("train", out, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result


def _weights(path):
    with np.load(path) as f:
        return [f[f"arr_{i}"] for i in range(len(f.files))]


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm", "bn"])
def test_two_ranks_train_as_one_process_on_both_halves(two_ranks, kind):
    import distributed_worker as worker
    out, _ = two_ranks
    ranks = [_weights(out / f"{kind}_rank{r}.npz") for r in range(2)]
    for a, b in zip(*ranks):
        assert np.array_equal(a, b)           # the same bits on both ranks
    logs = [json.loads((out / f"{kind}_rank{r}.json").read_text()) for r in range(2)]
    assert logs[0] == logs[1]                 # averaged logs: the same everywhere
    assert logs[0]["steps"] == 21 and logs[0]["mismatches"] == 0    # after the broadcast and every step
    assert logs[0]["grads_in_buckets"]        # backward writes the gradients where the allreduce reads them

    (x, y), (xv, yv) = worker.data(kind)
    model = worker.build(kind, seed=1)        # rank 0's initial weights (rank 1 started from others)
    model.compile(optimizer=worker.optimizer(kind), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=2 * worker.BATCH, epochs=2, shuffle=False, verbose=0,
                        validation_data=(xv, yv))
    assert model.optimizer.iterations == 20
    for one, two in zip(model.get_weights(), ranks[0]):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
    for key, values in history.history.items():
        np.testing.assert_allclose(logs[0]["history"][key], values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logs[0]["evaluate"], model.evaluate(xv, yv, verbose=0), rtol=1e-5, atol=1e-6)


def test_two_ranks_only_rank_0_prints_and_writes(two_ranks):
    out, result = two_ranks
    for kind in ("mlp", "cnn", "lstm", "bn"):
        assert (out / f"{kind}_log_rank0.csv").exists() and not (out / f"{kind}_log_rank1.csv").exists()
        assert (out / f"{kind}_ckpt_rank0.weights.npz").exists()
        assert not (out / f"{kind}_ckpt_rank1.weights.npz").exists()
    assert result.stdout.count("Epoch 1/2") == 4 and result.stdout.count("Epoch 2/2") == 4


def test_two_ranks_train_on_batch_and_hand_written_loops(two_ranks):
    out, _ = two_ranks
    for r in range(2):
        loops = json.loads((out / f"loops_rank{r}.json").read_text())
        assert loops["train_on_batch"] and loops["by_hand"]
        assert loops["allreduce"] == 3.0 and loops["size"] == 2 and loops["local_rank"] == r


def test_two_ranks_a_rank_raising_ends_the_job(tmp_path):
    result, elapsed = _run_ranks("crash", tmp_path, timeout=120)
    assert result.returncode != 0
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"
    assert "rank 1 fails on purpose" in result.stderr + result.stdout


def test_two_ranks_a_rank_leaving_with_sys_exit_ends_the_job(tmp_path):
    """sys.exit(3) on rank 1 mid-epoch (a SystemExit, which calls no excepthook): rank 0, waiting for it in the
    gradients' allreduce, must still end the job (non-zero) within 30 s, naming the rank that left."""
    result, elapsed = _run_ranks("exit", tmp_path, 120, "3")
    text = result.stderr + result.stdout
    assert result.returncode != 0, text
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"
    assert "rank 1 of 2 left the job" in text and "allreduce of the gradients" in text, text


def test_two_ranks_all_leaving_together_is_a_normal_end(tmp_path):
    result, elapsed = _run_ranks("exit_all", tmp_path, 120)
    text = result.stderr + result.stdout
    assert result.returncode == 0 and "left the job" not in text and "MPI_ABORT" not in text, text


def test_two_ranks_same_seed_reproduces_the_run_with_per_rank_random_streams(tmp_path):
    """The same seed (on both ranks, as scripts set it) gives the same bits, run after run, with dropout and
    shuffling; yet each rank draws its own dropout masks and global-stream numbers, as the two halves of one
    process's batch would (identical masks on every rank would correlate the ranks' noise)."""
    runs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        out.mkdir()
        result, _ = _run_ranks("repro", out, 300)
        assert result.returncode == 0, result.stdout + result.stderr
        runs.append([_weights(out / f"repro_rank{r}.npz") for r in range(2)])
    for r in range(2):
        for a, b in zip(runs[0][r], runs[1][r]):
            assert np.array_equal(a, b)       # run to run, bit for bit: weights, next mask and draw, losses
    weights, mask, draw = slice(0, 4), 4, 5
    for a, b in zip(runs[0][0][weights], runs[0][1][weights]):
        assert np.array_equal(a, b)           # and the same weights on both ranks
    assert not np.array_equal(runs[0][0][mask], runs[0][1][mask])
    assert not np.array_equal(runs[0][0][draw], runs[0][1][draw])


def test_two_ranks_backup_and_restore_resumes_as_the_uninterrupted_run(tmp_path):
    """BackupAndRestore writes on rank 0 only (a directory per rank shows who writes); a run interrupted
    mid-epoch (both ranks raise at the same step), run again, resumes every rank from rank 0's backup (rank 1
    has none) and ends with the bits of a run never interrupted; dropout and shuffling included, and rank 1's
    own seed differs."""
    result, _ = _run_ranks("backup", tmp_path, 300, "interrupted")
    assert result.returncode != 0 and "interrupted on purpose" in result.stderr + result.stdout
    assert (tmp_path / "backup_rank0").is_dir() and not (tmp_path / "backup_rank1").exists()
    for phase in ("resumed", "full"):
        result, _ = _run_ranks("backup", tmp_path, 300, phase)
        assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "backup_rank0").exists()         # deleted at the end of the completed fit
    histories = {phase: json.loads((tmp_path / f"backup_{phase}_rank0.json").read_text())
                 for phase in ("resumed", "full")}
    assert len(histories["resumed"]["loss"]) == 2 and len(histories["full"]["loss"]) == 4
    assert histories["resumed"]["loss"] == histories["full"]["loss"][2:]
    full = _weights(tmp_path / "backup_full_rank0.npz")
    for r in range(2):
        for a, b in zip(_weights(tmp_path / f"backup_resumed_rank{r}.npz"), full):
            assert np.array_equal(a, b)


def test_two_ranks_different_models_fail_at_the_first_broadcast(tmp_path):
    result, elapsed = _run_ranks("mismatch", tmp_path, timeout=120)
    text = result.stderr + result.stdout
    assert result.returncode != 0 and elapsed < 30
    assert "differ between ranks" in text and "(12, 17)" in text and "(12, 16)" in text, text


def test_distributed_mnist_example_reaches_one_process_accuracy(tmp_path):
    """python -m pynn.examples.distributed_mnist on the bundled MNIST sample, 2 epochs: 2 ranks and 1 process."""
    command = _mpirun()
    if command is None:
        pytest.skip("needs mpi4py and mpirun (pip install \"pynn[mpi]\")")
    env = {k: v for k, v in os.environ.items() if k not in _runtime._LAUNCHER_SIZE_VARIABLES}
    env.update(OMP_NUM_THREADS="1", PYNN_MNIST_SAMPLE="always", PYTHONPATH=str(ROOT))
    example = [sys.executable, "-m", "pynn.examples.distributed_mnist", "--epochs", "2"]
    accuracies = []
    for launch in (command, []):
        result = subprocess.run(launch + example, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = [line for line in result.stdout.splitlines() if line.startswith("Test accuracy:")]
        assert len(lines) == 1, result.stdout         # printed by rank 0 only
        accuracies.append(float(lines[0].split()[2]))
    assert accuracies[0] > 0.85 and abs(accuracies[0] - accuracies[1]) < 0.02, accuracies
