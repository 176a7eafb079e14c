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
    x = np.ones((2, 64, 64, 32), np.float32)          # output 1 MiB and more
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
