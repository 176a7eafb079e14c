"""_blas: when a tile's GEMM is cut into calls OpenBLAS's small-matrix kernels take."""

import pytest

from sepconv._native import _blas


def _openblas(folder, core, version="0.3.30"):
    """A threadpoolctl record of an OpenBLAS in ``folder``."""
    return {
        "internal_api": "openblas",
        "filepath": f"/site-packages/{folder}/libopenblas.so",
        "architecture": core,
        "version": version,
    }


@pytest.fixture
def loaded(monkeypatch):
    """Set what threadpoolctl reports as loaded; the cached answer is dropped around."""
    import threadpoolctl

    def load(*records):
        monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: list(records))
        _clear_caches()

    yield load
    _clear_caches()


def _clear_caches():
    for cached in (
        _blas._scipys_library,
        _blas._scipys_openblas,
        _blas.small_gemm_kernels,
        _blas.thread_local_limit,
        _blas.thread_count_getter,
    ):
        cached.cache_clear()


@pytest.mark.parametrize("core", ["SkylakeX", "Cooperlake", "SapphireRapids"])
def test_scipys_openblas_on_an_avx512_core_has_small_kernels(loaded, core):
    loaded(_openblas("numpy.libs", "Haswell"), _openblas("scipy.libs", core))
    assert _blas.small_gemm_kernels()


@pytest.mark.parametrize(
    "records",
    [
        [_openblas("scipy.libs", "Zen")],  # AVX2 core: none
        [_openblas("scipy.libs", "Haswell")],
        [_openblas("scipy.libs", "SkylakeX", "0.3.15")],  # before OpenBLAS had them
        [_openblas("numpy.libs", "SkylakeX")],  # not SciPy's BLAS
        [
            {
                "internal_api": "mkl",
                "filepath": "/site-packages/scipy.libs/libmkl_rt.so",
                "architecture": None,
                "version": "2024.0",
            }
        ],
        [],
    ],
)
def test_anything_else_keeps_one_call_per_tile(loaded, records):
    loaded(*records)
    assert not _blas.small_gemm_kernels()
    assert _blas.gemm_pixels(64, 64) == 0


@pytest.mark.parametrize(
    "channels,filters,expected",
    [
        (64, 64, 240),
        (96, 96, 104),
        (128, 128, 56),
        (256, 256, 8),
        (32, 64, 488),
        (354, 354, 0),
        (512, 512, 0),
    ],
)
def test_calls_stay_within_the_small_kernels(loaded, channels, filters, expected):
    loaded(_openblas("scipy.libs", "SkylakeX"))
    pixels = _blas.gemm_pixels(channels, filters)
    assert pixels == expected
    assert pixels % 8 == 0
    assert pixels * channels * filters <= _blas.SMALL_KERNEL_MACS


@pytest.mark.parametrize(
    "text,expected",
    [("0.3.30", (0, 3, 30)), ("0.3.21.dev", (0, 3, 21)), ("0.3", (0, 3, 0)), (None, (0, 0, 0))],
)
def test_version(text, expected):
    assert _blas._version(text) == expected


def _fake_limit(per_thread):
    """ctypes addresses of a setter and getter that keep the limit per thread or shared."""
    import ctypes
    import threading

    state = threading.local() if per_thread else type("Shared", (), {})()

    def set_local(n):
        previous = getattr(state, "n", 0)
        state.n = n
        return previous or 4

    def get():
        return getattr(state, "n", 0) or 4

    setter = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(set_local)
    getter = ctypes.CFUNCTYPE(ctypes.c_int)(get)
    keep = (setter, getter)  # the callbacks must outlive their addresses
    return [ctypes.cast(f, ctypes.c_void_p).value for f in keep], keep


@pytest.mark.parametrize("per_thread", [True, False])
def test_shared_limit_is_told_from_a_per_thread_one(per_thread):
    (setter, getter), _ = _fake_limit(per_thread)
    assert _blas._limit_is_shared(setter, getter) is not per_thread


def test_limit_without_getter_counts_as_shared():
    (setter, _), _ = _fake_limit(True)
    assert _blas._limit_is_shared(setter, 0) is True
