"""``python -m sepconv info`` and ``sepconv.show_config()``."""

import io
import json
import os

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
