# Library configuration: instruction set, threads, build facts. csrc/common/.

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


def set_isa(str name):
    """Force the kernels of one instruction set ('avx512', 'avx2', 'generic')."""
    cdef int rc = c_set_isa(name.encode())
    if rc == -1:
        raise ValueError(f"PYNN_ISA: expected one of 'avx512', 'avx2', 'generic', got {name!r}")
    if rc == -2:
        raise ValueError(f"PYNN_ISA={name!r}: this CPU supports only {supported_isas()}")


def get_num_threads():
    return c_get_num_threads()


def set_num_threads(int n):
    c_set_num_threads(n)


def build_info():
    """Facts fixed when the extension was compiled."""
    return {"version": PYNN_VERSION.decode(), "openmp": bool(have_openmp()), "cuda": bool(PYNN_HAVE_CUDA)}
