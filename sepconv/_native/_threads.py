"""How many threads the kernels use, and keeping BLAS out of their way.

The kernels parallelise with OpenMP and call BLAS from inside the parallel
region, one GEMM per tile.  Were BLAS threaded too, threads would multiply
past the cores (and SciPy's OpenBLAS has had races between concurrent
threaded GEMMs, OpenBLAS issue 5836), so BLAS runs single-threaded in the
kernels' threads.  With SciPy's OpenBLAS that is a per-thread limit the
kernels set themselves (``_control.pxi``), which changes nothing for any
other thread; :func:`blas_guard` falls back to a process-wide limit around
the call for BLAS libraries without one.
"""

import contextlib
import os
import threading
from typing import Any

from .. import _args
from . import _blas, _runtime  # type: ignore[attr-defined]  # _runtime: compiled

# Threads per core a call may be given at most, however many are asked for:
# more only add start-up cost and scratch memory.
MAX_THREADS_PER_CORE = 16


def cpu_count():
    """Return the CPUs this process may run on (affinity-aware where the OS says)."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def effective_n_threads(n_threads=None, name="n_threads"):
    """Return the number of OpenMP threads a kernel call will use.

    Parameters
    ----------
    n_threads : int or None
        ``None`` uses every core the process may run on, lowered by
        ``OMP_NUM_THREADS`` or a ``threadpoolctl`` limit on OpenMP when one is
        set.  A positive int is used as given; a negative one counts back from
        the cores (``-1`` all, ``-2`` all but one).
    name : str, default="n_threads"
        The argument named in error messages.

    Returns
    -------
    int
        1 when the package was built without OpenMP.

    Raises
    ------
    ValueError
        If ``n_threads`` is 0 or counts back past the first core.
    TypeError
        If ``n_threads`` is not an int or None.
    """
    n_threads = _args.n_threads(n_threads, name)
    max_threads = cpu_count()
    if _runtime.openmp_enabled():
        omp_threads = _runtime.omp_max_threads()
        explicit = "OMP_NUM_THREADS" in os.environ
        max_threads = omp_threads if explicit else min(omp_threads, max_threads)
    if n_threads is None:
        n_threads = max_threads
    elif n_threads < 0:
        counted = max_threads + 1 + n_threads
        if counted < 1:
            raise ValueError(
                f"`{name}` counts back past the first core: {name}={n_threads} "
                f"with {max_threads} available"
            )
        n_threads = counted
    return n_threads if _runtime.openmp_enabled() else 1


def threads_for(n_threads, n_tiles):
    """The threads a call with ``n_tiles`` tiles runs on, asked for ``n_threads``.

    At most one thread per tile (the others would have nothing to do but
    hold scratch memory) and MAX_THREADS_PER_CORE per core.
    """
    return max(1, min(n_threads, n_tiles, MAX_THREADS_PER_CORE * cpu_count()))


def blas_guard(uses_blas):
    """Context of a kernel call: BLAS held at one thread process-wide, if need be.

    Only where the kernel calls BLAS and SciPy's BLAS has no per-thread limit
    (see ``_blas.thread_local_limit``); else nothing.
    """
    if uses_blas and not _blas.thread_local_limit()[0]:
        return single_threaded_blas()
    return contextlib.nullcontext()


class _SingleThreadedBlas:
    """Reference-counted BLAS limit shared by every thread of the process.

    The fallback for BLAS libraries without a per-thread limit.  threadpoolctl
    limits are process-wide: a plain ``with limit(...)`` in two overlapping
    calls would let the first to finish restore BLAS threading under the
    second.  The first caller in sets the limit, the last one out restores
    it; a threadpoolctl limit set meanwhile by other code may be undone.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._depth = 0
        self._limiter: Any = None
        self._controller: Any = None

    def _enter(self):
        with self._lock:
            if self._depth == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController

                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._depth += 1

    def _exit(self):
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._limiter.restore_original_limits()
                self._limiter = None

    @contextlib.contextmanager
    def __call__(self):
        self._enter()
        try:
            yield
        finally:
            self._exit()


single_threaded_blas = _SingleThreadedBlas()
