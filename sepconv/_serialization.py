"""Keras-compatible (de)serialization shared by the vocabulary modules.

Keras 3 writes an object as ``{"module", "class_name", "config",
"registered_name"}``; tf.keras 2.x writes ``{"class_name", "config"}``.
Both are read here; Keras 3's form is written, so that Keras 3 can load our
configs.
"""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

_S = TypeVar("_S", bound="Serializable")


class Serializable:
    """Base of every vocabulary class: a config is the constructor's keywords."""

    def get_config(self) -> dict[str, Any]:
        """Return the constructor keywords that rebuild this object."""
        return {}

    @classmethod
    def from_config(cls: type[_S], config: dict[str, Any]) -> _S:
        """Build an object from the output of :meth:`get_config`.

        Raises
        ------
        TypeError
            For a key that the constructor does not take.
        """
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def split_config(config, kind):
    """Return ``(class_name, config)`` of a Keras 3 or tf.keras 2.x object dict.

    Raises
    ------
    ValueError
        If ``config`` lacks ``"class_name"`` or its ``"config"`` is not a dict.
    """
    inner = config.get("config", {})
    if "class_name" not in config or not isinstance(inner, (dict, str)):
        raise ValueError(
            f"Could not interpret {kind} config: expected a dict with 'class_name' "
            f"and 'config' keys; received {config!r}"
        )
    return config["class_name"], inner


class Vocabulary:
    """The named classes of one Keras module (initializers, regularizers, constraints).

    Parameters
    ----------
    kind : str
        What the classes are, for error messages ("initializer", ...).
    module : str
        The Keras module written into serialized configs.
    classes : iterable of type
        Each is known by its class name and its snake_case name.
    aliases : dict, optional
        More names for some of the classes.
    """

    def __init__(self, kind, module, classes, aliases=None):
        self.kind = kind
        self.module = module
        self.classes = {}
        for cls in classes:
            self.classes[cls.__name__] = cls
            self.classes[_snake_case(cls.__name__)] = cls
        self.classes.update(aliases or {})

    def serialize(self, obj):
        """Return the Keras 3 dict of ``obj`` (``None`` for ``None``)."""
        if obj is None:
            return None
        if not isinstance(obj, Serializable):
            raise ValueError(
                f"Cannot serialize {self.kind} {obj!r}: only sepconv {self.kind} "
                "objects have a config"
            )
        return {
            "module": self.module,
            "class_name": type(obj).__name__,
            "config": obj.get_config(),
            "registered_name": None,
        }

    def deserialize(self, config, custom_objects=None):
        """Build the object that ``config`` (a dict or a name) describes.

        Raises
        ------
        ValueError
            For a name that is neither one of ours nor in ``custom_objects``.
        """
        if isinstance(config, str):
            return self._class(config, custom_objects)()
        if not isinstance(config, dict):
            raise ValueError(f"Could not interpret {self.kind} identifier: {config!r}")
        class_name, inner = split_config(config, self.kind)
        return self._class(class_name, custom_objects).from_config(dict(inner))

    def get(self, identifier):
        """Return the object for ``identifier``: None, a name, a config dict, a class or a callable.

        Raises
        ------
        ValueError
            If ``identifier`` is none of these.
        """
        if identifier is None:
            return None
        if isinstance(identifier, (str, dict)):
            return self.deserialize(identifier)
        if inspect.isclass(identifier):
            return identifier()
        if callable(identifier):
            return identifier
        raise ValueError(f"Could not interpret {self.kind} identifier: {identifier!r}")

    def _class(self, name, custom_objects):
        cls = (custom_objects or {}).get(name) or self.classes.get(name)
        if cls is None:
            known = ", ".join(sorted(n for n in self.classes if n[0].islower()))
            raise ValueError(
                f"Could not interpret {self.kind} identifier: {name!r}; known names: {known}"
            )
        return cls


def _snake_case(name):
    """``"GlorotUniform"`` -> ``"glorot_uniform"``, ``"L1L2"`` -> ``"l1l2"``, as Keras does."""
    out = []
    for i, ch in enumerate(name):
        starts_word = (
            ch.isupper()
            and i > 0
            and (name[i - 1].islower() or (i + 1 < len(name) and name[i + 1].islower()))
        )
        out.append(("_" if starts_word else "") + ch.lower())
    return "".join(out)
