"""What the running process offers the kernels: OpenMP and CPU vector extensions.

Compiled for the baseline ISA so that it imports on every CPU; the kernel
modules built for wider ISAs are imported only after this module says the
CPU supports them.
"""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define SEPCONV_OPENMP 1
    #else
    #define SEPCONV_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif

    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int sepconv_cpu_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int sepconv_cpu_has_avx512(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512cd");
    }
    #else
    static int sepconv_cpu_has_avx2(void) { return 0; }
    static int sepconv_cpu_has_avx512(void) { return 0; }
    #endif
    """
    int SEPCONV_OPENMP
    int omp_get_max_threads() noexcept nogil
    int sepconv_cpu_has_avx2() noexcept nogil
    int sepconv_cpu_has_avx512() noexcept nogil


def openmp_enabled():
    """Return True when the extensions were compiled with OpenMP."""
    return bool(SEPCONV_OPENMP)


def omp_max_threads():
    """Return ``omp_get_max_threads()``: it follows ``OMP_NUM_THREADS`` and
    ``threadpoolctl`` limits on OpenMP (1 without OpenMP)."""
    return omp_get_max_threads()


def cpu_supports(level):
    """Return True when the running CPU can execute kernels built for ``level``.

    Parameters
    ----------
    level : {"baseline", "avx2", "avx512"}
        ISA level; ``"avx2"`` is x86-64-v3 (AVX2 and FMA), ``"avx512"`` is
        x86-64-v4 (AVX-512 F, BW, DQ, VL and CD).
    """
    if level == "baseline":
        return True
    if level == "avx2":
        return bool(sepconv_cpu_has_avx2())
    if level == "avx512":
        return bool(sepconv_cpu_has_avx512())
    raise ValueError(f"unknown ISA level {level!r}")
