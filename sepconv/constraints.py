"""Weight constraints, named and configured as Keras 3 names them.

A constraint maps a weight array to its projected value.  The layer does not
apply constraints in the forward pass; :meth:`sepconv.SeparableConv2D.apply_constraints`
applies them, as Keras's optimizer does after each update.

``axis`` is the axis (or axes) the norm runs over, on the full weight: for
the depthwise kernel ``(kh, kw, C, dm)`` Keras's default ``axis=0`` takes the
norm over kernel rows only; ``axis=[0, 1, 2]`` bounds each filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._serialization import Serializable, Vocabulary
from ._typing import FloatArray
from .config import epsilon

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "unit_norm",
    "get",
    "serialize",
    "deserialize",
]


class Constraint(Serializable):
    """Base class: ``constraint(w)`` returns the constrained weight (same dtype).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import constraints
    >>> constraint = constraints.NonNeg()
    >>> isinstance(constraint, constraints.Constraint)
    True
    >>> constraint(np.array([-1.0, 2.0]))
    array([0., 2.])
    """

    def __call__(self, w: npt.ArrayLike) -> FloatArray:
        w = np.asarray(w)
        return np.asarray(self._project(w), dtype=w.dtype)

    def _project(self, w):
        return w


class _NormConstraint(Constraint):
    """A constraint that rescales ``w`` by ``desired_norm / (epsilon + norm)``."""

    def __init__(self, axis: int | Sequence[int] = 0) -> None:
        self.axis = axis

    def _project(self, w):
        axis = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        norms = np.sqrt(np.square(w).sum(axis=axis, keepdims=True))
        return w * (self._desired(norms) / (epsilon() + norms))

    def _desired(self, norms):
        raise NotImplementedError


class MaxNorm(_NormConstraint):
    """Norms along ``axis`` clipped to at most ``max_value``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import constraints
    >>> w = np.array([[3.0, 0.5], [4.0, 0.0]])
    >>> np.round(constraints.MaxNorm(max_value=2.0)(w), 4)
    array([[1.2, 0.5],
           [1.6, 0. ]])
    >>> constraints.MaxNorm(2.0).get_config()
    {'max_value': 2.0, 'axis': 0}
    """

    def __init__(self, max_value: float = 2, axis: int | Sequence[int] = 0) -> None:
        self.max_value = max_value
        super().__init__(axis)

    def _desired(self, norms):
        return np.clip(norms, 0, self.max_value)

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(_NormConstraint):
    """Norms along ``axis`` moved towards ``[min_value, max_value]`` at ``rate``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import constraints
    >>> w = np.array([[3.0, 0.1], [4.0, 0.0]])
    >>> np.round(np.linalg.norm(constraints.MinMaxNorm(0.5, 1.0)(w), axis=0), 4)
    array([1. , 0.5])
    """

    def __init__(
        self,
        min_value: float = 0.0,
        max_value: float = 1.0,
        rate: float = 1.0,
        axis: int | Sequence[int] = 0,
    ) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        super().__init__(axis)

    def _desired(self, norms):
        return self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class UnitNorm(_NormConstraint):
    """Norms along ``axis`` set to one.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import constraints
    >>> w = np.array([[3.0, 1.0], [4.0, 1.0]])
    >>> np.round(np.linalg.norm(constraints.UnitNorm()(w), axis=0), 4)
    array([1., 1.])
    """

    def _desired(self, norms):
        return 1.0

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class NonNeg(Constraint):
    """Negative entries set to zero.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import constraints
    >>> constraints.NonNeg()(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """

    def _project(self, w):
        return np.maximum(w, 0)


# Keras exports the classes under these lower-case names too.
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_VOCABULARY = Vocabulary("constraint", "keras.constraints", [MaxNorm, MinMaxNorm, NonNeg, UnitNorm])


def get(identifier: object) -> Constraint | Callable[..., Any] | None:
    """Return the constraint for ``identifier``.

    Parameters
    ----------
    identifier : None, str, dict, class or callable
        A name (``"max_norm"``, ``"min_max_norm"``, ``"non_neg"``,
        ``"unit_norm"`` or the class names), a Keras 3 or tf.keras 2.x config
        dict, a class (instantiated with its defaults) or a callable
        ``f(w) -> w``.

    Raises
    ------
    ValueError
        If ``identifier`` names no constraint.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import constraints
    >>> constraints.get("max_norm")
    MaxNorm(max_value=2, axis=0)
    >>> constraints.get(None) is None
    True
    """
    return _VOCABULARY.get(identifier)


def serialize(constraint: Constraint) -> dict[str, Any]:
    """Return the Keras 3 config dict of ``constraint`` (None for None).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import constraints
    >>> constraints.serialize(constraints.MaxNorm(3))
    {'module': 'keras.constraints', 'class_name': 'MaxNorm',
     'config': {'max_value': 3, 'axis': 0}, 'registered_name': None}
    """
    return _VOCABULARY.serialize(constraint)


def deserialize(
    config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Constraint | Callable[..., Any]:
    """Build a constraint from a config dict or name; ``custom_objects`` adds names.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import constraints
    >>> config = constraints.serialize(constraints.MaxNorm(3))
    >>> constraints.deserialize(config) == constraints.MaxNorm(3)
    True
    >>> constraints.deserialize("non_neg")
    NonNeg()
    """
    return _VOCABULARY.deserialize(config, custom_objects)
