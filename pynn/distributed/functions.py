"""allreduce, broadcast, broadcast_weights, shard and load_model: what a hand-written loop or a script needs
besides DistributedOptimizer. In a single process (one rank, or init() not called outside an MPI launcher) each
returns its input's value (a copy for allreduce / broadcast) and broadcast_weights does nothing."""
import numpy as np

from pynn.distributed import _runtime, collectives
from pynn.distributed.optimizer import DistributedOptimizer, is_distributed


def _active_group():
    group = _runtime.current_group()
    return group if group is not None and group.size > 1 else None


def allreduce(array, average=True):
    """The element-wise sum over the ranks of `array` (a NumPy array or a number), or with average=True its
    mean (integers then become float64); a new array, the same bits on every rank."""
    out = np.array(array, order="C")
    if out.dtype.kind not in "fiu":
        raise TypeError(f"allreduce: expected a numeric array, got dtype {out.dtype}")
    if average and out.dtype.kind != "f":
        out = out.astype(np.float64)
    group = _active_group()
    if group is None:
        return out
    collectives.require_same(group, "allreduce's arrays", [(out.shape, out.dtype.str)])
    from mpi4py import MPI
    group.comm.Allreduce(MPI.IN_PLACE, out.reshape(-1), op=MPI.SUM)
    if average:
        np.divide(out, out.dtype.type(group.size), out=out)
    return out


def broadcast(array, root=0):
    """Rank root's `array` on every rank (a new array; every rank passes one of the same shape and dtype)."""
    out = np.array(array, order="C")
    group = _active_group()
    if group is None:
        return out
    _check_root(group, root)
    collectives.require_same(group, "broadcast's arrays", [(out.shape, out.dtype.str)], root)
    collectives.broadcast_arrays(group, [out], root)
    return out


def broadcast_weights(model, root=0):
    """Overwrite every rank's weights (trainable or not) and, when the model is compiled, its optimizer's state
    (step count, slots, a float learning rate) with rank root's. The ranks' models are first compared: a
    different number of weights, or a weight of another shape or dtype, raises ValueError on every rank, naming
    the first difference. fit calls this at its start when the model's optimizer is a DistributedOptimizer."""
    group = _active_group()
    if group is None:
        return
    _check_root(group, root)
    if not getattr(model, "built", True):
        raise ValueError(f"broadcast_weights: model '{model.name}' is not built yet (it has no weights); build it "
                         "(call it on data, or give it an Input) first")
    names = {}
    for layer in getattr(model, "layers", ()):
        for w in layer.weights:
            names.setdefault(id(w), f"{layer.name}/{w.name}")
    broadcast_variables(group, model.weights, getattr(model, "optimizer", None), f"model '{model.name}'", root,
                        names)


def broadcast_variables(group, variables, optimizer, what, root=0, names=None):
    """broadcast_weights for a list of Variables (and optimizer's slots of them, when optimizer is not None);
    names: {id(variable): name} for the error message (default: the variables' own names)."""
    names = names or {}
    signature = [(names.get(id(v), v.name), tuple(v.shape), v.dtype.str) for v in variables]
    if optimizer is not None:
        signature.append(("optimizer", type(optimizer).__name__))
    collectives.require_same(group, f"the weights of {what}", signature, root, item="weight")
    arrays = [v.value for v in variables]
    if optimizer is not None:
        arrays += _optimizer_state(group, variables, optimizer, root)
    collectives.broadcast_arrays(group, arrays, root)
    if is_distributed(optimizer):
        optimizer._mark_synced(variables)


def _optimizer_state(group, variables, optimizer, root):
    """Make the slots of `variables` on this rank those root has (created or dropped), take root's step count
    and float learning rate, and return the slot arrays in root's order, to broadcast."""
    index = {id(v): i for i, v in enumerate(variables)}
    slots = [(index[vid], name) for vid, name in optimizer._slots if vid in index]
    rate = optimizer._learning_rate if isinstance(optimizer._learning_rate, float) else None
    iterations, slots, rate = group.comm.bcast((optimizer.iterations, slots, rate) if group.rank == root else None,
                                               root=root)
    if group.rank != root:
        wanted = {(id(variables[i]), name) for i, name in slots}
        extra = [key for key in optimizer._slots if key[0] in index and key not in wanted]
        for key in extra:
            del optimizer._slots[key]
        if extra:
            optimizer._slot_lists.clear()
        for i, name in slots:
            optimizer.add_slot(variables[i], name)
        optimizer.iterations = iterations
        if rate is not None and isinstance(optimizer._learning_rate, float):
            optimizer.learning_rate = rate
    return [optimizer._slots[(id(variables[i]), name)] for i, name in slots]


def shard(x, rank=None, size=None):
    """This rank's share of the rows of x: rows rank, rank + size, rank + 2 size, ... (as tf.data's shard), as
    contiguous copies. Every rank gets the same number of rows, len(x) // size: the last len(x) % size rows
    are left out, so that every rank makes the same number of steps. x may be an array or a list, tuple or
    dict of arrays with the same number of rows (each sharded alike). rank and size default to this process's;
    with one rank, x is returned as it is.

    Example:
        x_train, y_train = dist.shard(x_train), dist.shard(y_train)
    """
    if rank is None or size is None:
        group = _active_group()
        rank = (0 if group is None else group.rank) if rank is None else rank
        size = (1 if group is None else group.size) if size is None else size
    if not isinstance(size, (int, np.integer)) or size < 1 or not isinstance(rank, (int, np.integer)) \
            or not 0 <= rank < size:
        raise ValueError(f"shard: expected 0 <= rank < size with size >= 1, got rank={rank!r}, size={size!r}")
    if size == 1:
        return x
    if isinstance(x, dict):
        return {key: _shard_rows(value, rank, size, f"x[{key!r}]") for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_shard_rows(value, rank, size, f"x[{k}]") for k, value in enumerate(x))
    return _shard_rows(x, rank, size, "x")


def _shard_rows(x, rank, size, label):
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"shard: {label} must have a batch axis, got a scalar")
    rows = len(x) // size
    if rows == 0:
        raise ValueError(f"shard: {label} has {len(x)} rows, fewer than the {size} ranks")
    return np.ascontiguousarray(x[rank:rows * size:size])


def load_model(filepath, custom_objects=None, compile=True, bucket_bytes=collectives.DEFAULT_BUCKET_BYTES):
    """pynn.models.load_model, with the optimizer wrapped in a DistributedOptimizer and rank 0's weights and
    optimizer state broadcast: every rank calls it on a copy of the file, and rank 0's copy wins."""
    from pynn.models import load_model as load
    model = load(filepath, custom_objects=custom_objects, compile=compile)
    if getattr(model, "optimizer", None) is not None:
        model.optimizer = DistributedOptimizer(model.optimizer, bucket_bytes)
    broadcast_weights(model)
    return model


def _check_root(group, root):
    if not isinstance(root, (int, np.integer)) or not 0 <= root < group.size:
        raise ValueError(f"root must be a rank, 0 <= root < {group.size}, got {root!r}")
