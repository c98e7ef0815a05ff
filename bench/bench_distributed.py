"""Data-parallel training (pynn.distributed) against one process: samples/s of W1 and W2, and the allreduce share.

    python bench/bench_distributed.py [--workloads W1 W2] [--repeats 3] [--json bench/results/distributed.json]

On this machine's cores it compares, in alternating runs (the machine's load drifts):
  1 process x T threads   (OMP_NUM_THREADS=T, T = the cores; the usual single-process run)
  T ranks x 1 thread      (mpirun -n T, OMP_NUM_THREADS=1, each rank on its 1/T shard, DistributedOptimizer)
W1: one epoch of the tutorial MLP (784-128-64-10, dropout 0.2, Adam) on 60k MNIST images, batch 32 per process.
W2: one epoch of the tutorial CNN (bench_cnn.py) on 10k MNIST images, batch 64 per process.
Each rank keeps the workload's batch (Horovod's weak scaling: T ranks step on T x batch samples at once), so
the throughputs compare the same per-process work. Rank 0's time in the gradient averaging is split in two
shares of the epoch: waiting for the slowest rank (a barrier the bench adds before each averaging; load
imbalance, which a busy machine makes large) and the averaging itself (packing, MPI_Allreduce, division).
Needs mpi4py and mpirun (pip install "pynn[mpi]") and MNIST ($PYNN_DATA, or ../shared/data/mnist). Run as a
script, not by pytest; figures in bench/README.md.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"


def _worker(workload):
    """Runs in each process: one warm-up batch, then one timed epoch; rank 0 prints a JSON line."""
    import numpy as np

    import pynn
    from pynn import distributed as dist, layers
    from pynn.distributed import collectives

    dist.init()
    rank, size = dist.rank(), dist.size()
    spent = [0.0, 0.0, 0]       # waiting for the other ranks, averaging, calls
    average = collectives.average_arrays

    def timed_average(group, *args):
        start = time.perf_counter()
        if not os.environ.get("BENCH_NO_BARRIER"):
            group.comm.Barrier()    # the wait for the slowest rank, timed apart from the communication
        ready = time.perf_counter()
        out = average(group, *args)
        spent[0] += ready - start
        spent[1] += time.perf_counter() - ready
        spent[2] += 1
        return out
    collectives.average_arrays = timed_average

    pynn.utils.set_random_seed(1 + rank)
    (x, y), _ = pynn.datasets.mnist.load_data()
    if workload == "W1":
        x = x.reshape(len(x), 784).astype(np.float32) / 255
        batch = 32
        model = pynn.Sequential([
            layers.Input(shape=(784,)), layers.Dense(128, activation="relu"), layers.Dropout(0.2),
            layers.Dense(64, activation="relu"), layers.Dropout(0.2), layers.Dense(10, activation="softmax")])
    else:
        x, y = x[:10000, ..., None].astype(np.float32) / 255, y[:10000]
        batch = 64
        model = pynn.Sequential([
            layers.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
            layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")])
    x, y = dist.shard(x), dist.shard(y)
    model.compile(optimizer=dist.DistributedOptimizer("adam"), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)      # warm-up: plans, buffers
    spent[:] = [0.0, 0.0, 0]
    dist.barrier()
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    elapsed = time.perf_counter() - start
    if rank == 0:
        gradients = sum(w.value.nbytes for w in model.trainable_weights)
        print(json.dumps({"workload": workload, "ranks": size, "threads": pynn.get_num_threads(),
                          "samples": len(x) * size, "epoch_s": elapsed, "samples_per_s": len(x) * size / elapsed,
                          "wait_s": spent[0], "allreduce_s": spent[1], "allreduces": spent[2],
                          "wait_share": spent[0] / elapsed, "allreduce_share": spent[1] / elapsed,
                          "gradient_bytes": gradients, "loss": history.history["loss"][0]}), flush=True)


def _run(command, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    if "PYNN_DATA" not in env and MNIST.is_dir():
        env["PYNN_DATA"] = str(MNIST)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", nargs="+", default=["W1", "W2"], choices=["W1", "W2"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--json", default=None, help="write every run's figures here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    launcher = shutil.which("mpirun")
    if launcher is None:
        sys.exit("bench_distributed: needs mpirun and mpi4py (pip install \"pynn[mpi]\")")
    me = [sys.executable, str(Path(__file__).resolve())]
    mpirun = [launcher, "--allow-run-as-root", "--oversubscribe", "-n", str(args.cores)]
    runs = []
    for workload in args.workloads:
        for repeat in range(args.repeats):
            for name, command, threads in (("1 process", me, args.cores), (f"{args.cores} ranks", mpirun + me, 1)):
                figures = _run(command + ["--worker", workload], threads)
                runs.append(figures)
                print(f"{workload} {name:>9} x {figures['threads']} thread(s): {figures['epoch_s']:6.2f} s, "
                      f"{figures['samples_per_s']:8.0f} samples/s, waiting {figures['wait_share']:6.1%}, "
                      f"allreduce {figures['allreduce_share']:6.1%} "
                      f"({figures['allreduces']} calls, {figures['gradient_bytes'] / 1e6:.2f} MB each)",
                      flush=True)
        one = [r["samples_per_s"] for r in runs if r["workload"] == workload and r["ranks"] == 1]
        many = [r["samples_per_s"] for r in runs if r["workload"] == workload and r["ranks"] > 1]
        print(f"{workload}: {args.cores} ranks / 1 process, best of {args.repeats}: {max(many) / max(one):.2f}x; "
              f"median {sorted(many)[len(many) // 2] / sorted(one)[len(one) // 2]:.2f}x", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
