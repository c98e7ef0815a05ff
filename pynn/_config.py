"""Library-wide settings: threads and instruction set. The one place in Python that sets pynn's threads."""
import operator
import os
import warnings

from pynn import _C


def max_num_threads():
    """The most threads pynn's kernels may use: 4 x the CPUs this process may run on (its affinity mask)."""
    return _C.max_num_threads()


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n > 0:
            return _clamped(n, "OMP_NUM_THREADS")
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _clamped(n, source):
    most = max_num_threads()
    if n > most:
        warnings.warn(f"{source}={n} is more than {most} threads (4 x the {most // 4} CPUs this process may use); "
                      f"pynn uses {most}", RuntimeWarning, stacklevel=3)
        return most
    return n


def set_num_threads(n):
    """Use n threads in every kernel. Results do not depend on n.

    n: an integer >= 1 (a bool, a float, a string, 0 or a negative number raises ValueError). As with
    torch.set_num_threads, more threads than cores is allowed (oversubscription), but not without bound:
    above max_num_threads() (4 x the CPUs this process may use) pynn warns (RuntimeWarning) and uses
    max_num_threads(), since thousands of OpenMP threads only cost memory and start-up time.
    get_num_threads() tells the count in use.
    """
    try:
        count = operator.index(n)
    except TypeError:
        count = 0
    if isinstance(n, bool) or count < 1:
        raise ValueError(f"set_num_threads: expected an integer >= 1, got {n!r}")
    _C.set_num_threads(_clamped(count, "set_num_threads: n"))


def get_num_threads():
    """The number of threads pynn's kernels use."""
    return _C.get_num_threads()


def _openmp_text(have_openmp):
    if not have_openmp:
        return "no (serial build)"
    # The runtime the kernels' OpenMP calls are bound to in this process: a wheel's vendored
    # pynn.libs/libgomp-<hash>.so.1.0.0, the system's libgomp.so.1, or one another package loaded globally first.
    path = _C.openmp_library() if hasattr(_C, "openmp_library") else ""
    return f"yes, runtime {path}" if path else "yes (runtime file unknown)"


def show_config():
    """Print the version, the instruction set in use, threads, OpenMP (the runtime file in use) and CUDA."""
    info = _C.build_info()
    lines = [
        f"pynn {info['version']}",
        f"  ISA in use:    {_C.get_isa()} (CPU supports: {', '.join(_C.supported_isas())})",
        f"  threads:       {get_num_threads()}",
        f"  OpenMP:        {_openmp_text(info['openmp'])}",
        f"  CUDA:          {'yes' if info['cuda'] else 'no'}",
    ]
    print("\n".join(lines))


def _init():
    isa = os.environ.get("PYNN_ISA", "").strip().lower()
    if isa:
        _C.set_isa(isa)
    _C.set_num_threads(_default_threads())


_init()
