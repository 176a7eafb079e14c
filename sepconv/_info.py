"""What this installation of sepconv is running on: ``sepconv.show_config()``."""

from __future__ import annotations

import platform
from typing import Any, TextIO

import numpy as np

from . import __version__
from ._native import _blas, _dispatch, _runtime, _threads  # type: ignore[attr-defined]


def config_info() -> dict[str, Any]:
    """Return a dict describing the build and the runtime.

    Keys: version, python, numpy, machine, dtypes, openmp, threads (what
    ``n_threads=None`` uses now), cpus, isa (kernel build in use),
    isa_available, blas (threadpoolctl's view of the BLAS libraries loaded,
    SciPy's among them), blas_in_kernels (how BLAS is held at one thread in
    the kernels' threads: "thread-local", the count each thread saw, or
    "process-wide" for BLAS libraries without a per-thread limit).

    Examples
    --------
    >>> import sepconv
    >>> info = sepconv.config_info()
    >>> info["version"] == sepconv.__version__
    True
    >>> sorted(info["dtypes"])
    ['float32', 'float64']
    """
    import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS so it is listed)
    from threadpoolctl import threadpool_info

    return {
        "version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()} {_cpu_name()}".strip(),
        "dtypes": ["float32", "float64"],
        "openmp": _runtime.openmp_enabled(),
        "threads": _threads.effective_n_threads(None),
        "cpus": _threads.cpu_count(),
        "isa": _dispatch.LEVEL,
        "isa_built": _dispatch.built_levels(),
        "isa_available": _dispatch.available_levels(),
        "blas": [
            {
                k: lib.get(k)
                for k in (
                    "internal_api",
                    "version",
                    "num_threads",
                    "threading_layer",
                    "architecture",
                    "filepath",
                )
            }
            for lib in threadpool_info()
            if lib.get("user_api") == "blas"
        ],
        "blas_in_kernels": _blas_in_kernels(),
    }


def _blas_in_kernels():
    setter, shared = _blas.thread_local_limit()
    if not setter:
        return "process-wide limit of 1 during calls"
    inside, _ = _dispatch.kernels.blas_threads_in_kernels(
        _threads.effective_n_threads(None), setter, shared, _blas.thread_count_getter()
    )
    counts = ", ".join(str(count) for count in sorted(set(inside)))
    kind = "shared by the process" if shared else "per thread"
    return f"{counts} in each of {len(inside)} kernel threads (thread-local limit, {kind})"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def show_config(file: TextIO | None = None) -> None:
    """Print the build and runtime configuration (see :func:`config_info`).

    Examples
    --------
    >>> import io
    >>> import sepconv
    >>> out = io.StringIO()
    >>> sepconv.show_config(file=out)
    >>> out.getvalue().startswith("sepconv")
    True
    """
    info = config_info()
    lines = [
        f"sepconv {info['version']} (Python {info['python']}, NumPy {info['numpy']})",
        f"machine      : {info['machine']}",
        f"dtypes       : {', '.join(info['dtypes'])}",
        "OpenMP       : "
        + ("on" if info["openmp"] else "off (built without OpenMP: serial kernels)"),
        f"threads      : {info['threads']} of {info['cpus']} CPUs",
        f"kernel ISA   : {info['isa']}",
        f"kernel builds: {', '.join(info['isa_built'])} "
        f"(this CPU runs: {', '.join(reversed(info['isa_available']))})",
    ]
    lines.append(f"BLAS threads : {info['blas_in_kernels']}")
    for lib in info["blas"]:
        lines.append(
            f"BLAS         : {lib['internal_api']} {lib['version']} "
            f"({lib['threading_layer']}, {lib['architecture']}, "
            f"{lib['num_threads']} threads) {lib['filepath']}"
        )
    print("\n".join(lines), file=file)
