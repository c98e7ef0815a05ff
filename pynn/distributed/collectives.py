"""Collectives on NumPy arrays: fused buckets for many arrays at once, allreduce, broadcast, log averaging.

A model's gradients are many small arrays; one MPI call each would pay the network's latency per weight. A
`Buckets` plan packs them, in their given order, into a few contiguous buffers (one dtype each, at most
`bucket_bytes` each, every array starting on a 64-byte boundary), so a step makes one collective per bucket.
The plan and its buffers are made once per list of shapes and reused at every step.
"""
import numpy as np

from pynn.variable import aligned_empty

DEFAULT_BUCKET_BYTES = 16 << 20
_ALIGN = 64


class Buckets:
    """Where each of a list of arrays (given by shapes and dtypes) sits in a few contiguous buffers."""

    def __init__(self, shapes, dtypes, bucket_bytes=DEFAULT_BUCKET_BYTES):
        self.buffers = []           # one 1-D array per bucket
        open_bucket = {}            # dtype -> (bucket index, bytes used so far) of the bucket being filled
        layout = []                 # per bucket: (dtype, [(array index, offset in elements)], elements)
        for k, (shape, dtype) in enumerate(zip(shapes, dtypes)):
            dtype = np.dtype(dtype)
            size = int(np.prod(shape, dtype=np.int64))
            step = _ALIGN // dtype.itemsize if _ALIGN % dtype.itemsize == 0 else 1
            padded = -(-size // step) * step
            index, used = open_bucket.get(dtype, (None, 0))
            if index is None or (used and (used + padded) * dtype.itemsize > bucket_bytes):
                index, used = len(layout), 0
                layout.append((dtype, [], 0))
            layout[index][1].append((k, used))
            used += padded
            layout[index] = (dtype, layout[index][1], used)
            open_bucket[dtype] = (index, used)
        views = [None] * len(shapes)
        for index, (dtype, members, elements) in enumerate(layout):
            buffer = aligned_empty((elements,), dtype)
            buffer.fill(0)                  # the padding stays zero
            self.buffers.append(buffer)
            for k, offset in members:
                size = int(np.prod(shapes[k], dtype=np.int64))
                views[k] = (index, buffer[offset:offset + size].reshape(shapes[k]))
        self.places = views         # per array: (bucket index, its place in the bucket, shaped like it)

    def pack(self, arrays):
        for (_, view), array in zip(self.places, arrays):
            if array is not view:               # a gradient that lives in its bucket is there already
                np.copyto(view, array)

    def adopt(self, variables, arrays):
        """Make each variable whose gradient buffer is the given array keep its gradient in its place in the
        bucket from now on, so that backward passes write it there and pack has nothing to copy (PyTorch DDP's
        gradient_as_bucket_view). A buffer that something else rebinds later is simply copied again."""
        for (_, view), variable, array in zip(self.places, variables, arrays):
            if array is not view and getattr(variable, "_grad", None) is array:
                np.copyto(view, array)
                variable._grad = view

    def unpack(self, arrays):
        for (_, view), array in zip(self.places, arrays):
            np.copyto(array, view)

    def views(self):
        return [view for _, view in self.places]


class PlanCache:
    """Buckets per list of shapes and dtypes, made on first use (a model trains the same list every step)."""

    def __init__(self, bucket_bytes=DEFAULT_BUCKET_BYTES):
        self.bucket_bytes = bucket_bytes
        self._plans = {}

    def plan(self, arrays):
        key = tuple((a.shape, a.dtype.str) for a in arrays)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 64:           # models trained in turn by one optimizer: keep a few
                self._plans.clear()
            plan = self._plans[key] = Buckets([a.shape for a in arrays], [a.dtype for a in arrays],
                                              self.bucket_bytes)
        return plan


def average_arrays(group, arrays, cache, variables=None):
    """The element-wise mean of `arrays` over the ranks, as views into the plan's buffers (valid until the next
    call with the same shapes). Every rank gets the same bits: the sum is MPI's, then divided here. With
    `variables` (the arrays' owners), gradients that are their variable's buffer move into the buckets."""
    from mpi4py import MPI
    plan = cache.plan(arrays)
    if variables is not None:
        plan.adopt(variables, arrays)
    plan.pack(arrays)
    with group.collective("the allreduce of the gradients"):
        for buffer in plan.buffers:
            group.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
    size = group.size
    for buffer in plan.buffers:
        if size & (size - 1) == 0:      # x * (1 / 2^k) has the bits of x / 2^k, and a product is cheaper
            np.multiply(buffer, buffer.dtype.type(1.0 / size), out=buffer)
        else:
            np.divide(buffer, buffer.dtype.type(size), out=buffer)
    return plan.views()


def broadcast_arrays(group, arrays, root=0, bucket_bytes=DEFAULT_BUCKET_BYTES):
    """Overwrite `arrays` in place with root's (the same shapes and dtypes on every rank, checked before)."""
    if group.size == 1 or not arrays:
        return
    plan = Buckets([a.shape for a in arrays], [a.dtype for a in arrays], bucket_bytes)
    if group.rank == root:
        plan.pack(arrays)
    with group.collective("a broadcast of the weights"):
        for buffer in plan.buffers:
            group.comm.Bcast(buffer, root=root)
    if group.rank != root:
        plan.unpack(arrays)


def require_same(group, what, items, root=0, item="item"):
    """Raise ValueError on every rank when `items` (a list of small picklable descriptions, e.g. (name, shape,
    dtype) per weight) differs from root's on any rank; the message names the first difference per rank."""
    with group.collective(f"the comparison of {what}"):
        everyone = group.comm.allgather(items)
    reference = everyone[root]
    problems = []
    for rank, theirs in enumerate(everyone):
        if theirs == reference:
            continue
        k = next((i for i, (a, b) in enumerate(zip(theirs, reference)) if a != b), None)
        if k is None:
            problems.append(f"rank {rank} has {len(theirs)} {item}s where rank {root} has {len(reference)}")
        else:
            problems.append(f"{item} {k} is {_describe(theirs[k])} on rank {rank} but {_describe(reference[k])} "
                            f"on rank {root}")
    if problems:
        raise ValueError(f"{what} differ between ranks: " + "; ".join(problems) + ". Every rank must build the "
                         "same model (same layers, shapes and dtypes) and optimizer before training")


def _describe(item):
    if isinstance(item, tuple) and len(item) == 3:
        name, shape, dtype = item
        return f"'{name}' of shape {shape} and dtype {np.dtype(dtype).name}"
    if isinstance(item, tuple) and len(item) == 2:
        return f"{item[0]} {item[1]!r}"
    return repr(item)


def average_logs(group, logs, count):
    """The logs {name: float or array} averaged over the ranks, each rank weighted by `count` (the samples it
    saw), so means come out as over all the samples; identical on every rank. Other values are kept."""
    if group is None or group.size == 1:
        return logs
    names = [k for k, v in logs.items() if isinstance(v, (int, float, np.ndarray, np.generic))]
    values = [np.asarray(logs[k], np.float64) for k in names]
    require_same(group, "the logs averaged across ranks", [(k, v.shape) for k, v in zip(names, values)])
    from mpi4py import MPI
    flat = np.concatenate([v.ravel() * count for v in values] + [np.array([count], np.float64)])
    with group.collective("the averaging of the logs"):
        group.comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
    total = flat[-1]
    out = dict(logs)
    offset = 0
    for name, value in zip(names, values):
        mean = flat[offset:offset + value.size] / max(total, 1.0)
        offset += value.size
        out[name] = float(mean[0]) if value.ndim == 0 else mean.reshape(value.shape)
    return out
