"""Weight and activity regularizers, named and configured as Keras 3 names them.

A regularizer is called on an array and returns a scalar penalty in the
array's float type; :attr:`sepconv.SeparableConv2D.losses` collects them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._serialization import Serializable, Vocabulary
from ._typing import FloatArray

__all__ = [
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "OrthogonalRegularizer",
    "l1",
    "l2",
    "l1_l2",
    "orthogonal_regularizer",
    "get",
    "serialize",
    "deserialize",
]


class Regularizer(Serializable):
    """Base class: ``regularizer(x)`` returns a scalar penalty.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import regularizers
    >>> w = np.array([[1.0, -2.0], [0.5, 0.0]])
    >>> penalty = regularizers.L2(0.1)
    >>> isinstance(penalty, regularizers.Regularizer)
    True
    >>> round(float(penalty(w)), 6)
    0.525
    >>> penalty.gradient(w)
    array([[ 0.2       , -0.40000001],
           [ 0.1       ,  0.        ]])
    """

    def __call__(self, x: npt.ArrayLike) -> float:
        x = np.asarray(x)
        return x.dtype.type(self._penalty(x))

    def _penalty(self, x):
        raise NotImplementedError

    def gradient(self, x: npt.ArrayLike) -> FloatArray:
        """Return the derivative of the penalty with respect to ``x``, in ``x``'s float type.

        Raises
        ------
        ValueError
            For a regularizer without a derivative here (OrthogonalRegularizer).
        """
        x = np.asarray(x)
        return self._slope(x).astype(x.dtype, copy=False)

    def _slope(self, x):
        raise ValueError(f"no gradient is known for the regularizer {self!r}")


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; both factors default to 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import regularizers
    >>> w = np.array([[1.0, -2.0], [0.5, 0.0]])
    >>> round(float(regularizers.L1L2(l1=0.1, l2=0.1)(w)), 6)
    0.875
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def _penalty(self, x):
        total = x.dtype.type(0)
        if self.l1:
            total += _l1(x, self.l1)
        if self.l2:
            total += _l2(x, self.l2)
        return total

    def _slope(self, x):
        total = np.zeros_like(x)
        if self.l1:
            total += _l1_slope(x, self.l1)
        if self.l2:
            total += _l2_slope(x, self.l2)
        return total

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import regularizers
    >>> w = np.array([[1.0, -2.0], [0.5, 0.0]])
    >>> round(float(regularizers.L1(0.1)(w)), 6)
    0.35
    >>> regularizers.L1(0.1).gradient(w)
    array([[ 0.1, -0.1],
           [ 0.1,  0. ]])
    """

    def __init__(self, l1: float = 0.01) -> None:
        # Keras holds this factor as a float32 tensor, so its config (and the
        # penalty) carry float32 rounding: 0.01 becomes 0.009999999776482582.
        self.l1 = float(np.float32(_factor(0.01 if l1 is None else l1, "l1")))

    def _penalty(self, x):
        return _l1(x, self.l1)

    def _slope(self, x):
        return _l1_slope(x, self.l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import regularizers
    >>> w = np.array([[1.0, -2.0], [0.5, 0.0]])
    >>> round(float(regularizers.L2(0.1)(w)), 6)
    0.525
    >>> regularizers.L2(0.1).gradient(w)
    array([[ 0.2       , -0.40000001],
           [ 0.1       ,  0.        ]])
    """

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = _factor(0.01 if l2 is None else l2, "l2")

    def _penalty(self, x):
        return _l2(x, self.l2)

    def _slope(self, x):
        return _l2_slope(x, self.l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalises non-orthogonal rows (or columns) of a 2-D weight.

    ``factor * 0.5 * sum(|P - diag(P)|) / (n * (n - 1) / 2)``, ``P`` the
    Gram matrix of the L2-normalised rows (``mode="rows"``) or columns.
    Only rank-2 weights are accepted, as in Keras.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import regularizers
    >>> orthogonal = regularizers.OrthogonalRegularizer(factor=0.01)
    >>> float(orthogonal(np.eye(3)))
    0.0
    >>> float(orthogonal(np.ones((3, 3)))) > 0
    True
    """

    _MODES = ("rows", "columns")

    def __init__(self, factor: float = 0.01, mode: Literal["rows", "columns"] = "rows") -> None:
        # float32 rounding of the factor, as Keras stores it (see L1).
        self.factor = float(np.float32(_factor(factor, "factor")))
        if mode not in self._MODES:
            raise ValueError(f"`mode` must be one of {self._MODES}; received mode={mode!r}")
        self.mode = mode

    def _penalty(self, x):
        if x.ndim != 2:
            raise ValueError(
                f"OrthogonalRegularizer needs a rank-2 input; received shape {x.shape}"
            )
        vectors = x if self.mode == "rows" else x.T
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1, norms)
        size = vectors.shape[0]
        product = vectors @ vectors.T
        off_diagonal = np.abs(product).sum() - np.abs(np.diag(product)).sum()
        return x.dtype.type(self.factor) * 0.5 * off_diagonal / (size * (size - 1.0) / 2.0)

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "mode": self.mode}


# Keras exports the classes under these lower-case names too.
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer


def _l1(x, factor):
    return _as_keras_casts(factor, x) * np.abs(x).sum(dtype=x.dtype)


def _l2(x, factor):
    return _as_keras_casts(factor, x) * np.square(x).sum(dtype=x.dtype)


def _l1_slope(x, factor):
    # the derivative of |x| TensorFlow takes: sign(x), 0 at 0
    return _as_keras_casts(factor, x) * np.sign(x)


def _l2_slope(x, factor):
    return _as_keras_casts(factor, x) * 2 * x


def _as_keras_casts(factor, x):
    """``factor`` in ``x``'s dtype, through float32 as Keras's TensorFlow backend casts it.

    Keras turns the Python float into a float32 tensor before casting it to
    float64, so float64 penalties carry float32 rounding of the factor.
    """
    return x.dtype.type(np.float32(factor))


def _factor(value, name):
    """Return ``value`` as a float, checking that it is finite and non-negative."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"`{name}` must be a non-negative finite float; received {name}={value!r}")
    return float(value)


_VOCABULARY = Vocabulary(
    "regularizer",
    "keras.regularizers",
    [L1, L2, L1L2, OrthogonalRegularizer],
    aliases={"l1_l2": L1L2},
)


def get(identifier: object) -> Regularizer | Callable[..., Any] | None:
    """Return the regularizer for ``identifier``.

    Parameters
    ----------
    identifier : None, str, dict, class or callable
        A name (``"l1"``, ``"l2"``, ``"l1l2"``/``"l1_l2"``,
        ``"orthogonal_regularizer"`` or the class names), a Keras 3 or
        tf.keras 2.x config dict, a class (instantiated with its defaults) or
        a callable ``f(weights) -> scalar``.

    Raises
    ------
    ValueError
        If ``identifier`` names no regularizer.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import regularizers
    >>> regularizers.get("l2")
    L2(l2=0.01)
    >>> regularizers.get(None) is None
    True
    """
    return _VOCABULARY.get(identifier)


def serialize(regularizer: Regularizer) -> dict[str, Any]:
    """Return the Keras 3 config dict of ``regularizer`` (None for None).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import regularizers
    >>> regularizers.serialize(regularizers.L2(0.5))
    {'module': 'keras.regularizers', 'class_name': 'L2',
     'config': {'l2': 0.5}, 'registered_name': None}
    """
    return _VOCABULARY.serialize(regularizer)


def deserialize(
    config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Regularizer | Callable[..., Any]:
    """Build a regularizer from a config dict or name; ``custom_objects`` adds names.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import regularizers
    >>> config = regularizers.serialize(regularizers.L2(0.5))
    >>> regularizers.deserialize(config) == regularizers.L2(0.5)
    True
    """
    return _VOCABULARY.deserialize(config, custom_objects)
