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

    python bench/bench_distributed.py --scaling [--json bench/results/distributed_scaling.json]

is the scaling model on paper instead (one process, no MPI): it measures a training step's time on this machine
(a node: all its cores) for W1 and W2 at several batch sizes, fits t(b) = t0 + t1 b, measures the gradient's
bytes G and the local cost of packing and dividing it, and projects a ring allreduce of G over p nodes,
2 (p - 1) alpha + 2 (p - 1) / p G / B, to 8, 64 and 512 nodes on two networks (alpha, B: NETWORKS, assumed, not
measured), with the per-node batch at which a step spends >= 90% of its time computing (pynn averages the
gradients after the backward: no overlap). With OMP_NUM_THREADS=1 (a node of one core) it times the process's
CPU time, which the machine's other load barely changes.
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


# (name, bandwidth in bytes/s, per-message latency in s): assumptions of the scaling model. MPI over TCP on
# 10 Gb/s Ethernet typically sees tens of microseconds per message; over 100 Gb/s InfiniBand / RoCE (RDMA), a
# few microseconds.
NETWORKS = (("10 Gb/s Ethernet, TCP", 10e9 / 8, 25e-6), ("100 Gb/s InfiniBand/RoCE", 100e9 / 8, 2e-6))
NODES = (8, 64, 512)
EFFICIENCY = 0.9


def _build(workload):
    """(model, x, y, batch) of a workload (MNIST), compiled with Adam."""
    import numpy as np

    import pynn
    from pynn import layers
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
    return model, x, y, batch


def _batch_for(batches, times, target):
    """The batch at which a step takes `target` seconds, interpolated between the measured (batch, time) points
    (extrapolated beyond them along the nearest segment), at least 1."""
    pairs = list(zip(batches, times))
    for (b0, t0), (b1, t1) in zip(pairs, pairs[1:]):
        if t1 >= target or (b1, t1) == pairs[-1]:
            slope = (t1 - t0) / (b1 - b0)
            return max(1, int(-(-(b0 + (target - t0) / slope) // 1)))
    return 1


def _ring_allreduce_s(nodes, nbytes, bandwidth, latency):
    """The ring allreduce's time: 2 (p - 1) steps, each a message of nbytes / p and its latency."""
    return 2 * (nodes - 1) * latency + 2 * (nodes - 1) / nodes * nbytes / bandwidth


def _scaling(args):
    """The scaling model on paper: measured step times and gradient bytes, projected allreduce times."""
    import numpy as np

    import pynn
    from pynn.distributed.collectives import Buckets
    if "PYNN_DATA" not in os.environ and MNIST.is_dir():
        os.environ["PYNN_DATA"] = str(MNIST)
    pynn.utils.set_random_seed(1)
    # One thread: the process's CPU time, which other processes on the machine barely change; else wall time.
    threads = pynn.get_num_threads()
    clock = time.process_time if threads == 1 else time.perf_counter
    report = {"threads": threads, "clock": clock.__name__, "workloads": {}}
    for workload in args.workloads:
        model, x, y, usual = _build(workload)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        batches = (32, 64, 128, 256, 512, 1024) if workload == "W1" else (16, 32, 64, 128, 256, 512)
        times = []
        for batch in batches:
            steps = max(8, min(200, 4096 // batch))
            model.fit(x[:2 * batch], y[:2 * batch], batch_size=batch, epochs=1, verbose=0)      # warm-up
            best = float("inf")
            for _ in range(args.repeats):
                start = clock()
                model.fit(x[:steps * batch], y[:steps * batch], batch_size=batch, epochs=1, verbose=0,
                          shuffle=False)
                best = min(best, (clock() - start) / steps)
            times.append(best)
        per_sample = (times[-1] - times[-2]) / (batches[-1] - batches[-2])     # at the largest batches
        grads = [w.value for w in model.trainable_weights]
        nbytes = sum(g.nbytes for g in grads)
        plan = Buckets([g.shape for g in grads], [g.dtype for g in grads])
        best = float("inf")
        for _ in range(20):         # what a step adds locally: packing the gradients and dividing the sum
            start = clock()
            for _ in range(50):
                plan.pack(grads)
                for buffer in plan.buffers:
                    np.divide(buffer, buffer.dtype.type(2), out=buffer)
            best = min(best, (clock() - start) / 50)
        local = best
        rows = []
        for name, bandwidth, latency in NETWORKS:
            for nodes in NODES:
                comm = local + _ring_allreduce_s(nodes, nbytes, bandwidth, latency)
                rows.append({"network": name, "nodes": nodes, "allreduce_s": comm - local, "comm_s": comm,
                             "efficiency": {b: t / (t + comm) for b, t in zip(batches, times)},
                             "batch_for_90": _batch_for(batches, times, EFFICIENCY / (1 - EFFICIENCY) * comm)})
        report["workloads"][workload] = {"batches": batches, "step_s": times, "per_sample_s": per_sample,
                                         "gradient_bytes": nbytes, "local_s": local, "projections": rows}
        print(f"{workload}: {len(grads)} gradient arrays, {nbytes} bytes; packing + dividing {local * 1e6:.0f} us; "
              f"{per_sample * 1e6:.1f} us a sample at the largest batches, on {threads} thread(s) ({clock.__name__})",
              flush=True)
        for batch, t in zip(batches, times):
            print(f"  batch {batch:5d}: {t * 1e3:8.3f} ms a step", flush=True)
        for row in rows:
            print(f"  {row['network']:>26} x {row['nodes']:3d} nodes: allreduce {row['allreduce_s'] * 1e3:7.3f} ms, "
                  f"efficiency at batch {usual} {row['efficiency'][usual]:6.1%}, >= 90% from batch "
                  f"{row['batch_for_90']} per node", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


def _worker(workload):
    """Runs in each process: one warm-up batch, then one timed epoch; rank 0 prints a JSON line."""
    import pynn
    from pynn import distributed as dist
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
    model, x, y, batch = _build(workload)
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
    parser.add_argument("--scaling", action="store_true", help="the scaling model on paper (one process)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    if args.scaling:
        return _scaling(args)
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
