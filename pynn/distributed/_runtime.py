"""The process group pynn.distributed trains over: MPI through mpi4py, imported only by init().

`init()` sets up one `Group` for the process (MPI's world communicator, or the one given), finds the ranks on the
same machine, gives each of them its share of the cores, and makes an uncaught exception end the whole job
(MPI_Abort) instead of leaving the other ranks waiting in a collective forever. A rank that leaves without an
exception (sys.exit(), SystemExit, the end of its script) tells the others, and a rank that waits for it in one
of pynn's collectives, or starts one after it left, ends the job too (`_ExitGuard`). Without mpi4py, and outside
an MPI launcher, init() sets up a group of one process, so a script written for several runs unchanged alone.
"""
import atexit
import os
import sys
import threading
import time

import numpy as np

# Environment variables through which MPI launchers tell a process how many were started (Open MPI, MPICH's
# Hydra and other PMI launchers, PMIx).
_LAUNCHER_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")

_group = None
_lock = threading.Lock()
_previous_excepthook = None

# After a rank left, how long a collective already under way may still take to finish (the one the leaving rank
# had completed its part of) before this rank gives up on it and aborts the job; and how often the guard looks.
EXIT_GRACE_S = 5.0
_POLL_S = 0.05


class Group:
    """The ranks training together: `comm` (an mpi4py communicator, None for a single process), `rank`,
    `size`, and the rank and count of the processes on this machine (`local_rank`, `local_size`)."""

    def __init__(self, comm=None):
        self.comm = comm
        self.guard = None           # an _ExitGuard once init() runs with several ranks
        if comm is None:
            self.rank, self.size, self.local_rank, self.local_size = 0, 1, 0, 1
            return
        from mpi4py import MPI
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = local.Get_rank(), local.Get_size()
        local.Free()

    def collective(self, what):
        """A context for one collective call on `comm` (`what` names it in errors): it raises RuntimeError when a
        rank has already left the job, and lets the exit guard end the job when one leaves while it runs."""
        return _NO_GUARD if self.guard is None else _Collective(self.guard, what)

    def sum(self, array, what="an allreduce"):
        """Sum the C-contiguous `array` over the ranks, in place (the same bits on every rank)."""
        if self.comm is None or self.size == 1:
            return array
        from mpi4py import MPI
        with self.collective(what):
            self.comm.Allreduce(MPI.IN_PLACE, array, op=MPI.SUM)
        return array

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
            group.guard = _ExitGuard(group.comm)
        _group = group


def shutdown():
    """Leave the group: the uncaught-exception hook is removed and rank() / size() need init() again. MPI itself
    is finalized by mpi4py when the process exits, after the exit guard has waited for every rank to exit."""
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


class _NoGuard:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NO_GUARD = _NoGuard()


class _Collective:
    __slots__ = ("guard", "what")

    def __init__(self, guard, what):
        self.guard, self.what = guard, what

    def __enter__(self):
        self.guard.enter(self.what)
        return self

    def __exit__(self, *exc):
        self.guard.busy = None
        return False


class _ExitGuard:
    """Ends the job when a rank leaves it without an exception while the others still need it.

    sys.exit() or SystemExit on one rank in the middle of fit calls no excepthook: the process goes on to exit,
    and without this the other ranks would wait for it in their next allreduce forever. Each rank therefore
    says when it leaves: at exit (atexit) it sends a notice to every other rank over a communicator of its own
    (comm.Dup()), then waits for all of them to reach their exit too before MPI is finalized; a normal end, where
    every rank exits, passes through unchanged. A rank still working notices a departure at the start of its next
    collective, which then raises RuntimeError (an uncaught exception, so the job is aborted with it), or, while
    it is inside one, from a watcher thread that polls every 50 ms: if that collective has not finished
    EXIT_GRACE_S seconds later, the watcher prints which rank left and aborts the job (MPI_Abort, exit code 1).
    The watcher needs MPI_THREAD_MULTIPLE (mpi4py's default); without it only the check at a collective's start
    remains. Collectives a script makes itself through mpi4py are not watched.
    """

    TAG = 0x7079      # the notices' tag on the guard's own communicator

    def __init__(self, comm):
        from mpi4py import MPI
        self.comm = comm.Dup()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.departed = []          # the ranks known to have left, in the order their notices came
        self.busy = None            # (serial, what) while the main thread is in a collective
        self.serial = 0
        self.closed = False
        self._lock = threading.Lock()
        self._inbox = np.zeros(1, np.int64)
        self._request = self.comm.Irecv(self._inbox, source=MPI.ANY_SOURCE, tag=self.TAG)
        self._stop = threading.Event()
        self._thread = None
        if MPI.Query_thread() >= MPI.THREAD_MULTIPLE:
            self._thread = threading.Thread(target=self._watch, name="pynn.distributed exit guard", daemon=True)
            self._thread.start()
        atexit.register(self.close)

    # ------------------------------------------------------------------ notices
    def _poll(self, wait=False):
        """Take in the notices that have arrived (with wait, block for the next one); True when one came."""
        came = False
        with self._lock:
            while self._request is not None:
                if wait and not came:
                    self._request.Wait()
                elif not self._request.Test():
                    break
                came = True
                self.departed.append(int(self._inbox[0]))
                self._request = None
                if len(self.departed) < self.size - 1:
                    from mpi4py import MPI
                    self._request = self.comm.Irecv(self._inbox, source=MPI.ANY_SOURCE, tag=self.TAG)
        return came

    def _who(self):
        ranks = sorted(set(self.departed))
        return ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(map(str, ranks))

    def enter(self, what):
        """Called as the main thread starts a collective (the notices are the watcher's to take in, when there is
        one: then this costs no MPI call)."""
        if self._thread is None:
            self._poll()
        if self.departed:
            raise RuntimeError(
                f"pynn.distributed: {self._who()} of {self.size} left the job (sys.exit(), SystemExit or the end of "
                f"its script) while rank {self.rank} still needs it for {what}; every rank must run the same "
                "training to its end")
        self.serial += 1
        self.busy = (self.serial, what)

    # ------------------------------------------------------------------ the watcher thread
    def _watch(self):
        while not self._stop.wait(_POLL_S):
            self._poll()
            busy = self.busy
            if not self.departed or busy is None:
                continue
            deadline = time.monotonic() + EXIT_GRACE_S
            while self.busy is busy and time.monotonic() < deadline:
                if self._stop.wait(_POLL_S):
                    return
            if self.busy is busy:
                print(f"pynn.distributed: {self._who()} of {self.size} left the job (sys.exit(), SystemExit or the "
                      f"end of its script) while rank {self.rank} waits for it in {busy[1]}; aborting the job",
                      file=sys.stderr, flush=True)
                sys.stdout.flush()
                self.comm.Abort(1)

    # ------------------------------------------------------------------ exit
    def close(self):
        """At exit: tell the other ranks, then wait (without spinning a core) until all of them exit too."""
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        from mpi4py import MPI
        if MPI.Is_finalized():      # the script finalized MPI itself
            return
        note = np.array([self.rank], np.int64)
        sent = [self.comm.Isend(note, dest=r, tag=self.TAG) for r in range(self.size) if r != self.rank]
        everyone = self.comm.Ibarrier()
        while not everyone.Test():
            time.sleep(0.01)        # another rank may still be working alone: leave it the cores
        while len(self.departed) < self.size - 1:
            self._poll(wait=True)   # every notice was sent before the barrier: receive those still in flight
        MPI.Request.Waitall(sent)
