"""Library-wide settings: threads and instruction set. The one place in Python that sets pynn's threads."""
import os

from pynn import _C


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n > 0:
            return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_num_threads(n):
    """Use n threads in every kernel (n >= 1). Results do not depend on n."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected an integer >= 1, got {n!r}")
    _C.set_num_threads(n)


def get_num_threads():
    """The number of threads pynn's kernels use."""
    return _C.get_num_threads()


def show_config():
    """Print the version, the instruction set in use, threads, OpenMP and CUDA."""
    info = _C.build_info()
    lines = [
        f"pynn {info['version']}",
        f"  ISA in use:    {_C.get_isa()} (CPU supports: {', '.join(_C.supported_isas())})",
        f"  threads:       {get_num_threads()}",
        f"  OpenMP:        {'yes' if info['openmp'] else 'no (serial build)'}",
        f"  CUDA:          {'yes' if info['cuda'] else 'no'}",
    ]
    print("\n".join(lines))


def _init():
    isa = os.environ.get("PYNN_ISA", "").strip().lower()
    if isa:
        _C.set_isa(isa)
    _C.set_num_threads(_default_threads())


_init()
