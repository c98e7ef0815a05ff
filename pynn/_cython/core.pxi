# Library configuration: instruction set, threads, build facts. csrc/common/.

from libcpp.string cimport string

import os as _os
import warnings as _warnings

cdef extern from "common/cpu.h" namespace "pynn" nogil:
    cpdef enum class Isa:
        generic, avx2, avx512
    const char* isa_name(Isa isa)
    bint cpu_supports(Isa isa)
    Isa active_isa()
    int c_set_isa "pynn::set_isa"(const char* name)

cdef extern from "common/parallel.h" namespace "pynn" nogil:
    int c_get_num_threads "pynn::get_num_threads"()
    void c_set_num_threads "pynn::set_num_threads"(int n)
    bint have_openmp()
    bint forked_child()
    string c_openmp_library "pynn::openmp_library"()

cdef extern from *:
    """
    #ifndef PYNN_VERSION
    #define PYNN_VERSION "unknown"
    #endif
    """
    const char* PYNN_VERSION
    int PYNN_HAVE_CUDA


def get_isa():
    """The instruction set whose kernels run: 'avx512', 'avx2' or 'generic'."""
    return isa_name(active_isa()).decode()


def supported_isas():
    """The instruction sets this CPU (and OS) can run, fastest first."""
    return [isa_name(i).decode() for i in (Isa.avx512, Isa.avx2, Isa.generic) if cpu_supports(i)]


def set_isa(str name not None):
    """Force the kernels of one instruction set ('avx512', 'avx2', 'generic')."""
    cdef int rc = c_set_isa(name.encode())
    if rc == -1:
        raise ValueError(f"PYNN_ISA: expected one of 'avx512', 'avx2', 'generic', got {name!r}")
    if rc == -2:
        raise ValueError(f"PYNN_ISA={name!r}: this CPU supports only {supported_isas()}")


def get_num_threads():
    return c_get_num_threads()


def max_num_threads():
    """The most threads set_num_threads accepts: 4 x the CPUs this process may run on."""
    try:
        cpus = len(_os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = _os.cpu_count() or 1
    return 4 * max(cpus, 1)


def set_num_threads(int n):
    """Use n threads, 1 <= n <= max_num_threads() (pynn.set_num_threads clamps to it with a warning)."""
    if n < 1 or n > max_num_threads():
        raise ValueError(f"set_num_threads: n: expected an integer in [1, {max_num_threads()}], got {n}")
    c_set_num_threads(n)
    if n > 1 and forked_child():
        _warnings.warn(f"set_num_threads({n}): this process was made by fork(), where GNU OpenMP's threads cannot "
                       "be used safely; pynn runs its kernels on one thread here (results are the same). Use the "
                       "'spawn' start method for threaded workers.", RuntimeWarning, stacklevel=2)


def in_forked_child():
    """True in a process made by fork() (multiprocessing's 'fork' and 'forkserver' workers): kernels run on one
    thread there, since GNU OpenMP's thread pool does not survive fork."""
    return forked_child()


def openmp_library():
    """The file of the OpenMP runtime pynn's kernels run on, as loaded in this process ('' without OpenMP)."""
    path = _os.fsdecode(c_openmp_library())
    return _os.path.realpath(path) if path else ""


def build_info():
    """Facts fixed when the extension was compiled."""
    return {"version": PYNN_VERSION.decode(), "openmp": bool(have_openmp()), "cuda": bool(PYNN_HAVE_CUDA)}
