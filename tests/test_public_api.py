"""The public API: every name in each module's ``__all__`` exists and is documented, and
every public-looking function or class a module defines is in its ``__all__``."""

import importlib
import inspect
import subprocess
import sys

import pytest

import sepconv

# The modules whose names users call.  sepconv.dask and sepconv.transformer
# are imported explicitly (they bring Dask and scikit-learn); the others are
# reached from ``import sepconv``.
PUBLIC_MODULES = [
    "sepconv",
    "sepconv.activations",
    "sepconv.config",
    "sepconv.constraints",
    "sepconv.dask",
    "sepconv.functional",
    "sepconv.gradients",
    "sepconv.initializers",
    "sepconv.layers",
    "sepconv.optimizers",
    "sepconv.random",
    "sepconv.regularizers",
    "sepconv.saving",
    "sepconv.transformer",
]
IMPORTED_EXPLICITLY = {"sepconv.dask", "sepconv.transformer"}


def public_names(module_name):
    module = importlib.import_module(module_name)
    return [(module, name) for name in module.__all__]


ALL_NAMES = [pair for name in PUBLIC_MODULES for pair in public_names(name)]


@pytest.mark.parametrize("module, name", ALL_NAMES, ids=[f"{m.__name__}.{n}" for m, n in ALL_NAMES])
def test_every_name_in_all_exists_and_has_a_docstring(module, name):
    obj = getattr(module, name)
    doc = inspect.getdoc(obj)
    assert doc and doc.strip(), f"{module.__name__}.{name} has no docstring"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_has_no_duplicates(module_name):
    names = importlib.import_module(module_name).__all__
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES[1:])
def test_every_public_definition_is_in_all(module_name):
    # A function or class defined here without a leading underscore is
    # public: it must be in __all__ (helpers are named _like_this).
    module = importlib.import_module(module_name)
    defined = [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module_name
    ]
    assert defined
    assert sorted(set(defined) - set(module.__all__)) == []


@pytest.mark.parametrize("module_name", sorted(set(PUBLIC_MODULES[1:]) - IMPORTED_EXPLICITLY))
def test_every_public_name_is_reached_from_the_top(module_name):
    # Either the module is in sepconv.__all__, or sepconv exports each of its
    # names (the same objects).
    module = importlib.import_module(module_name)
    short = module_name.removeprefix("sepconv.")
    if short in sepconv.__all__:
        assert getattr(sepconv, short) is module
        return
    for name in module.__all__:
        assert name in sepconv.__all__, f"{module_name}.{name} is not in sepconv.__all__"
        assert getattr(sepconv, name) is getattr(module, name)


def test_star_import_gives_exactly_all_without_loading_dask():
    code = (
        "import sys\n"
        "namespace = {}\n"
        "exec('from sepconv import *', namespace)\n"
        "import sepconv\n"
        "assert sorted(set(namespace) - {'__builtins__'}) == sorted(sepconv.__all__)\n"
        "assert 'dask' not in sys.modules and 'sepconv.dask' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_transformer_is_listed_by_dir():
    assert "SeparableConvFeatures" in dir(sepconv)
    assert (
        sepconv.SeparableConvFeatures
        is importlib.import_module("sepconv.transformer").SeparableConvFeatures
    )


def test_unknown_attribute_names_itself():
    with pytest.raises(AttributeError, match="module 'sepconv' has no attribute 'nope'"):
        sepconv.nope  # noqa: B018


def test_py_typed_marker_is_shipped():
    # PEP 561: type checkers read the package's annotations only with it.
    from importlib.resources import files

    assert files("sepconv").joinpath("py.typed").is_file()


def public_callables():
    """Every public function, and every public method (with __init__ and __call__) of a class."""
    seen = set()
    for module, name in ALL_NAMES:
        obj = getattr(module, name)
        if inspect.ismodule(obj) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj
        elif inspect.isclass(obj):
            # inherited methods too, from private bases such as Serializable
            for attr in dir(obj):
                if attr.startswith("_") and attr not in ("__init__", "__call__"):
                    continue
                member = inspect.getattr_static(obj, attr)
                function = getattr(member, "fget", None) or getattr(member, "__func__", member)
                if (
                    inspect.isfunction(function)
                    and function.__module__.startswith("sepconv")
                    and id(function) not in seen
                ):
                    seen.add(id(function))
                    yield f"{module.__name__}.{name}.{attr}", function


CALLABLES = list(public_callables())


@pytest.mark.parametrize("function", [f for _, f in CALLABLES], ids=[n for n, _ in CALLABLES])
def test_public_callables_are_annotated(function):
    # mypy checks that the annotations are right; this checks that none is missing.
    signature = inspect.signature(function)
    missing = [
        p.name
        for p in signature.parameters.values()
        if p.annotation is inspect.Parameter.empty and p.name not in ("self", "cls")
    ]
    assert missing == []
    assert signature.return_annotation is not inspect.Signature.empty
