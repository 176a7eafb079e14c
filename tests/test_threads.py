"""Threads: the GIL is released, thread counts follow the environment, BLAS is
kept single-threaded during a call, and concurrent use gives right results."""

import os
import threading
import time

import numpy as np
import pytest
from cases import Case
from compare import assert_close
from threadpoolctl import threadpool_info, threadpool_limits

import sepconv
from sepconv._native import _blas, _dispatch, _runtime, _threads

needs_openmp = pytest.mark.skipif(
    not _runtime.openmp_enabled(), reason="built without OpenMP: always one thread"
)


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
        f"no other sepconv call finished during the middle of a {end - start:.3f} s call"
    )
    # the first 4 output rows come from the first 4 + 20 input rows
    top = Case(n=1, hw=(24, 256), channels=16, depth_multiplier=1, filters=8, kernel=(21, 21))
    assert_close(long_call["y"][:, :4], top.expected(x[:, :24], dk, pk), np.float32, top.reduction)
    expected_small = small.expected(*small_arrays)
    for y in small_results:
        assert_close(y, expected_small, np.float32, small.reduction)


# --------------------------------------------------------------------------
# Thread counts


@needs_openmp
@pytest.mark.parametrize("value", ["1", "3"])
def test_omp_num_threads_honoured(run_python, value):
    code = (
        "from sepconv._native import _threads; "
        "print(_threads.effective_n_threads(None), _threads.effective_n_threads(-1))"
    )
    env = {**os.environ, "OMP_NUM_THREADS": value}
    result = run_python("-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [value, value]


@needs_openmp
def test_without_omp_num_threads_uses_the_cores(run_python):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    result = run_python(
        "-c",
        "from sepconv._native import _threads; "
        "print(_threads.effective_n_threads(), _threads.cpu_count())",
        env=env,
    )
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
    case = Case(
        n=3,
        hw=(21, 10),
        channels=6,
        depth_multiplier=2,
        filters=5,
        kernel=(3, 3),
        padding="same",
        seed=9,
    )
    x, dk, pk, bias = case.arrays(np.float32)
    y = sepconv.separable_conv2d(x, dk, pk, bias, padding="same", n_threads=n_threads)
    assert_close(y, case.expected(x, dk, pk, bias), np.float32, case.reduction)


# --------------------------------------------------------------------------
# BLAS threads


def _blas_threads():
    return {
        lib["filepath"]: lib["num_threads"]
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    }


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


needs_local_limit = pytest.mark.skipif(
    not _blas.thread_local_limit()[0], reason="SciPy's BLAS has no per-thread limit"
)


@needs_local_limit
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_blas_one_thread_in_every_kernel_thread_and_lifted_after(n_threads):
    with threadpool_limits(2, user_api="blas"):
        inside, after = _dispatch.kernels.blas_threads_in_kernels(
            n_threads, *_blas.thread_local_limit(), _blas.thread_count_getter()
        )
        assert inside == [1] * n_threads
        assert after == [2] * n_threads
        assert set(_blas_threads().values()) == {2}


@needs_local_limit
def test_no_process_wide_blas_setting_changes_during_a_call(monkeypatch):
    spy = _KernelSpy(_dispatch.kernels)
    monkeypatch.setattr(_dispatch, "kernels", spy)
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        assert before and set(before.values()) == {2}
        _call_both()
        assert _blas_threads() == before
    assert spy.seen == [before, before]


@pytest.fixture
def without_local_limit(monkeypatch):
    """SciPy's BLAS as one without a per-thread limit: the process-wide fallback."""
    monkeypatch.setattr(_blas, "thread_local_limit", lambda: (0, 0))


def test_fallback_blas_single_threaded_during_a_call_and_restored(monkeypatch, without_local_limit):
    spy = _KernelSpy(_dispatch.kernels)
    monkeypatch.setattr(_dispatch, "kernels", spy)
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        _call_both()
        assert _blas_threads() == before
    assert len(spy.seen) == 2
    for seen in spy.seen:
        assert seen.keys() == before.keys()
        assert set(seen.values()) == {1}


def test_fallback_blas_limit_restored_when_the_kernel_fails(monkeypatch, without_local_limit):
    monkeypatch.setattr(_dispatch, "kernels", _KernelSpy(_dispatch.kernels, fail=True))
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        with pytest.raises(RuntimeError, match="kernel failed"):
            _call_both()
        assert _blas_threads() == before


def test_fallback_gives_the_reference(without_local_limit):
    x, dk, pk, bias = GEMM_CASE.arrays(np.float64)
    assert_close(
        sepconv.separable_conv2d(x, dk, pk, bias),
        GEMM_CASE.expected(x, dk, pk, bias),
        np.float64,
        GEMM_CASE.reduction,
    )


@needs_local_limit
def test_settings_unchanged_after_calls_interleaved_with_threadpoolctl():
    # one thread calls sepconv again and again while another sets and lifts
    # a threadpoolctl limit of its own: once both are done, every BLAS
    # setting is what it was (with the reference-counted process-wide limit
    # sepconv used before, it could stay at one thread)
    x, dk, pk, bias = GEMM_CASE.arrays(np.float32)
    stop = threading.Event()

    def convolve():
        while not stop.is_set():
            sepconv.separable_conv2d(x, dk, pk, bias, n_threads=2)

    def limit():
        try:
            for _ in range(200):
                with threadpool_limits(3, user_api="blas"):
                    pass
        finally:
            stop.set()

    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        _run_threads([convolve, limit])
        assert _blas_threads() == before


@needs_local_limit
def test_numpy_keeps_its_blas_threads_while_sepconv_runs():
    numpy_blas = [
        lib["filepath"]
        for lib in threadpool_info()
        if lib["user_api"] == "blas" and "numpy" in lib["filepath"]
    ]
    if not numpy_blas:
        pytest.skip("NumPy's BLAS is not a library threadpoolctl sees")
    x, dk, pk, bias = GEMM_CASE.arrays(np.float32)
    stop = threading.Event()
    counts = set()

    def convolve():
        for _ in range(300):
            sepconv.separable_conv2d(x, dk, pk, bias, n_threads=2)
        stop.set()

    def watch():
        while not stop.is_set():
            counts.add(_blas_threads()[numpy_blas[0]])

    with threadpool_limits(2, user_api="blas"):
        _run_threads([convolve, watch])
    assert counts == {2}


# --------------------------------------------------------------------------
# Stress: sepconv beside NumPy matrix products (OpenBLAS issue 5836)

STRESS_CASES = [
    Case(
        n=2,
        hw=(23, 17),
        channels=12,
        depth_multiplier=2,
        filters=16,
        kernel=(3, 3),
        padding="same",
        seed=21,
    ),
    Case(
        n=1,
        hw=(30, 11),
        channels=4,
        depth_multiplier=1,
        filters=7,
        kernel=(5, 3),
        strides=(2, 1),
        seed=22,
    ),
    Case(
        n=3,
        hw=(15, 15),
        channels=9,
        depth_multiplier=1,
        filters=33,
        kernel=(3, 3),
        dilation=(2, 2),
        padding="same",
        seed=23,
    ),
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

        _run_threads(
            [sepconv_worker(*c, n_threads=1 + i % 2) for i, c in enumerate(conv)]
            + [matmul_worker(*p) for p in products]
        )
        assert _blas_threads() == before
