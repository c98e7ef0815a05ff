"""Issue 20's memory figures for W2 and W4 (bench/README.md, Workloads): peak resident memory of training, pynn
against PyTorch, and pynn's Python-side allocations per training step in steady state. Linux only (/proc).

Each (workload, peer) trains in a fresh interpreter (this file run as a script, `--child`), so that one peer's
heap, thread pools and imports do not count in the other's figures. The child reports, as JSON:
- rss_base_mb: its resident memory after imports and data creation (VmRSS, after gc and malloc_trim);
- rss_peak_mb: the peak resident memory from there to the end of training (VmHWM, which the child resets at
  the base through /proc/self/clear_refs): model building and training (the losses that check the training,
  of the trained model and of an untrained one built with the same seed, come after);
  rss_delta_mb = rss_peak_mb - rss_base_mb. getrusage's ru_maxrss (kept as ru_maxrss_mb) cannot be used:
  it cannot be reset, so it holds the data creation's own peak (W4's make_data builds 170 MB of float64
  temporaries), and a child started by vfork (subprocess does so) begins with its parent's peak;
- train_s: the training's wall time (the benchmark's own time also counts the interpreter's start);
- pynn only, after its peak is read: WARMUP more steps, then tracemalloc over STEPS steps (numpy registers its
  arrays with tracemalloc, so they are counted):
  - step_peak_bytes: the most allocated on top of a step's starting point within one step (get_traced_memory's
    peak minus current, reset at every step);
  - growth_bytes_per_step / growth_blocks_per_step: net growth over the STEPS steps (snapshots after a full gc
    compared), / STEPS (a counter's new int or float that replaces one made before tracing counts as +1);
  - alloc_bytes_per_step / alloc_blocks_per_step and top_sites: one more step cut after every layer's forward /
    backward / backward_weights, the loss, the optimizer and the callback hooks, a snapshot at each cut; the
    blocks each interval leaves behind (positive differences) are summed and charged to the innermost pynn line
    of their traceback ("during": the call that ends the interval); the benchmark's own blocks are left out.
    array_bytes_per_step / arrays_per_step: the same for numpy's array data alone (its tracemalloc domain). A
    block allocated and freed inside one interval is not in these sums (it is in the peak).
The figures go to benchmark.extra_info (the JSON of --benchmark-json); `python bench/bench_memory.py --table
FILE.json` prints them as bench/README.md's table.

W2 trains on the first W2_IMAGES (4,000) of its 10,000 images (63 steps) to keep the run short; W4 its 50 steps.

    pytest bench/bench_memory.py --benchmark-only --benchmark-json=bench/results/memory.json
    python bench/bench_memory.py --table bench/results/memory.json
"""
import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

PEERS = ["pynn"] + (["torch"] if importlib.util.find_spec("torch") is not None else [])
WORKLOADS = ["W2", "W4"]
W2_IMAGES = 4000
WARMUP, STEPS = 4, 12      # tracemalloc: steps before the first snapshot (at least 2), steps measured
TOP_SITES = 12


def _run_child(workload, peer):
    import pynn            # the child imports the pynn this process has (the source tree, not an installed copy)
    path = [os.path.dirname(os.path.dirname(pynn.__file__)), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", workload, peer],
                         capture_output=True, text=True, timeout=600, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{workload} {peer} child failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_training_memory(benchmark, workload, peer):
    benchmark.group = f"memory: {workload} training in a fresh process"
    result = benchmark.pedantic(lambda: _run_child(workload, peer), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["last_loss"] < result["first_loss"], f"{workload} {peer}: the loss did not go down"
    assert result["rss_delta_mb"] > 0 and result["peak_reset"]
    if peer == "pynn":
        assert abs(result["growth_bytes_per_step"]) < 4096, "pynn's Python allocations grow from step to step"


# ---------------------------------------------------------------------------------------------- the child
def _status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _base():
    """(resident MB now, whether the peak was reset): the starting point of the peak that _peak() reads."""
    import ctypes
    import gc
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)     # the data creation's freed heap back to the system
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                             # VmHWM := VmRSS (Linux 4.0+)
        reset = True
    except OSError:
        reset = False
    return _status_mb("VmRSS"), reset


def _peak(base, reset):
    import resource
    peak = _status_mb("VmHWM")
    return dict(rss_base_mb=base, rss_peak_mb=peak, rss_delta_mb=peak - base, peak_reset=reset,
                ru_maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _data(workload):
    """(x, y) of the workload, as numpy arrays (NHWC for W2)."""
    import numpy as np
    if workload == "W4":
        import bench_rnn
        _, _, steps, features, batch, train_steps = bench_rnn.WORKLOADS["W4"]
        return bench_rnn.make_data(steps, features, batch * train_steps)
    import pynn
    from conftest import MNIST_DIR
    if MNIST_DIR.is_dir():
        os.environ.setdefault("PYNN_DATA", str(MNIST_DIR))
    (x, y), _ = pynn.datasets.mnist.load_data()
    return x[:W2_IMAGES, ..., None].astype(np.float32) / 255, y[:W2_IMAGES].astype(np.int64)


def _child_pynn(workload):
    sys.modules["torch"] = None          # the builders' modules import PyTorch when they can: not in this process
    import bench_cnn
    import bench_rnn
    import pynn
    x, y = _data(workload)
    cell, units, steps, features, batch, _ = bench_rnn.WORKLOADS["W4"]

    def build():
        pynn.utils.set_random_seed(0)
        return bench_rnn.pynn_model(cell, units, steps, features) if workload == "W4" else bench_cnn.pynn_cnn()

    def loss(model):
        value = model.evaluate(x[:512], y[:512], batch_size=64, verbose=0)
        return float(value[0] if isinstance(value, list) else value)
    base = _base()
    model = build()
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=workload != "W4")   # as bench_cnn / bench_rnn
    result = dict(train_s=time.perf_counter() - t0, **_peak(*base))
    result.update(first_loss=loss(build()), last_loss=loss(model))   # the untrained model's loss: the same seed
    result.update(_python_allocations(model, x, y, batch))
    return result


def _child_torch(workload):
    import numpy as np
    import torch
    import bench_cnn
    import bench_rnn
    import pynn
    torch.set_num_threads(pynn.get_num_threads())      # conftest's rule: pynn's thread count for every peer
    x, y = _data(workload)
    cell, units, _, features, batch, _ = bench_rnn.WORKLOADS["W4"]
    if workload == "W4":
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def build():
            torch.manual_seed(0)
            return bench_rnn.torch_model(cell, units, features)

        def train(model):
            bench_rnn.torch_epoch(*model, tx, ty, batch)

        def loss(model):
            rnn, head, _ = model
            with torch.no_grad():
                return np.mean([float(torch.nn.functional.mse_loss(head(rnn(tx[i:i + 64])[0][:, -1]), ty[i:i + 64]))
                                for i in range(0, 512, 64)])
    else:
        tx, ty = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(y)

        def build():
            torch.manual_seed(0)
            return bench_cnn.torch_cnn()

        def train(model):
            bench_cnn.torch_epoch(*model, tx, ty)

        def loss(model):
            model[0].eval()
            with torch.no_grad():
                return float(torch.nn.functional.cross_entropy(model[0](tx[:512]), ty[:512]))
    base = _base()
    model = build()
    t0 = time.perf_counter()
    train(model)
    result = dict(train_s=time.perf_counter() - t0, **_peak(*base))
    result.update(first_loss=float(loss(build())), last_loss=float(loss(model)))
    return result


def _python_allocations(model, x, y, batch):
    """tracemalloc over STEPS steps after WARMUP, then one more step cut into intervals: see the docstring."""
    import gc
    import tracemalloc

    import numpy as np

    import pynn

    def settled_snapshot():
        gc.collect()     # a full collection also empties CPython's free lists (tuples, floats ...), which
        return tracemalloc.take_snapshot()     # tracemalloc counts as allocated: not the steps' growth

    cut_step = WARMUP + STEPS
    state = {"cuts": None, "peaks": []}        # cuts: [(label, snapshot)] of the cut step

    def cut(label):
        if state["cuts"] is not None:
            state["cuts"].append((label, tracemalloc.take_snapshot()))

    def wrap(obj, name, label):
        fn = getattr(obj, name)

        def wrapped(*args, **kwargs):
            out = fn(*args, **kwargs)
            cut(label)
            return out
        setattr(obj, name, wrapped)

    for layer in model.layers:
        for name in ("forward", "backward", "backward_weights"):
            wrap(layer, name, f"{layer.name}.{name}")
    wrap(model.optimizer, "apply", "optimizer.apply")
    for i, o in enumerate(model._outputs):
        wrap(o, "value_and_gradient", f"loss[{i}]")

    class Probe(pynn.callbacks.Callback):
        def on_train_batch_begin(self, step, logs=None):
            cut("the loop and the batch")

        def on_train_batch_end(self, step, logs=None):
            cut("metrics and logs")
            if state["cuts"] is not None:
                state["done"] = state["cuts"]
                state["cuts"] = None
            if step == WARMUP - 2:       # a step early, so that what lives across the first boundary is traced
                tracemalloc.start(25)
            elif step == WARMUP - 1:
                state["start"] = settled_snapshot()
            elif WARMUP <= step < cut_step:
                state["peaks"].append(tracemalloc.get_traced_memory()[1] - state["current"])
            if step == cut_step - 1:
                state["end"] = settled_snapshot()
                state["cuts"] = [("start", tracemalloc.take_snapshot())]
            state["current"] = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()

    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, steps_per_epoch=cut_step + 1, callbacks=[Probe()])
    tracemalloc.stop()

    pynn_dir = os.path.dirname(pynn.__file__) + os.sep
    here = os.path.abspath(__file__)

    def pynn_frame(traceback):
        """The innermost pynn frame of an allocation, or None for this benchmark's own (its probe and
        snapshots: the innermost frame of pynn or of this file is in this file, or tracemalloc is on it)."""
        frames = [f for f in traceback if f.filename.startswith(pynn_dir) or f.filename == here]
        if not frames or frames[-1].filename == here or any(f.filename == tracemalloc.__file__ for f in traceback):
            return None
        return frames[-1]

    def new_blocks(before, after):
        """[(pynn frame, bytes, blocks)] of what `after` holds more of than `before`, by traceback."""
        out = []
        for stat in after.compare_to(before, "traceback"):
            frame = pynn_frame(stat.traceback)
            if stat.size_diff > 0 and stat.count_diff > 0 and frame is not None:
                out.append((frame, stat.size_diff, stat.count_diff))
        return out

    arrays_only = [tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)]    # numpy's array data
    growth = [s for s in state["end"].compare_to(state["start"], "traceback") if pynn_frame(s.traceback)]
    sites, arrays = {}, []
    cuts = state["done"]
    for (_, before), (label, after) in zip(cuts, cuts[1:]):
        for frame, size, count in new_blocks(before, after):
            key = (f"{os.path.relpath(frame.filename, os.path.dirname(pynn_dir[:-1]))}:{frame.lineno}", label)
            sites[key] = tuple(a + b for a, b in zip(sites.get(key, (0, 0)), (size, count)))
        arrays += new_blocks(before.filter_traces(arrays_only), after.filter_traces(arrays_only))
    top = sorted(sites.items(), key=lambda kv: -kv[1][0])[:TOP_SITES]
    return dict(warmup_steps=WARMUP, measured_steps=STEPS, step_peak_bytes=max(state["peaks"]),
                growth_bytes_per_step=sum(s.size_diff for s in growth) / STEPS,
                growth_blocks_per_step=sum(s.count_diff for s in growth) / STEPS,
                alloc_bytes_per_step=sum(size for size, _ in sites.values()),
                alloc_blocks_per_step=sum(count for _, count in sites.values()),
                array_bytes_per_step=sum(a[1] for a in arrays), arrays_per_step=sum(a[2] for a in arrays),
                top_sites=[dict(site=site, during=label, bytes=size, blocks=count)
                           for (site, label), (size, count) in top])


# ---------------------------------------------------------------------------------------------- the table
def table(path):
    """bench/README.md's Memory table from a --benchmark-json file of this benchmark."""
    with open(path) as f:
        data = json.load(f)
    runs = {(b["params"]["workload"], b["params"]["peer"]): b["extra_info"] for b in data["benchmarks"]
            if b["name"].startswith("test_training_memory")}
    nan = float("nan")
    print("| workload | pynn peak RSS delta (MB) | torch peak RSS delta (MB) | pynn / torch | absolute peak, pynn / "
          "torch (MB) | train time, pynn / torch (s) | pynn Python allocations per step: bytes / blocks | of which "
          "numpy arrays: bytes / arrays | step peak (bytes) | net growth per step (bytes / blocks) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in WORKLOADS:
        p, t = runs.get((w, "pynn")), runs.get((w, "torch"), {})
        if p is None:
            continue
        ratio = f"{p['rss_delta_mb'] / t['rss_delta_mb']:.2f}" if t else "-"
        print(f"| {w} | {p['rss_delta_mb']:.1f} | {t.get('rss_delta_mb', nan):.1f} | {ratio} | "
              f"{p['rss_peak_mb']:.0f} / {t.get('rss_peak_mb', nan):.0f} | {p['train_s']:.1f} / "
              f"{t.get('train_s', nan):.1f} | {p['alloc_bytes_per_step']:,} / {p['alloc_blocks_per_step']} | "
              f"{p['array_bytes_per_step']:,} / {p['arrays_per_step']} | {p['step_peak_bytes']:,} | "
              f"{p['growth_bytes_per_step']:+.0f} / {p['growth_blocks_per_step']:+.1f} |")
    for w in WORKLOADS:
        if (w, "pynn") in runs:
            print(f"\n{w}, pynn's largest allocations in one steady-state step (site, the call that ended the "
                  "interval):")
            for s in runs[(w, "pynn")]["top_sites"]:
                print(f"  {s['bytes']:>9,} B {s['blocks']:>4} blocks  {s['site']}  ({s['during']})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        workload, peer = sys.argv[2], sys.argv[3]
        print(json.dumps((_child_pynn if peer == "pynn" else _child_torch)(workload)))
    elif sys.argv[1:2] == ["--table"]:
        table(sys.argv[2])
    else:
        sys.exit(__doc__)
