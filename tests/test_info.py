"""``python -m sepconv info`` and ``sepconv.show_config()``."""

import importlib.machinery
import io
import json
import os
import platform
import sys

import pytest

import sepconv
from sepconv._native import _dispatch, _runtime


def test_info_prints_the_configuration(run_python):
    result = run_python("-m", "sepconv", "info")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"sepconv {sepconv.__version__}" in out
    assert "float32, float64" in out
    assert ("OpenMP       : on" if _runtime.openmp_enabled() else "OpenMP       : off") in out
    assert "threads      : " in out
    assert "BLAS         : " in out


def test_info_json(run_python):
    result = run_python("-m", "sepconv", "info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["version"] == sepconv.__version__
    assert info["dtypes"] == ["float32", "float64"]
    assert info["openmp"] is _runtime.openmp_enabled()
    assert isinstance(info["threads"], int) and info["threads"] >= 1
    assert info["isa"] in info["isa_available"]
    assert info["blas"], "no BLAS library reported"
    assert all(lib["internal_api"] and lib["num_threads"] >= 1 for lib in info["blas"])


def test_info_threads_follow_omp_num_threads(run_python):
    result = run_python(
        "-m", "sepconv", "info", "--json", env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["threads"] == 1


def test_help_lists_commands(run_python):
    for args in (["--help"], []):
        result = run_python("-m", "sepconv", *args)
        assert result.returncode == 0, result.stderr
        assert "info" in result.stdout
        assert "usage" in result.stdout.lower()


def test_unknown_command_fails(run_python):
    result = run_python("-m", "sepconv", "nonsense")
    assert result.returncode != 0
    assert "nonsense" in result.stderr


def test_show_config_writes_to_a_file():
    buffer = io.StringIO()
    sepconv.show_config(file=buffer)
    text = buffer.getvalue()
    info = sepconv.config_info()
    assert text.startswith(f"sepconv {info['version']}")
    assert f"threads      : {info['threads']} of {info['cpus']} CPUs" in text
    assert f"kernel ISA   : {info['isa']}" in text
    assert text.count("BLAS         :") == len(info["blas"])


@pytest.mark.parametrize("level", _dispatch.available_levels())
def test_sepconv_isa_selects_the_build(run_python, level):
    result = run_python(
        "-m", "sepconv", "info", "--json", env={**os.environ, "SEPCONV_ISA": level.upper()}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["isa"] == level


def test_sepconv_isa_unknown_level_refused(run_python):
    result = run_python("-c", "import sepconv", env={**os.environ, "SEPCONV_ISA": "sse9"})
    assert result.returncode != 0
    assert "SEPCONV_ISA='sse9'" in result.stderr


def test_kernels_for_unknown_level():
    with pytest.raises(ValueError, match="ISA level 'sse9' is not available"):
        _dispatch.kernels_for("sse9")


# --------------------------------------------------------------------------
# Every kernel build installed is listed, not only those this CPU runs


def _kernel_files():
    """Return the ISA levels of the ``_kernels_*`` extension files in the package folder.

    A file is a module ``_kernels_LEVEL`` when its name is that plus one of
    the interpreter's extension suffixes (``.so`` also ends the longer
    ``.cpython-311-x86_64-linux-gnu.so``: what it leaves is no identifier).
    """
    folder = os.path.dirname(_dispatch.__file__)
    modules = {
        name[: -len(suffix)]
        for name in os.listdir(folder)
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if name.endswith(suffix)
    }
    return {
        m[len("_kernels_") :] for m in modules if m.startswith("_kernels_") and m.isidentifier()
    }


def _levels_the_cpu_runs():
    """Return the ISA levels this CPU runs, read from /proc/cpuinfo (Linux only)."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next(line for line in fh if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags to check against")
    wants = {
        "avx2": {"avx2", "fma"},
        "avx512": {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"},
    }
    return {"baseline"} | {level for level, need in wants.items() if need <= set(flags)}


def test_built_levels_are_the_kernel_files_in_the_package():
    built = _dispatch.built_levels()
    assert set(built) == _kernel_files()
    assert built == [lv for lv in ("baseline", "avx2", "avx512") if lv in built]


def test_info_lists_every_kernel_build(run_python):
    built = [lv for lv in ("baseline", "avx2", "avx512") if lv in _kernel_files()]
    runs = [lv for lv in built if lv in _levels_the_cpu_runs()]
    result = run_python("-m", "sepconv", "info")
    assert result.returncode == 0, result.stderr
    want = f"kernel builds: {', '.join(built)} (this CPU runs: {', '.join(runs)})"
    assert want in result.stdout.splitlines()
    info = json.loads(run_python("-m", "sepconv", "info", "--json").stdout)
    assert info["isa_built"] == built
    assert set(info["isa_available"]) == set(runs)


def test_a_build_this_cpu_cannot_run_is_still_listed(monkeypatch):
    widest = _dispatch.built_levels()[-1]
    if widest == "baseline":
        pytest.skip("only the baseline build is installed")
    real = _runtime.cpu_supports
    monkeypatch.setattr(_runtime, "cpu_supports", lambda level: level != widest and real(level))
    info = sepconv.config_info()
    assert widest in info["isa_built"]
    assert widest not in info["isa_available"]
    buffer = io.StringIO()
    sepconv.show_config(file=buffer)
    line = next(x for x in buffer.getvalue().splitlines() if x.startswith("kernel builds:"))
    built, runs = line.split("(this CPU runs: ")
    assert widest in built and widest not in runs


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="what CI must have built")
@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32",
    reason="three builds on x86-64, but for MSVC's (see setup.py)",
)
def test_ci_info_lists_the_three_x86_builds(run_python):
    result = run_python("-m", "sepconv", "info")
    assert result.returncode == 0, result.stderr
    assert "kernel builds: baseline, avx2, avx512 (" in result.stdout
