"""SciPy's BLAS as the kernels use it: thread limits, and pixels per GEMM call.

The kernels call BLAS from their own threads, one GEMM per tile, so BLAS
must run single-threaded in those threads.  OpenBLAS 0.3.27 and later (SciPy's
wheels) has a limit per calling thread, ``openblas_set_num_threads_local``:
:func:`thread_local_limit` finds it, and the kernels set it in each of their
threads and restore it (see ``_control.pxi``).

How many pixels one BLAS call of a tile's pointwise GEMM covers:

SciPy's OpenBLAS packs both operands of a GEMM into buffers before it
multiplies them, except where its small-matrix kernels apply: on its
SkylakeX family of cores (AVX-512) a GEMM of at most a million multiply-adds
runs straight from the operands.  A tile's GEMM (filters x pixels x
channels) is larger, so there it goes as several calls of at most that size:
measured on AMD Zen 4 (OpenBLAS 0.3.30 on its SkylakeX core), one core,
112-115 GFLOP/s against 97-103 in one call for float32, 55-57 against 46-53
for float64.  Everywhere else (other cores, other BLAS libraries) a tile's
GEMM stays one call, since a GEMM cut into calls is packed call by call.
"""

import ctypes
import functools
import os
import threading

import numpy as np

# OpenBLAS cores with small-matrix GEMM kernels, and the bound on
# M * N * K below which OpenBLAS (0.3.16 and later) uses them.
SMALL_KERNEL_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})
SMALL_KERNEL_MACS = 1_000_000
SMALL_KERNEL_SINCE = (0, 3, 16)


def _version(text):
    """``"0.3.30.dev"`` -> ``(0, 3, 30)``; unknown parts count as 0."""
    parts = []
    for part in (text or "").split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def _is_scipys(library):
    """Whether a threadpoolctl record is the OpenBLAS of SciPy's wheel (``scipy.libs``)."""
    folder = os.path.basename(os.path.dirname(library.get("filepath") or ""))
    return library.get("internal_api") == "openblas" and folder.startswith("scipy")


@functools.cache
def _scipys_library():
    """threadpoolctl's record of SciPy's BLAS when it is SciPy's own OpenBLAS, else None."""
    from threadpoolctl import threadpool_info

    return next(filter(_is_scipys, threadpool_info()), None)


# Names of the thread-local setter and of the thread count getter in
# OpenBLAS builds (SciPy's prefixes the getter with "scipy_", not the setter).
_SETTERS = ("openblas_set_num_threads_local", "scipy_openblas_set_num_threads_local")
_GETTERS = ("scipy_openblas_get_num_threads", "openblas_get_num_threads")


def _address(library, names):
    """Address of the first of ``names`` the library exports, or 0."""
    for name in names:
        try:
            return ctypes.cast(getattr(library, name), ctypes.c_void_p).value
        except AttributeError:
            continue
    return 0


@functools.cache
def _scipys_openblas():
    """SciPy's OpenBLAS as a ctypes library, or None."""
    record = _scipys_library()
    if record is None:
        return None
    try:
        return ctypes.CDLL(record["filepath"])
    except OSError:
        return None


# Kernel threads under a limit that one variable holds for the whole process
# (see thread_local_limit); the kernels count themselves here, atomically.
_SHARED_USERS = np.zeros(1, dtype=np.intc)


@functools.cache
def thread_local_limit():
    """SciPy's OpenBLAS's per-thread limit, as the kernels take it.

    Returns
    -------
    tuple of 2 ints
        The address of ``openblas_set_num_threads_local`` (0 where SciPy's
        BLAS has none: then ``_threads.blas_guard`` limits BLAS process-wide
        around a call), and the address of a process-wide counter of kernel
        threads under the limit where the library keeps the limit in one
        variable for all threads, else 0 (see ``_control.pxi``).
    """
    library = _scipys_openblas()
    setter = 0 if library is None else _address(library, _SETTERS)
    if not setter:
        return (0, 0)
    shared = _limit_is_shared(setter, thread_count_getter())
    return (setter, _SHARED_USERS.ctypes.data if shared else 0)


def _limit_is_shared(setter, getter):
    """Whether a limit set in one thread is what a thread started later sees.

    Unknown (no getter, or BLAS at one thread anyway) counts as shared: the
    kernels then clear the limit only when no kernel thread is under it.
    """
    if not getter:
        return True
    set_local = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(setter)
    get = ctypes.CFUNCTYPE(ctypes.c_int)(getter)
    seen = []

    def probe():
        seen.append(get())

    def limited():
        set_local(1)
        other = threading.Thread(target=probe)
        other.start()
        other.join()
        set_local(0)

    if get() == 1:
        return True
    thread = threading.Thread(target=limited)
    thread.start()
    thread.join()
    return seen == [1]


@functools.cache
def thread_count_getter():
    """Address of SciPy's OpenBLAS's ``openblas_get_num_threads``, or 0."""
    library = _scipys_openblas()
    return 0 if library is None else _address(library, _GETTERS)


@functools.cache
def small_gemm_kernels():
    """Whether SciPy's BLAS has OpenBLAS's small-matrix kernels on this CPU.

    Returns
    -------
    bool
        False where SciPy's BLAS cannot be identified as such an OpenBLAS.
    """
    library = _scipys_library()
    if library is None:
        return False
    core = (library.get("architecture") or "").lower()
    return core in SMALL_KERNEL_CORES and _version(library.get("version")) >= SMALL_KERNEL_SINCE


def gemm_pixels(channels, filters):
    """Pixels per BLAS call of a tile's pointwise GEMM.

    Parameters
    ----------
    channels, filters : int
        The GEMM's inner dimension and its number of outputs per pixel.

    Returns
    -------
    int
        A multiple of 8 that keeps each call within the small-matrix kernels,
        or 0: the whole tile in one call.
    """
    if not small_gemm_kernels():
        return 0
    pixels = SMALL_KERNEL_MACS // (channels * filters)
    return pixels - pixels % 8
