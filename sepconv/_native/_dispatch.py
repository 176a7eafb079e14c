"""Choose the kernel build for the running CPU.

setup.py compiles the kernels once per ISA level the compiler can target
(``baseline`` everywhere; ``avx2`` and ``avx512`` on x86-64).  The widest level
that is both built and supported by the CPU is used, unless the environment
variable ``SEPCONV_ISA`` names another one (for testing and benchmarking).
"""

import importlib
import importlib.util
import os

from . import _runtime  # type: ignore[attr-defined]  # compiled, no annotations

LEVELS = ("avx512", "avx2", "baseline")


def _module(level):
    try:
        return importlib.import_module(f"sepconv._native._kernels_{level}")
    except ImportError:
        return None


def built_levels():
    """Return the ISA levels whose kernel build this installation carries, narrowest first.

    Found without importing them: a build for a wider ISA than the CPU's is
    listed too (a wheel for x86-64 carries all three).
    """
    return [
        lv for lv in reversed(LEVELS) if importlib.util.find_spec(f"sepconv._native._kernels_{lv}")
    ]


def available_levels():
    """Return the ISA levels that are built and that this CPU can run, widest first."""
    return [lv for lv in LEVELS if _runtime.cpu_supports(lv) and _module(lv) is not None]


def _select():
    levels = available_levels()
    wanted = os.environ.get("SEPCONV_ISA", "").strip().lower()
    if not wanted:
        return levels[0]
    if wanted not in levels:
        raise ImportError(
            f"SEPCONV_ISA={wanted!r} is not available here; available levels: {levels}"
        )
    return wanted


LEVEL = _select()
kernels = _module(LEVEL)


def kernels_for(level):
    """Return the kernel module of ``level`` (for tests comparing the builds).

    Raises
    ------
    ValueError
        If ``level`` is not built or not supported by this CPU.
    """
    if level not in available_levels():
        raise ValueError(f"ISA level {level!r} is not available; see available_levels()")
    return _module(level)
