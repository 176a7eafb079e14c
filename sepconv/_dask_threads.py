"""Kernel threads inside a Dask task: each task's share of the cores, never more.

A Dask scheduler runs several tasks at once, each in its own thread or
process; were each kernel call to take every core, cores x tasks threads
would fight over the cores.  A task's kernels therefore get the cores
divided by the tasks that may run beside it.
"""

import multiprocessing
import threading

from ._native import _threads


def task_threads(n_threads):
    """Return the OpenMP threads for a kernel call made inside a Dask task.

    Parameters
    ----------
    n_threads : int or None
        What the user asked for (``None``: all cores), as the functional API
        takes it; it is lowered to the task's share, never raised.

    Returns
    -------
    int
        ``min(requested, share)``: on a ``distributed`` worker the share is
        1 (a worker with T threads runs up to T tasks at once, and T tasks x
        1 thread is the worker's T threads); under Dask's local threaded or
        processes scheduler it is ``cores // pool size``; run alone (the
        synchronous scheduler, in the main thread of the main process) it is
        every core.
    """
    requested = _threads.effective_n_threads(n_threads)
    return max(1, min(requested, _share()))


def _share():
    """Return the cores one task may use under the scheduler running it."""
    if _on_distributed_worker():
        return 1
    alone = (
        threading.current_thread() is threading.main_thread()
        and multiprocessing.parent_process() is None
    )
    if alone:
        return _threads.cpu_count()
    return max(1, _threads.cpu_count() // _local_pool_size())


def _on_distributed_worker():
    """Return True inside a task run by a ``distributed`` worker."""
    try:
        from distributed import get_worker
    except ImportError:
        return False
    try:
        get_worker()
    except ValueError:
        return False
    return True


def _local_pool_size():
    """Return the tasks Dask's local threaded or processes scheduler runs at once.

    Both take ``num_workers`` from the configuration and otherwise size
    their pool to ``dask.system.CPU_COUNT``.
    """
    import dask
    import dask.system

    return dask.config.get("num_workers", None) or dask.system.CPU_COUNT
