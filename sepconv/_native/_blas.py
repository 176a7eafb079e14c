"""How many pixels one BLAS call of a tile's pointwise GEMM covers.

SciPy's OpenBLAS packs both operands of a GEMM into buffers before it
multiplies them, except where its small-matrix kernels apply: on its
SkylakeX family of cores (AVX-512) a GEMM of at most a million multiply-adds
runs straight from the operands.  A tile's GEMM (filters x pixels x
channels) is larger, so there it goes as several calls of at most that size:
measured on AMD Zen 4 (OpenBLAS 0.3.30 on its SkylakeX core), one core,
112-115 GFLOP/s against 97-103 in one call for float32, 55-57 against 46-53
for float64.  Everywhere else (other cores, other BLAS libraries) a tile's
GEMM stays one call, since a GEMM cut into calls is packed call by call.
"""

import functools
import os

# OpenBLAS cores with small-matrix GEMM kernels, and the bound on
# M * N * K below which OpenBLAS (0.3.16 and later) uses them.
SMALL_KERNEL_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})
SMALL_KERNEL_MACS = 1_000_000
SMALL_KERNEL_SINCE = (0, 3, 16)


def _version(text):
    """``"0.3.30.dev"`` -> ``(0, 3, 30)``; unknown parts count as 0."""
    parts = []
    for part in (text or "").split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def _is_scipys(library):
    """Whether a threadpoolctl record is the OpenBLAS of SciPy's wheel (``scipy.libs``)."""
    folder = os.path.basename(os.path.dirname(library.get("filepath") or ""))
    return library.get("internal_api") == "openblas" and folder.startswith("scipy")


@functools.lru_cache(maxsize=None)
def small_gemm_kernels():
    """Whether SciPy's BLAS has OpenBLAS's small-matrix kernels on this CPU.

    Returns
    -------
    bool
        False where SciPy's BLAS cannot be identified as such an OpenBLAS.
    """
    from threadpoolctl import threadpool_info

    library = next(filter(_is_scipys, threadpool_info()), None)
    if library is None:
        return False
    core = (library.get("architecture") or "").lower()
    return core in SMALL_KERNEL_CORES and _version(library.get("version")) >= SMALL_KERNEL_SINCE


def gemm_pixels(channels, filters):
    """Pixels per BLAS call of a tile's pointwise GEMM.

    Parameters
    ----------
    channels, filters : int
        The GEMM's inner dimension and its number of outputs per pixel.

    Returns
    -------
    int
        A multiple of 8 that keeps each call within the small-matrix kernels,
        or 0: the whole tile in one call.
    """
    if not small_gemm_kernels():
        return 0
    pixels = SMALL_KERNEL_MACS // (channels * filters)
    return pixels - pixels % 8
