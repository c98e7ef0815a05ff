"""allreduce, broadcast, broadcast_weights, shard and load_model: what a hand-written loop or a script needs
besides DistributedOptimizer. In a single process (one rank, or init() not called outside an MPI launcher) each
returns its input's value (a copy for allreduce / broadcast) and broadcast_weights does nothing."""
import numpy as np

from pynn import kernels
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
    with group.collective("allreduce"):
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
    for v in variables:     # written in place below: a cache holding one read-only (a sparse copy) lets go
        v.release()
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
    with group.collective("a broadcast of the optimizer's state"):
        iterations, slots, rate = group.comm.bcast(
            (optimizer.iterations, slots, rate) if group.rank == root else None, root=root)
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


def synchronize_training_state(group, model):
    """What fit needs besides the weights to train alike on every rank, taken from rank 0 at fit's start (after
    BackupAndRestore, which runs on rank 0 only, has restored a backup there): the epoch to start at, the state of
    fit's shuffling generator, pynn's global random stream, and the random streams of the model's layers (Dropout,
    the noise and augmentation layers, the recurrent layers' dropout).

    Every rank thus shuffles its shard in the same order, while the random numbers drawn in training differ from
    rank to rank, as they do between the halves of one process's batch of twice the size: rank 0 keeps its
    streams and rank r > 0 draws from streams whose seeds are derived from rank 0's and r (_rank_seed), for the
    global stream and for each layer stream whose seed pynn chose (a layer given seed=... draws the same numbers
    on every rank, as it asked). Since all of it follows from rank 0's state, the same seed on rank 0 reproduces a
    run bit for bit, a seed set on another rank changes nothing in it, and a run resumed from a backup (rank 0's)
    continues exactly as the uninterrupted run. Random numbers drawn outside layers with streams (a SeedGenerator
    of a call()-style layer) are not synchronized.
    """
    from pynn import random_state
    from pynn.layers.random_stream import SeededStream
    streams = list(_random_streams(model))
    for _, layer in streams:        # an unseeded stream takes its seed now, from the global stream, as on rank 0
        if isinstance(layer, SeededStream) and layer.seed is None:
            layer._key(0)
    if random_state._state["seed"] is None:     # as random_state.next_seed would, once, on rank 0
        random_state._state["seed"] = int(np.random.SeedSequence().entropy % (2 ** 63))
    rng = getattr(model, "_shuffle_rng", None)
    mine = {"seed": random_state._state["seed"], "counter": random_state._state["counter"],
            "streams": [(path, type(layer).__name__, layer.get_rng_state()) for path, layer in streams],
            "shuffle": None if rng is None else rng.bit_generator.state,
            "initial_epoch": getattr(model, "_initial_epoch", None)}
    with group.collective("the broadcast of the training state"):
        state = group.comm.bcast(mine if group.rank == 0 else None, root=0)
    if [s[:2] for s in state["streams"]] != [s[:2] for s in mine["streams"]]:
        raise ValueError(f"the layers with random streams of model '{model.name}' differ between ranks: "
                         f"{[s[:2] for s in mine['streams']][:6]} on rank {group.rank}, "
                         f"{[s[:2] for s in state['streams']][:6]} on rank 0")
    if hasattr(model, "_initial_epoch"):
        model._initial_epoch = state["initial_epoch"]
    if rng is not None and state["shuffle"] is not None:
        rng.bit_generator.state = state["shuffle"]
    random_state._state["seed"] = _rank_seed(state["seed"], group.rank)
    random_state._state["counter"] = state["counter"]
    for (_, layer), (_, _, stream) in zip(streams, state["streams"]):
        layer.set_rng_state(stream)
        if isinstance(layer, SeededStream) and layer.seed is None and layer._stream[0] is not None:
            layer._stream = (_rank_seed(layer._stream[0], group.rank), layer._stream[1])


def _random_streams(model, prefix=""):
    """(path, layer) for every layer of `model` (nested models and wrapped layers included) that owns a random
    stream (get_rng_state / set_rng_state), in a fixed order."""
    from pynn.saving.file_utils import is_model, rng_layers
    for k, layer in enumerate(getattr(model, "layers", ())):
        path = f"{prefix}{k}:{layer.name}"
        if is_model(layer):
            yield from _random_streams(layer, path + "/")
        else:
            yield from rng_layers(layer, path)


def _rank_seed(seed, rank):
    """The seed of rank `rank`'s random stream, from rank 0's `seed` (itself on rank 0): a Philox draw keyed by
    the seed at a counter no other draw uses."""
    if rank == 0:
        return seed
    words = kernels.philox4x32_10([int(rank), 0x72616E6B, 0, 0], [seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF])
    return int(words[0]) | (int(words[1]) << 32)


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
    optimizer state broadcast: every rank calls it on a copy of the file, and rank 0's copy wins. The ranks
    first wait for each other, so a file rank 0 writes before (ModelCheckpoint at the end of fit) is complete
    when the others read it."""
    from pynn.models import load_model as load
    group = _active_group()
    if group is not None:
        with group.collective("load_model's barrier"):
            group.comm.Barrier()
    model = load(filepath, custom_objects=custom_objects, compile=compile)
    if getattr(model, "optimizer", None) is not None:
        model.optimizer = DistributedOptimizer(model.optimizer, bucket_bytes)
    broadcast_weights(model)
    return model


def _check_root(group, root):
    if not isinstance(root, (int, np.integer)) or not 0 <= root < group.size:
        raise ValueError(f"root must be a rank, 0 <= root < {group.size}, got {root!r}")
