"""Reuse of output and scratch memory between calls.

A fresh multi-megabyte NumPy array is fresh memory from the kernel: every
page is faulted in and zeroed on its first write, which for a large output
costs a good part of a whole convolution.  Batch jobs call sepconv again and
again with outputs of the same size, so the memory of an output the caller
has dropped is kept and handed out again, as the allocators of the deep
learning frameworks do.

The arrays handed out are ordinary NumPy arrays; their memory returns to the
pool only when the array and every view of it (and every memoryview or
buffer export, which hold the array) are gone.  The pool keeps at most
:data:`MAX_FREE_BYTES` of dropped buffers, and only buffers of at least
:data:`MIN_BYTES` (smaller ones are cheap to allocate).

A dropped output comes back through a finalizer, which may run inside any
allocation of the interpreter (a garbage collection freeing a reference
cycle), even while this module holds its lock in the same thread: so the
finalizer appends to a queue, which takes no lock, and moves the queue into
the pool only if the lock is free at once; else the next :func:`empty`
does.
"""

from __future__ import annotations

import collections
import math
import os
import threading
import weakref

import numpy as np

# Buffers smaller than this are allocated the ordinary way.  It is glibc's
# default mmap threshold: a larger block is mapped fresh from the kernel and
# unmapped when freed (always so under MALLOC_TRIM_THRESHOLD_, which Dask's
# workers set), so only those cost page faults on every call.
MIN_BYTES = 128 << 10

# Dropped buffers kept for reuse, at most this many bytes in all.
MAX_FREE_BYTES = 1 << 30

_lock = threading.Lock()
# id(buffer) -> buffer, oldest first
_free: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
# nbytes -> the ids in _free of that size, oldest first (a lookup, not a scan
# of _free: blocks from 128 KiB up to MAX_FREE_BYTES can be thousands)
_by_size: dict[int, dict[int, None]] = {}
_free_bytes = 0
# dropped buffers not yet in _free: deque.append is atomic, and takes no lock
_returned: collections.deque[np.ndarray] = collections.deque()


def _after_fork_in_child():
    """A fresh lock and an empty pool in a forked child.

    The lock may have been held by a thread of the parent that the child
    does not have (every kernel call takes it for its scratch), and the pool
    be halfway through a change; the parent's kept buffers are only dropped.
    """
    global _lock
    _lock = threading.Lock()
    clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def empty(shape, dtype):
    """Return an uninitialised C-contiguous array, reusing dropped output memory.

    Parameters
    ----------
    shape : tuple of ints
    dtype : numpy.dtype

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    MemoryError
        As NumPy's, naming the size and shape, also where the size exceeds
        what an address can hold (NumPy says only "array is too big" then):
        scratch of a backward pass at an extreme dilation can.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > np.iinfo(np.intp).max:
        raise MemoryError(
            f"Unable to allocate {nbytes / 2**40:.3g} TiB for an array with shape "
            f"{tuple(shape)} and data type {dtype}"
        )
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    buffer = _take(nbytes)
    # An array made from a memoryview is the base of every view taken of it
    # (NumPy collapses view chains only down to an array whose base is not
    # an array), so its finalizer runs once the last view is gone.
    flat = np.frombuffer(memoryview(buffer), dtype=dtype)
    # not at interpreter exit: an output still alive then must not count as free
    weakref.finalize(flat, _give_back, buffer).atexit = False
    return flat.reshape(shape)


def _take(nbytes):
    """A free buffer of exactly ``nbytes`` bytes, or a new one."""
    global _free_bytes
    with _lock:
        _keep_returned()
        same_size = _by_size.get(nbytes)
        if same_size:
            key = next(iter(same_size))
            _forget(key, nbytes)
            _free_bytes -= nbytes
            return _free.pop(key)
    return np.empty(nbytes, dtype=np.uint8)


def _forget(key, nbytes):
    """Drop ``key`` from the size index (called with the lock held)."""
    same_size = _by_size[nbytes]
    del same_size[key]
    if not same_size:
        del _by_size[nbytes]


def _give_back(buffer):
    """Return a dropped buffer (the finalizer of an output): never waits for the lock."""
    _returned.append(buffer)
    if _lock.acquire(blocking=False):
        try:
            _keep_returned()
        finally:
            _lock.release()


def _keep_returned():
    """Move the dropped buffers into the pool, evicting the oldest beyond MAX_FREE_BYTES.

    Called with the lock held.
    """
    global _free_bytes
    while _returned:
        buffer = _returned.popleft()
        _free[id(buffer)] = buffer
        _by_size.setdefault(buffer.nbytes, {})[id(buffer)] = None
        _free_bytes += buffer.nbytes
    while _free_bytes > MAX_FREE_BYTES:
        key, oldest = _free.popitem(last=False)
        _forget(key, oldest.nbytes)
        _free_bytes -= oldest.nbytes


def clear() -> None:
    """Release every kept buffer (dropped outputs, ended calls' scratch) to the system.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    >>> dk = rng.standard_normal((3, 3, 3, 1)).astype(np.float32)
    >>> pk = rng.standard_normal((1, 1, 3, 4)).astype(np.float32)
    >>> y = sepconv.separable_conv2d(x, dk, pk)
    >>> sepconv.release_buffers()
    """
    global _free_bytes
    with _lock:
        _returned.clear()
        _free.clear()
        _by_size.clear()
        _free_bytes = 0
