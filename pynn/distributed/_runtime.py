"""The process group pynn.distributed trains over: MPI through mpi4py, imported only by init().

`init()` sets up one `Group` for the process (MPI's world communicator, or the one given), finds the ranks on the
same machine, gives each of them its share of the cores, and makes an uncaught exception end the whole job
(MPI_Abort) instead of leaving the other ranks waiting in a collective forever. Without mpi4py, and outside an
MPI launcher, init() sets up a group of one process, so a script written for several runs unchanged alone.
"""
import os
import sys
import threading

# Environment variables through which MPI launchers tell a process how many were started (Open MPI, MPICH's
# Hydra and other PMI launchers, PMIx).
_LAUNCHER_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")

_group = None
_lock = threading.Lock()
_previous_excepthook = None


class Group:
    """The ranks training together: `comm` (an mpi4py communicator, None for a single process), `rank`,
    `size`, and the rank and count of the processes on this machine (`local_rank`, `local_size`)."""

    def __init__(self, comm=None):
        self.comm = comm
        if comm is None:
            self.rank, self.size, self.local_rank, self.local_size = 0, 1, 0, 1
            return
        from mpi4py import MPI
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = local.Get_rank(), local.Get_size()
        local.Free()

    def __repr__(self):
        return f"<pynn.distributed group: rank {self.rank} of {self.size} (local {self.local_rank} of " \
               f"{self.local_size})>"


def launcher_size():
    """How many processes an MPI launcher says it started (1 when this process was not started by one)."""
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def init(comm=None):
    """Join the job's process group; call it once, before building the model. Returns nothing.

    comm: an mpi4py communicator to train over (default: MPI.COMM_WORLD). Without mpi4py installed, a process
    that no MPI launcher started becomes a group of one (rank 0 of 1); one that a launcher started with others
    raises ImportError, since training alone would silently diverge from them. Calling init() again is a no-op.
    """
    global _group
    with _lock:
        if _group is not None:
            return
        try:
            from mpi4py import MPI
        except ImportError:
            if comm is not None or launcher_size() > 1:
                raise ImportError(
                    f"pynn.distributed.init: this process was started by an MPI launcher with {launcher_size()} "
                    "processes, but mpi4py is not installed; install it with `pip install \"pynn[mpi]\"` (mpi4py "
                    "and Open MPI from the package index)") from None
            _group = Group(None)
            return
        group = Group(comm if comm is not None else MPI.COMM_WORLD)
        if group.size > 1:
            _install_abort_hook(group)
            _share_cores(group)
        _group = group


def shutdown():
    """Leave the group: the uncaught-exception hook is removed and rank() / size() need init() again. MPI itself
    is finalized by mpi4py when the process exits."""
    global _group, _previous_excepthook
    with _lock:
        if _previous_excepthook is not None:
            sys.excepthook = _previous_excepthook
            _previous_excepthook = None
        _group = None


def is_initialized():
    return _group is not None


def current_group():
    """The group of init(), or None before it; raises when this process is one of several that an MPI launcher
    started and init() was not called (each would otherwise train alone)."""
    if _group is None and launcher_size() > 1:
        raise RuntimeError(f"pynn.distributed: this process is one of {launcher_size()} started by an MPI launcher, "
                           "but pynn.distributed.init() was not called; call it first thing in the script")
    return _group


def group():
    """The group of init(); raises ValueError before it (as Horovod does)."""
    found = current_group()
    if found is None:
        raise ValueError("pynn.distributed has not been initialized; call pynn.distributed.init() first")
    return found


def _install_abort_hook(group):
    """An uncaught exception on any rank prints its traceback, then aborts every rank of the job."""
    global _previous_excepthook
    previous = sys.excepthook

    def abort_on_exception(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        print(f"pynn.distributed: rank {group.rank} of {group.size} raised {exc_type.__name__}; aborting the job",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
        group.comm.Abort(1)

    _previous_excepthook = previous
    sys.excepthook = abort_on_exception


def _share_cores(group):
    """Split the cores between the ranks on this machine when neither the user (OMP_NUM_THREADS) nor the
    launcher (a CPU binding) did: otherwise each rank would start a thread per core and they would fight."""
    if os.environ.get("OMP_NUM_THREADS") or group.local_size == 1 or not hasattr(os, "sched_getaffinity"):
        return
    cpus = len(os.sched_getaffinity(0))
    if cpus < (os.cpu_count() or cpus):     # bound by the launcher: its share is already this rank's
        return
    import pynn
    pynn.set_num_threads(max(1, cpus // group.local_size))
