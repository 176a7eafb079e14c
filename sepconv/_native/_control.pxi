# How a kernel call runs on its threads: which thread takes which tile,
# BLAS held at one thread in each of them, and stopping early (Ctrl-C, or a
# cancel request from another thread).  Included by _kernels.pxi.
#
# A call is one OpenMP parallel region.  Its tiles go to the threads one at
# a time as each thread finishes the last (dynamic schedule), so a thread
# that shares its core with another process does not hold the others up.
#
# BLAS: each thread of the region limits its own BLAS calls to one thread
# through the library's thread-local setting (openblas_set_num_threads_local,
# OpenBLAS 0.3.27 and later, which SciPy's wheels carry) and clears it when
# the region ends.  Nothing else is changed: the count threadpoolctl and
# openblas_set_num_threads set stays as it was.  Some builds (SciPy's
# OpenBLAS 0.3.30 among them) keep that "thread-local" count in one variable
# for the whole process (_blas.py finds out which): there the threads of
# every running call count themselves in a shared counter, and the last one
# out clears the count, so that one call ending does not give BLAS threads
# back to another that is still running.  While a call runs, other threads'
# SciPy BLAS calls and threadpoolctl's readings then see 1 too.  Where the
# library has no such setting, _threads.py falls back to a process-wide
# limit around the call.
#
# Stopping: before each tile a thread looks at the call's cancel flag.  The
# calling thread, when it is Python's main thread (the only one that runs
# signal handlers), also runs the pending signal handlers between its tiles,
# at most every POLL_SECONDS: it takes the GIL for that, so a short call
# never takes it back before it ends.  A handler that raises (SIGINT's
# KeyboardInterrupt) sets the flag; the other threads skip their remaining
# tiles, and the exception propagates once the region has ended.

from libc.stdint cimport intptr_t

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static double sepconv_wtime(void) { return omp_get_wtime(); }
    #else
    #include <time.h>
    static double sepconv_wtime(void) { return (double) clock() / CLOCKS_PER_SEC; }
    #endif
    /* a fresh read each time: another thread may have set the flag */
    static inline int sepconv_read_flag(const int* flag) { return *(const volatile int*) flag; }
    #ifdef _OPENMP
    #define SEPCONV_BARRIER() _Pragma("omp barrier")
    #else
    #define SEPCONV_BARRIER() ((void) 0)
    #endif
    #if defined(_MSC_VER)
    #include <intrin.h>
    static int sepconv_fetch_add(int* p, int v) { return _InterlockedExchangeAdd((long*) p, v); }
    #else
    static int sepconv_fetch_add(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }
    #endif
    """
    double _wtime "sepconv_wtime"() noexcept nogil
    int _fetch_add "sepconv_fetch_add"(int* counter, int value) noexcept nogil
    void _barrier "SEPCONV_BARRIER"() noexcept nogil
    int _read_flag "sepconv_read_flag"(const int* flag) noexcept nogil

cdef extern from "Python.h":
    # declared without an exception clause: the exception it may set stays
    # pending until the region has ended (see _finish)
    int _check_signals "PyErr_CheckSignals"() noexcept

ctypedef int (*blas_set_local_t)(int) noexcept nogil
ctypedef int (*blas_get_t)() noexcept nogil

# Seconds between two runs of the signal handlers during a call.
cdef double POLL_SECONDS_ = 0.1
POLL_SECONDS = POLL_SECONDS_


cdef struct Control:
    int* cancel                 # nonzero: skip the remaining tiles
    bint poll                   # the calling thread runs signal handlers
    bint raised                 # a signal handler raised: its exception is pending
    double next_poll            # when the calling thread next runs them
    blas_set_local_t blas_set_local   # NULL: no thread-local BLAS limit
    int* blas_users             # NULL: the limit is per thread; else the shared count of
                                # kernel threads under it, process-wide


cdef Control _control(int[::1] cancel, bint poll, intptr_t blas_set_local,
                      intptr_t blas_users):
    """The Control of one call; the two addresses come from _blas.thread_local_limit()."""
    cdef Control c
    c.cancel = &cancel[0]
    c.poll = poll
    c.raised = False
    c.next_poll = _wtime() + POLL_SECONDS_
    c.blas_set_local = <blas_set_local_t> blas_set_local
    c.blas_users = <int*> blas_users
    return c


cdef inline void _blas_enter(const Control* c) noexcept nogil:
    """Limit this thread's BLAS calls to one thread."""
    if c.blas_set_local == NULL:
        return
    if c.blas_users != NULL:
        _fetch_add(c.blas_users, 1)
    c.blas_set_local(1)


cdef inline void _blas_exit(const Control* c) noexcept nogil:
    """Clear this thread's BLAS limit (a shared one: when no kernel thread is left under it)."""
    if c.blas_set_local == NULL:
        return
    if c.blas_users == NULL or _fetch_add(c.blas_users, -1) == 1:
        c.blas_set_local(0)


cdef inline bint _stopped(Control* c) noexcept nogil:
    """Whether the call should skip its remaining tiles.

    The calling thread (OpenMP thread 0) runs the pending signal handlers
    first when the call polls and POLL_SECONDS have passed.
    """
    cdef double now
    if c.poll and threadid() == 0:
        now = _wtime()
        if now >= c.next_poll:
            c.next_poll = now + POLL_SECONDS_
            with gil:
                if _check_signals() != 0:
                    c.raised = True
                    c.cancel[0] = 1
    return _read_flag(c.cancel) != 0


cdef int _raise_pending() except -1:
    """Propagate the exception a signal handler left pending."""
    return -1


cdef int _finish(const Control* c) except -1:
    """After the region: raise what stopped the call early, if anything did."""
    if c.raised:
        _raise_pending()
    if c.cancel[0]:
        raise KeyboardInterrupt("sepconv call cancelled")
    return 0


def blas_threads_in_kernels(int n_threads, intptr_t blas_set_local, intptr_t blas_users,
                            intptr_t blas_get):
    """The BLAS thread count each thread of a kernel region sees, and after.

    Runs a region of ``n_threads`` threads that limits BLAS as the kernels
    do (the setter from ``_blas.thread_local_limit()``, the getter from
    ``_blas.thread_count_getter()``); for ``sepconv.show_config()`` and the
    tests.

    Returns
    -------
    inside : list of int
        The count in force in each thread of the region, under the limit.
    after : list of int
        The count in force in each of them once the limit is cleared.
    """
    cdef int[::1] cancel = np.zeros(1, dtype=np.intc)
    cdef Control ctl = _control(cancel, False, blas_set_local, blas_users)
    cdef blas_get_t get = <blas_get_t> blas_get
    inside_ = np.zeros(n_threads, dtype=np.intc)
    after_ = np.zeros(n_threads, dtype=np.intc)
    cdef int[::1] inside = inside_, after = after_
    cdef int i
    if get == NULL or ctl.blas_set_local == NULL:
        return [], []
    with nogil, parallel(num_threads=n_threads):
        i = threadid()
        _blas_enter(&ctl)
        inside[i] = get()
        _barrier()
        _blas_exit(&ctl)
    # read after the region: a thread that leaves first must not see the
    # limit of another one that is still inside (see the top of this file)
    with nogil, parallel(num_threads=n_threads):
        after[threadid()] = get()
    return inside_.tolist(), after_.tolist()
