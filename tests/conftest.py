"""Shared test configuration: hypothesis profiles and fixtures.

Hypothesis profiles: ``ci`` (the default: few examples, no deadline, so the
whole suite stays fast on two cores) and ``thorough`` (many examples), picked
with the environment variable ``HYPOTHESIS_PROFILE``.
"""

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, settings

import sepconv
from sepconv._native import _dispatch

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=600,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=_dispatch.available_levels())
def isa_level(request, monkeypatch):
    """Every kernel build this CPU can run, installed as the one the API calls."""
    module = _dispatch.kernels_for(request.param)
    monkeypatch.setattr(_dispatch, "kernels", module)
    return request.param


@pytest.fixture
def run_python(tmp_path):
    """Run ``python ARGS...`` in a fresh process that imports this same sepconv.

    The child runs in an empty folder (so a source checkout without built
    extensions cannot shadow the package) with the folder holding the
    imported sepconv first on its path.
    """
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(sepconv.__file__)))

    def run(*args, env=None):
        child_env = dict(os.environ if env is None else env)
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, child_env.get("PYTHONPATH")) if p
        )
        return subprocess.run(
            [sys.executable, *args],
            cwd=tmp_path,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
