"""Threads: the GIL is released, thread counts follow the environment, BLAS is
kept single-threaded during a call, and concurrent use gives right results."""

import os
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import sepconv
from sepconv._native import _dispatch, _runtime, _threads

from cases import Case
from compare import assert_close

needs_openmp = pytest.mark.skipif(not _runtime.openmp_enabled(),
                                  reason="built without OpenMP: always one thread")


def _run_threads(targets):
    """Start one thread per callable behind a barrier; re-raise the first failure."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def wrap(target):
        def run():
            barrier.wait()
            try:
                target()
            except BaseException as exc:  # noqa: BLE001  (handed to the main thread)
                errors.append(exc)
        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]


# --------------------------------------------------------------------------
# GIL

def test_gil_released_during_a_call():
    # a long call (big kernel, one thread) while another Python thread keeps
    # calling sepconv on small inputs: if the long call held the GIL, none of
    # the small calls could finish in the middle of it
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (1, 256, 256, 16)).astype(np.float32)
    dk = rng.uniform(-1, 1, (21, 21, 16, 1)).astype(np.float32)
    pk = rng.uniform(-1, 1, (16, 8)).astype(np.float32)
    small = Case(n=1, hw=(8, 8), channels=3, depth_multiplier=1, filters=2, kernel=(3, 3))
    small_arrays = small.arrays(np.float32)
    long_call, small_calls, small_results = {}, [], []
    done = threading.Event()

    def long_running():
        long_call["start"] = time.perf_counter()
        long_call["y"] = sepconv.separable_conv2d(x, dk, pk, n_threads=1)
        long_call["end"] = time.perf_counter()
        done.set()

    def short_calls():
        while not done.is_set():
            small_results.append(sepconv.separable_conv2d(*small_arrays, n_threads=1))
            small_calls.append(time.perf_counter())

    _run_threads([long_running, short_calls])
    start, end = long_call["start"], long_call["end"]
    third = (end - start) / 3
    assert any(start + third < t < end - third for t in small_calls), (
        f"no other sepconv call finished during the middle of a {end - start:.3f} s call")
    # the first 4 output rows come from the first 4 + 20 input rows
    top = Case(n=1, hw=(24, 256), channels=16, depth_multiplier=1, filters=8, kernel=(21, 21))
    assert_close(long_call["y"][:, :4], top.expected(x[:, :24], dk, pk), np.float32,
                 top.reduction)
    expected_small = small.expected(*small_arrays)
    for y in small_results:
        assert_close(y, expected_small, np.float32, small.reduction)


# --------------------------------------------------------------------------
# Thread counts

@needs_openmp
@pytest.mark.parametrize("value", ["1", "3"])
def test_omp_num_threads_honoured(run_python, value):
    code = ("from sepconv._native import _threads; "
            "print(_threads.effective_n_threads(None), _threads.effective_n_threads(-1))")
    env = {**os.environ, "OMP_NUM_THREADS": value}
    result = run_python("-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [value, value]


@needs_openmp
def test_without_omp_num_threads_uses_the_cores(run_python):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    result = run_python("-c", "from sepconv._native import _threads; "
                        "print(_threads.effective_n_threads(), _threads.cpu_count())", env=env)
    assert result.returncode == 0, result.stderr
    threads, cpus = result.stdout.split()
    assert threads == cpus


@needs_openmp
def test_threadpoolctl_openmp_limit_honoured():
    with threadpool_limits(1, user_api="openmp"):
        assert _threads.effective_n_threads() == 1
        assert _threads.effective_n_threads(-1) == 1
        # an explicit count is used as given
        assert _threads.effective_n_threads(2) == 2


def test_negative_counts_back_from_all_cores():
    openmp = _runtime.openmp_enabled()
    with threadpool_limits(2, user_api="openmp"):
        # without OpenMP every count runs serially, but is still checked
        all_cores = _threads.effective_n_threads(None) if openmp else _threads.cpu_count()
        for back in range(1, all_cores + 1):
            expected = all_cores + 1 - back if openmp else 1
            assert _threads.effective_n_threads(-back) == expected
        with pytest.raises(ValueError, match=f"`n_threads`.*n_threads={-all_cores - 1}"):
            _threads.effective_n_threads(-all_cores - 1)


@pytest.mark.parametrize("n_threads", [None, -1, 1, 2, 3])
def test_every_thread_count_gives_the_reference(n_threads):
    case = Case(n=3, hw=(21, 10), channels=6, depth_multiplier=2, filters=5, kernel=(3, 3),
                padding="same", seed=9)
    x, dk, pk, bias = case.arrays(np.float32)
    y = sepconv.separable_conv2d(x, dk, pk, bias, padding="same", n_threads=n_threads)
    assert_close(y, case.expected(x, dk, pk, bias), np.float32, case.reduction)


# --------------------------------------------------------------------------
# BLAS threads

def _blas_threads():
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"}


class _KernelSpy:
    """The kernel module, recording BLAS thread counts when its entry points are called."""

    def __init__(self, module, fail=False):
        self._module = module
        self._fail = fail
        self.seen = []

    def __getattr__(self, name):
        return getattr(self._module, name)

    def _spy(self, name, args):
        self.seen.append(_blas_threads())
        if self._fail:
            raise RuntimeError("kernel failed")
        return getattr(self._module, name)(*args)

    def separable(self, *args):
        return self._spy("separable", args)

    def pointwise(self, *args):
        return self._spy("pointwise", args)


# channels_last with 16 depthwise channels: the pointwise step goes through BLAS
GEMM_CASE = Case(n=1, hw=(9, 9), channels=16, depth_multiplier=1, filters=4, kernel=(3, 3))


def _call_both():
    x, dk, pk, bias = GEMM_CASE.arrays(np.float32)
    sepconv.separable_conv2d(x, dk, pk, bias)
    sepconv.pointwise_conv2d(x, pk, bias)


def test_blas_single_threaded_during_a_call_and_restored(monkeypatch):
    spy = _KernelSpy(_dispatch.kernels)
    monkeypatch.setattr(_dispatch, "kernels", spy)
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        assert before and set(before.values()) == {2}
        _call_both()
        assert _blas_threads() == before
    assert len(spy.seen) == 2
    for seen in spy.seen:
        assert seen.keys() == before.keys()
        assert set(seen.values()) == {1}


def test_blas_limit_restored_when_the_kernel_fails(monkeypatch):
    monkeypatch.setattr(_dispatch, "kernels", _KernelSpy(_dispatch.kernels, fail=True))
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        with pytest.raises(RuntimeError, match="kernel failed"):
            _call_both()
        assert _blas_threads() == before


# --------------------------------------------------------------------------
# Stress: sepconv beside NumPy matrix products (OpenBLAS issue 5836)

STRESS_CASES = [
    Case(n=2, hw=(23, 17), channels=12, depth_multiplier=2, filters=16, kernel=(3, 3),
         padding="same", seed=21),
    Case(n=1, hw=(30, 11), channels=4, depth_multiplier=1, filters=7, kernel=(5, 3),
         strides=(2, 1), seed=22),
    Case(n=3, hw=(15, 15), channels=9, depth_multiplier=1, filters=33, kernel=(3, 3),
         dilation=(2, 2), padding="same", seed=23),
]


def test_concurrent_sepconv_and_numpy_matmul():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((256, 200))
    b = rng.standard_normal((256, 200))
    products = [(lambda: a @ b.T, a @ b.T), (lambda: a.T @ b, a.T @ b)]
    conv = []
    for i, case in enumerate(STRESS_CASES):
        arrays = case.arrays(np.float32 if i % 2 else np.float64)
        conv.append((case, arrays, case.expected(*arrays)))
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()

        def sepconv_worker(case, arrays, expected, n_threads):
            def run():
                for _ in range(8):
                    y = sepconv.separable_conv2d(*arrays, n_threads=n_threads, **case.geometry)
                    assert_close(y, expected, arrays[0].dtype, case.reduction)
            return run

        def matmul_worker(product, expected):
            def run():
                for _ in range(8):
                    np.testing.assert_allclose(product(), expected, rtol=1e-10, atol=1e-10)
            return run

        _run_threads([sepconv_worker(*c, n_threads=1 + i % 2) for i, c in enumerate(conv)]
                     + [matmul_worker(*p) for p in products])
        assert _blas_threads() == before
