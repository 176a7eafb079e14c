"""The Examples sections of the public docstrings, run as doctests.

Every public function and class (``sepconv.__all__`` and the ``__all__`` of
the public modules) has a numpydoc ``Examples`` section, and each one runs
here with the printed output compared.  They run against the ``sepconv``
the tests import (the installed package: after ``pip install .`` the source
tree has no compiled kernels, so pytest's ``--doctest-modules`` on the source
files would import the wrong copy).  Modules whose optional dependency is
absent are skipped.
"""

import doctest
import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

# The public modules, and the optional package each one's examples need.
PUBLIC_MODULES = {
    "sepconv": None,
    "sepconv.functional": None,
    "sepconv.gradients": None,
    "sepconv.layers": None,
    "sepconv.transformer": None,
    "sepconv.activations": None,
    "sepconv.initializers": None,
    "sepconv.regularizers": None,
    "sepconv.constraints": None,
    "sepconv.optimizers": None,
    "sepconv.config": None,
    "sepconv.saving": "h5py",
    "sepconv.dask": "dask",
}
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
API_REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "api.rst"


def public_names(module):
    """``__all__``, else the functions and classes the module defines without a leading underscore."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, obj in vars(module).items()
            if not name.startswith("_") and getattr(obj, "__module__", None) == module.__name__
        ]
    return names


def public_entries():
    """``(module name, name, object)`` of each public function and class, per module.

    The modules whose optional dependency is absent are left out, and so are
    their names re-exported elsewhere (``sepconv.load_keras_layers``).
    """
    for module_name in PUBLIC_MODULES:
        if _missing(module_name):
            continue
        module = importlib.import_module(module_name)
        for name in public_names(module):
            obj = getattr(module, name)
            if not inspect.ismodule(obj) and not _missing(obj.__module__):
                yield module_name, name, obj


def _missing(module_name):
    """Whether the optional dependency of ``module_name`` is absent."""
    requirement = PUBLIC_MODULES.get(module_name)
    return requirement is not None and importlib.util.find_spec(requirement) is None


def public_objects():
    """``(label, object)`` for each public function and class, each object once."""
    seen = {}
    for module_name, name, obj in public_entries():
        seen.setdefault(id(obj), (f"{module_name}.{name}", obj))
    return sorted(seen.values(), key=lambda item: item[0])


def _requirement_params():
    return [
        pytest.param(name, marks=pytest.mark.skip(reason=f"{requirement} is not installed"))
        for name, requirement in PUBLIC_MODULES.items()
        if _missing(name)
    ]


OBJECTS = public_objects()
DOCTESTS = [
    test
    for label, obj in OBJECTS
    for test in doctest.DocTestFinder().find(obj, label, module=False, globs={})
    if test.examples
]


@pytest.mark.parametrize(
    "obj", [pytest.param(obj, id=label) for label, obj in OBJECTS] + _requirement_params()
)
def test_public_name_has_examples(obj):
    doc = inspect.getdoc(obj) or ""
    assert "\nExamples\n--------\n" in doc, "no numpydoc Examples section"
    assert doctest.DocTestFinder(recurse=False).find(obj, module=False)[0].examples, (
        "the Examples section has no doctest"
    )


@pytest.mark.parametrize(
    "test", [pytest.param(test, id=test.name) for test in DOCTESTS] + _requirement_params()
)
def test_docstring_examples(test, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    report = []
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)


def documented_names(text):
    """``module.name`` of each autosummary entry of the API reference."""
    names = set()
    for block in re.split(r"^\.\. currentmodule:: ", text, flags=re.M)[1:]:
        module, _, body = block.partition("\n")
        names.update(f"{module}.{name}" for name in re.findall(r"^   (\w+)$", body, flags=re.M))
    return names


@pytest.mark.skipif(not API_REFERENCE.exists(), reason="docs/api.rst is not in this tree")
def test_api_reference_documents_every_public_name():
    import sepconv

    documented = documented_names(API_REFERENCE.read_text())
    missing = []
    for module_name, name, obj in public_entries():
        top_level = name in sepconv.__all__ and getattr(sepconv, name) is obj
        if f"{module_name}.{name}" not in documented:
            if not (top_level and f"sepconv.{name}" in documented):
                missing.append(f"{module_name}.{name}")
    assert not missing, f"not in docs/api.rst: {missing}"
