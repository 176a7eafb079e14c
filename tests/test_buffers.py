"""Output memory reuse (sepconv._native._buffers): reuse must never hand out memory in use."""

import gc
import threading

import numpy as np
import pytest

import sepconv
from sepconv._native import _buffers


@pytest.fixture(autouse=True)
def empty_pool():
    _buffers.clear()
    yield
    _buffers.clear()


def _address(a):
    return a.__array_interface__["data"][0]


def _big_case():
    x = np.ones((2, 64, 64, 32), np.float32)  # output 1 MiB and more
    dk = np.ones((3, 3, 32, 1), np.float32)
    pk = np.ones((32, 64), np.float32)
    return x, dk, pk


def test_dropped_output_memory_is_reused():
    x, dk, pk = _big_case()
    first = sepconv.separable_conv2d(x, dk, pk, padding="same")
    address = _address(first)
    del first
    gc.collect()
    second = sepconv.separable_conv2d(x, dk, pk, padding="same")
    assert _address(second) == address


def test_memory_of_a_live_view_is_never_reused():
    x, dk, pk = _big_case()
    first = sepconv.separable_conv2d(x, dk, pk, padding="same")
    view = first[1, ::2]
    kept = view.copy()
    address = _address(first)
    del first
    gc.collect()
    second = sepconv.separable_conv2d(2 * x, dk, pk, padding="same")
    assert _address(second) != address
    np.testing.assert_array_equal(view, kept)
    del second
    gc.collect()
    # still held by the view: the next output of that size gets other memory
    third = sepconv.separable_conv2d(x, dk, pk, padding="same")
    assert _address(third) != address
    np.testing.assert_array_equal(view, kept)


def test_outputs_are_ordinary_writable_arrays():
    out = _buffers.empty((4, 1 << 18), np.float32)
    assert out.flags.c_contiguous and out.flags.writeable
    assert out.shape == (4, 1 << 18) and out.dtype == np.float32
    out[:] = 3
    assert float(out.sum()) == 3 * 4 * (1 << 18)


def test_release_buffers_empties_the_pool():
    out = _buffers.empty((1 << 20,), np.uint8)
    del out
    gc.collect()
    assert _buffers._free_bytes == 1 << 20
    sepconv.release_buffers()
    assert _buffers._free_bytes == 0 and not _buffers._free


def test_small_outputs_bypass_the_pool():
    out = _buffers.empty((8,), np.float64)
    assert out.flags.owndata


def test_pool_keeps_at_most_max_free_bytes(monkeypatch):
    monkeypatch.setattr(_buffers, "MAX_FREE_BYTES", 3 << 20)
    arrays = [_buffers.empty((1 << 20,), np.uint8) for _ in range(5)]
    del arrays
    gc.collect()
    assert _buffers._free_bytes <= 3 << 20
    assert len(_buffers._free) == 3


def test_concurrent_calls_get_distinct_memory():
    x, dk, pk = _big_case()
    expected = sepconv.separable_conv2d(x, dk, pk, padding="same", n_threads=1)
    results, errors = [], []

    def work(scale):
        try:
            for _ in range(5):
                out = sepconv.separable_conv2d(scale * x, dk, pk, padding="same", n_threads=1)
                np.testing.assert_allclose(out, scale * expected, rtol=1e-6)
                results.append(_address(out))
                del out
        except AssertionError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in (1.0, 2.0, 3.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 15


def test_collection_inside_the_pool_lock_does_not_deadlock(monkeypatch):
    # a pooled output held in a reference cycle is freed by a garbage
    # collection that runs while the pool's lock is held by this very thread
    # (as an allocation inside _take can trigger one): the finalizer must not
    # wait for that lock
    class Cycle:
        pass

    holder = Cycle()
    holder.self = holder
    holder.out = _buffers.empty((1 << 20,), np.uint8)
    del holder
    finished = threading.Event()

    def collect_under_the_lock():
        with _buffers._lock:
            gc.collect()
        finished.set()

    worker = threading.Thread(target=collect_under_the_lock, daemon=True)
    worker.start()
    assert finished.wait(10), "the pool's finalizer deadlocked under its own lock"
    # the buffer arrives in the pool at the next request
    again = _buffers.empty((1 << 20,), np.uint8)
    assert _buffers._free_bytes == 0
    assert again.nbytes == 1 << 20


def test_memory_of_a_live_memoryview_is_never_reused():
    out = _buffers.empty((1 << 20,), np.uint8)
    out[:] = 7
    exported = memoryview(out)
    address = _address(out)
    del out
    gc.collect()
    other = _buffers.empty((1 << 20,), np.uint8)
    assert _address(other) != address
    other[:] = 1
    assert exported[0] == 7 and exported[-1] == 7


def test_live_outputs_are_not_returned_at_interpreter_exit(run_python):
    # weakref.finalize runs at exit for live objects unless told not to:
    # the output still alive then must not become free memory
    code = (
        "import atexit, numpy as np\n"
        "from sepconv._native import _buffers\n"
        "out = _buffers.empty((1 << 20,), np.uint8)\n"
        "atexit.register(lambda: print('free', _buffers._free_bytes, len(_buffers._returned)))\n"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["free", "0", "0"]


@pytest.mark.parametrize("n_threads", [1, 2])
def test_kernel_scratch_memory_returns_and_is_reused(n_threads):
    # scratch of 128 KiB and more would otherwise be mapped and faulted in
    # fresh on every call (always so in a Dask worker)
    x = np.ones((4, 128, 128, 64), np.float32)
    dk = np.ones((3, 3, 64, 1), np.float32)
    pk = np.ones((64, 64), np.float32)
    kept = [sepconv.separable_conv2d(x, dk, pk, padding="same", n_threads=n_threads)]
    scratch = _buffers._free_bytes
    assert scratch >= _buffers.MIN_BYTES
    kept.append(sepconv.separable_conv2d(x, dk, pk, padding="same", n_threads=n_threads))
    assert _buffers._free_bytes == scratch
