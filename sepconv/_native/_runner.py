"""Where a kernel call runs, and how it is stopped.

Every kernel call goes through :func:`run`, which gives it its control
arguments (see ``_control.pxi``): a cancel flag, whether to run Python's
signal handlers during the call (only Python's main thread runs them, so
Ctrl-C interrupts a long call there), and the BLAS library's thread-local
thread limit (``_blas.thread_local_limit``).

After ``fork``: GNU libgomp keeps the OpenMP thread pool of each thread that
started a parallel region, and a child made by ``fork`` inherits that pool
without its threads, so a parallel region started from the thread that
forked waits for ever (GCC bug 60035).  A thread created in the child starts
a pool of its own.  So, in a child, the calls made from the thread that
forked run on a helper thread made in the child, with their full thread
count; calls from any other thread (all made in the child) run where they
are.
"""

import os
import queue
import threading

import numpy as np

from . import _blas

# The thread that called fork, in a forked child; None in a process that was
# not forked after this module was imported.
_forked_thread = None
_helper = None


def _after_fork_in_child():
    global _forked_thread, _helper
    _forked_thread = threading.get_ident()
    # a helper inherited from the parent process has no thread behind it
    _helper = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run(kernel, *args):
    """Call ``kernel(*args, *control)`` where its OpenMP threads can run.

    Parameters
    ----------
    kernel : callable
        A kernel entry point of ``_kernels.pxi``.
    *args
        Its arguments before the control arguments.

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C during the call (main thread only); the kernel's threads have
        stopped when it propagates.
    """
    cancel = np.zeros(1, dtype=np.intc)
    on_main = threading.current_thread() is threading.main_thread()
    if _forked_thread is not None and threading.get_ident() == _forked_thread:
        return _helper_thread().call(kernel, args, cancel)
    return kernel(*args, cancel, on_main, *_blas.thread_local_limit())


def _helper_thread():
    global _helper
    if _helper is None:
        _helper = _Helper()
    return _helper


class _Helper:
    """A thread made in a forked child that runs the forking thread's kernel calls."""

    def __init__(self):
        self._jobs: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="sepconv-after-fork", daemon=True).start()

    def _serve(self):
        while True:
            kernel, args, cancel, done, outcome = self._jobs.get()
            try:
                kernel(*args, cancel, False, *_blas.thread_local_limit())
            except BaseException as exc:  # handed to the caller, which raises it
                outcome.append(exc)
            done.set()

    def call(self, kernel, args, cancel):
        """Run the call on the helper; Ctrl-C in the caller cancels it."""
        done, outcome = threading.Event(), list[BaseException]()
        self._jobs.put((kernel, args, cancel, done, outcome))
        try:
            done.wait()
        except BaseException:
            # the caller was interrupted: stop the kernel and wait for its
            # threads, so that none is left writing into the output
            cancel[0] = 1
            while not done.wait(0.05):
                pass
            raise
        if outcome:
            raise outcome[0]
