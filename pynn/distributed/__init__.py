"""Data-parallel training over MPI, with Horovod's names.

    import pynn
    from pynn import distributed as dist

    dist.init()                                       # MPI through mpi4py
    x_train, y_train = dist.shard(x_train), dist.shard(y_train)      # this rank's rows
    model = build_model()
    model.compile(optimizer=dist.DistributedOptimizer(pynn.optimizers.Adam(1e-3 * dist.size())),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=5)

launched with `mpirun -n 4 python train.py` (`pip install "pynn[mpi]"` brings mpi4py and Open MPI). Each rank
trains on its own batches; DistributedOptimizer averages the gradients over the ranks before every update, so
every rank holds the same weights, bit for bit, after every step. fit with such an optimizer also gives every
rank rank 0's weights, optimizer state and training state at its start (the epoch to start at, the shuffling
order and the random streams: the ranks shuffle their shards alike and draw different dropout masks, all from
rank 0's seed, so that seed reproduces the run bit for bit), averages the epoch's metrics and the validation
results over the ranks (so EarlyStopping and ReduceLROnPlateau decide alike everywhere), and prints the
progress bar and runs ModelCheckpoint, CSVLogger, TensorBoard and BackupAndRestore on rank 0 only: a run
resumed from a backup resumes on every rank from rank 0's, the other ranks never read the files. Per-batch
logs, train_on_batch's and model.evaluate's are each rank's own (a rank may evaluate alone; `allreduce`
averages them when all do). BatchNormalization keeps each rank's own batch statistics and moving averages;
`BatchNormalization(synchronized=True)` (or `SyncBatchNormalization`) normalizes with those of all the ranks'
batches together. Keras 3's form `set_distribution(DataParallel())` is accepted too (pynn.distributed.data_parallel).

After init(), an uncaught exception on any rank prints its traceback and aborts the whole job (MPI_Abort), so
no rank is left waiting in a collective; ranks whose models differ in their weights' number, shapes or dtypes
fail at the first broadcast with a ValueError naming the difference. A rank that leaves the job without an
exception (sys.exit(), SystemExit) while the others still train ends the job too: they abort within seconds,
naming it (_runtime._ExitGuard), instead of waiting for it in their next allreduce.

mpi4py is imported by init() only: pynn without it imports and runs as before. Without mpi4py and outside an
MPI launcher, init() makes a group of one, and a script written for several processes runs alone unchanged.
"""
from pynn.distributed._runtime import init, is_initialized, shutdown
from pynn.distributed._runtime import group as _group
from pynn.distributed.functions import allreduce, broadcast, broadcast_weights, load_model, shard
from pynn.distributed.optimizer import DistributedOptimizer, is_distributed
from pynn.distributed.data_parallel import DataParallel, distribution, set_distribution


def rank():
    """This process's rank, 0 to size() - 1 (ValueError before init())."""
    return _group().rank


def size():
    """The number of processes training together (ValueError before init())."""
    return _group().size


def local_rank():
    """This process's rank among those on the same machine."""
    return _group().local_rank


def local_size():
    """The number of processes on this machine."""
    return _group().local_size


def barrier():
    """Wait until every rank has called barrier()."""
    group = _group()
    if group.comm is not None:
        with group.collective("barrier"):
            group.comm.Barrier()


__all__ = ["init", "shutdown", "is_initialized", "rank", "size", "local_rank", "local_size", "barrier",
           "DistributedOptimizer", "is_distributed", "allreduce", "broadcast", "broadcast_weights", "shard",
           "load_model", "DataParallel", "set_distribution", "distribution"]
