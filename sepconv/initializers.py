"""Weight initializers, named and configured as Keras 3 names them.

Each initializer is called as ``initializer(shape, dtype=None)`` and returns a
NumPy array (float32 by default, float64 on request).  Random initializers
take ``seed``: an integer gives the same values at every call; ``None`` draws
a seed from :mod:`sepconv.random` when the initializer is created, so
:func:`sepconv.random.set_random_seed` makes layer creation reproducible.

Fans follow Keras's receptive-field rule (:func:`compute_fans`): for a
depthwise kernel ``(kh, kw, C, dm)`` that is ``fan_in = kh*kw*C`` and
``fan_out = kh*kw*dm``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _dtypes, random
from ._serialization import Serializable, Vocabulary
from ._typing import FloatArray

__all__ = [
    "Initializer",
    "RandomInitializer",
    "Constant",
    "Zeros",
    "Ones",
    "Identity",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "LecunUniform",
    "Orthogonal",
    "compute_fans",
    "get",
    "serialize",
    "deserialize",
]

# Keras's truncated normal keeps draws within two standard deviations; this is
# the standard deviation of a unit normal truncated there.
_TRUNCATED_STDDEV = 0.87962566103423978


class Initializer(Serializable):
    """Base class: ``initializer(shape, dtype=None)`` returns a new array.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> init = initializers.Ones()
    >>> isinstance(init, initializers.Initializer)
    True
    >>> init((2, 3), dtype="float32")
    array([[1., 1., 1.],
           [1., 1., 1.]], dtype=float32)
    """

    def __call__(self, shape: Sequence[int], dtype: npt.DTypeLike | None = None) -> FloatArray:
        dtype = _dtypes.float_dtype(dtype)
        return np.asarray(self._values(tuple(shape), dtype), dtype=dtype)

    def _values(self, shape, dtype):
        raise NotImplementedError


class Constant(Initializer):
    """Every entry equal to ``value``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> initializers.Constant(0.5)((2, 2))
    array([[0.5, 0.5],
           [0.5, 0.5]], dtype=float32)
    """

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def _values(self, shape, dtype):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class Zeros(Initializer):
    """All zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> initializers.Zeros()((3,))
    array([0., 0., 0.], dtype=float32)
    """

    def _values(self, shape, dtype):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    """All ones.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> initializers.Ones()((3,))
    array([1., 1., 1.], dtype=float32)
    """

    def _values(self, shape, dtype):
        return np.ones(shape, dtype=dtype)


class Identity(Initializer):
    """``gain`` times the identity matrix; 2-D shapes only.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> initializers.Identity(gain=2.0)((2, 3))
    array([[2., 0., 0.],
           [0., 2., 0.]], dtype=float32)
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def _values(self, shape, dtype):
        if len(shape) != 2:
            raise ValueError(
                "Identity initializer can only be used for 2-D shapes; "
                f"received shape={shape} of rank {len(shape)}"
            )
        return self.gain * np.eye(*shape, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Base of the random initializers: holds the seed.

    Parameters
    ----------
    seed : int or None
        An int makes every call give the same values; ``None`` draws a seed
        from the global generator now.

    Examples
    --------
    >>> from sepconv import initializers
    >>> init = initializers.GlorotUniform(seed=0)
    >>> isinstance(init, initializers.RandomInitializer)
    True
    >>> bool((init((3, 3)) == init((3, 3))).all())
    True
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._seed = random._draw_seed() if seed is None else seed
        random._generator(self._seed)  # validates the seed before any use

    def _generator(self):
        return random._generator(self._seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Normal distribution with ``mean`` and ``stddev``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> init = initializers.RandomNormal(seed=0)
    >>> w = init((64, 32))
    >>> w.shape, w.dtype
    ((64, 32), dtype('float32'))
    >>> np.array_equal(w, initializers.RandomNormal(seed=0)((64, 32)))
    True
    >>> abs(float(w.std()) - 0.05) < 0.005
    True
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def _values(self, shape, dtype):
        return self._generator().normal(self.mean, self.stddev, shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """Normal distribution with draws beyond two ``stddev`` of ``mean`` redrawn.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> init = initializers.TruncatedNormal(seed=0)
    >>> w = init((64, 32))
    >>> w.shape, w.dtype
    ((64, 32), dtype('float32'))
    >>> np.array_equal(w, initializers.TruncatedNormal(seed=0)((64, 32)))
    True
    >>> bool(np.abs(w).max() <= 2 * 0.05)
    True
    """

    def _values(self, shape, dtype):
        return self.mean + self.stddev * _truncated_unit_normal(self._generator(), shape)


class RandomUniform(RandomInitializer):
    """Uniform distribution on ``[minval, maxval)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> init = initializers.RandomUniform(seed=0)
    >>> w = init((64, 32))
    >>> w.shape, w.dtype
    ((64, 32), dtype('float32'))
    >>> np.array_equal(w, initializers.RandomUniform(seed=0)((64, 32)))
    True
    >>> bool(-0.05 <= w.min() and w.max() < 0.05)
    True
    """

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def _values(self, shape, dtype):
        return self._generator().uniform(self.minval, self.maxval, shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(RandomInitializer):
    """Samples with variance ``scale / n``, ``n`` a fan chosen by ``mode``.

    Parameters
    ----------
    scale : float
        Positive.
    mode : {"fan_in", "fan_out", "fan_avg"}
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}
        ``"normal"`` means ``"truncated_normal"``.  Truncated normal draws
        are rescaled so the variance stays ``scale / n``; uniform draws lie in
        ``[-sqrt(3 * scale / n), sqrt(3 * scale / n)]``.
    seed : int or None
    input_axes, output_axes : sequence of int, optional
        When both are given, the fans are the products of these axes.

    Raises
    ------
    ValueError
        For a non-positive ``scale``, or an unknown ``mode`` or ``distribution``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> init = initializers.VarianceScaling(
    ...     scale=2.0, mode="fan_in", distribution="untruncated_normal", seed=0
    ... )
    >>> w = init((3, 3, 64, 32))
    >>> w.shape
    (3, 3, 64, 32)
    >>> bool(abs(w.var() / (2.0 / (3 * 3 * 64)) - 1) < 0.05)
    True
    >>> init.get_config()["mode"]
    'fan_in'
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self,
        scale: float = 1.0,
        mode: Literal["fan_in", "fan_out", "fan_avg"] = "fan_in",
        distribution: Literal[
            "truncated_normal", "untruncated_normal", "uniform"
        ] = "truncated_normal",
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ) -> None:
        if not scale > 0:
            raise ValueError(f"`scale` must be a positive float; received scale={scale!r}")
        if mode not in self._MODES:
            raise ValueError(f"`mode` must be one of {self._MODES}; received mode={mode!r}")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in self._DISTRIBUTIONS:
            raise ValueError(
                f"`distribution` must be one of {self._DISTRIBUTIONS}; "
                f"received distribution={distribution!r}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = dist
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def _values(self, shape, dtype):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        variance = self.scale / max(1.0, fan[self.mode])
        rng = self._generator()
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / _TRUNCATED_STDDEV
            return stddev * _truncated_unit_normal(rng, shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), shape)
        limit = math.sqrt(3.0 * variance)
        return rng.uniform(-limit, limit, shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A :class:`VarianceScaling` whose scale, mode and distribution are set by the class."""

    _SETTINGS: dict[str, Any] = {}

    def __init__(
        self,
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ) -> None:
        super().__init__(
            **self._SETTINGS, seed=seed, input_axes=input_axes, output_axes=output_axes
        )

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with variance ``2 / (fan_in + fan_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> w = initializers.GlorotNormal(seed=0)((3, 3, 16, 8))
    >>> w.shape, w.dtype
    ((3, 3, 16, 8), dtype('float32'))
    >>> initializers.GlorotNormal(seed=0).get_config()
    {'seed': 0, 'input_axes': None, 'output_axes': None}
    """

    _SETTINGS = {"scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal"}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> w = initializers.GlorotUniform(seed=0)((3, 3, 16, 8))
    >>> w.shape, w.dtype
    ((3, 3, 16, 8), dtype('float32'))
    >>> initializers.GlorotUniform(seed=0).get_config()
    {'seed': 0, 'input_axes': None, 'output_axes': None}
    """

    _SETTINGS = {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform"}


class HeNormal(_FixedVarianceScaling):
    """Truncated normal with variance ``2 / fan_in``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> w = initializers.HeNormal(seed=0)((3, 3, 16, 8))
    >>> w.shape, w.dtype
    ((3, 3, 16, 8), dtype('float32'))
    >>> initializers.HeNormal(seed=0).get_config()
    {'seed': 0, 'input_axes': None, 'output_axes': None}
    """

    _SETTINGS = {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}


class HeUniform(_FixedVarianceScaling):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> w = initializers.HeUniform(seed=0)((3, 3, 16, 8))
    >>> w.shape, w.dtype
    ((3, 3, 16, 8), dtype('float32'))
    >>> initializers.HeUniform(seed=0).get_config()
    {'seed': 0, 'input_axes': None, 'output_axes': None}
    """

    _SETTINGS = {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with variance ``1 / fan_in``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> w = initializers.LecunNormal(seed=0)((3, 3, 16, 8))
    >>> w.shape, w.dtype
    ((3, 3, 16, 8), dtype('float32'))
    >>> initializers.LecunNormal(seed=0).get_config()
    {'seed': 0, 'input_axes': None, 'output_axes': None}
    """

    _SETTINGS = {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}


class LecunUniform(_FixedVarianceScaling):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> w = initializers.LecunUniform(seed=0)((3, 3, 16, 8))
    >>> w.shape, w.dtype
    ((3, 3, 16, 8), dtype('float32'))
    >>> initializers.LecunUniform(seed=0).get_config()
    {'seed': 0, 'input_axes': None, 'output_axes': None}
    """

    _SETTINGS = {"scale": 1.0, "mode": "fan_in", "distribution": "uniform"}


class Orthogonal(RandomInitializer):
    """``gain`` times a random orthogonal matrix, reshaped (all axes but the last are rows).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> w = initializers.Orthogonal(seed=0)((32, 32))
    >>> np.allclose(w @ w.T, np.eye(32), atol=1e-5)
    True
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        self.gain = gain
        super().__init__(seed=seed)

    def _values(self, shape, dtype):
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal initializer needs a shape of rank 2 or more; received shape={shape}"
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        q, r = np.linalg.qr(self._generator().standard_normal((max(rows, cols), min(rows, cols))))
        # Signs of R's diagonal make the distribution uniform over orthogonal matrices.
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gain": self.gain}


def compute_fans(
    shape: Sequence[int],
    input_axes: Sequence[int] | None = None,
    output_axes: Sequence[int] | None = None,
) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight of ``shape`` the Keras way.

    Rank 0: (1, 1); rank 1: (n, n); rank 2: (rows, cols); higher ranks are
    convolution kernels ``(..., in, out)``: the receptive field (product of
    the leading axes) times ``in`` and times ``out``.  When ``input_axes`` and
    ``output_axes`` are both given, the fans are the products of those axes.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> initializers.compute_fans((3, 3, 16, 8))
    (144, 72)
    >>> initializers.compute_fans((64, 32))
    (64, 32)
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return (math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes))
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _truncated_unit_normal(rng, shape):
    """Unit normal draws, those beyond 2 redrawn until none is."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values


_VOCABULARY = Vocabulary(
    "initializer",
    "keras.initializers",
    [
        Constant,
        Zeros,
        Ones,
        Identity,
        RandomNormal,
        RandomUniform,
        TruncatedNormal,
        VarianceScaling,
        GlorotNormal,
        GlorotUniform,
        HeNormal,
        HeUniform,
        LecunNormal,
        LecunUniform,
        Orthogonal,
    ],
    aliases={
        "normal": RandomNormal,
        "uniform": RandomUniform,
        "one": Ones,
        "zero": Zeros,
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
    },
)


def get(identifier: object) -> Initializer | Callable[..., Any] | None:
    """Return the initializer for ``identifier``.

    Parameters
    ----------
    identifier : None, str, dict, class or callable
        A name (``"glorot_uniform"`` or ``"GlorotUniform"``), a Keras 3 or
        tf.keras 2.x config dict, an initializer class (instantiated with its
        defaults) or a callable ``f(shape, dtype=None)``.

    Raises
    ------
    ValueError
        If ``identifier`` names no initializer.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> initializers.get("glorot_uniform")
    GlorotUniform(seed=None, input_axes=None, output_axes=None)
    >>> initializers.get({"class_name": "Constant", "config": {"value": 2.0}})
    Constant(value=2.0)
    """
    return _VOCABULARY.get(identifier)


def serialize(initializer: Initializer) -> dict[str, Any]:
    """Return the Keras 3 config dict of ``initializer``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> initializers.serialize(initializers.Constant(2.0))
    {'module': 'keras.initializers', 'class_name': 'Constant',
     'config': {'value': 2.0}, 'registered_name': None}
    """
    return _VOCABULARY.serialize(initializer)


def deserialize(
    config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Initializer | Callable[..., Any]:
    """Build an initializer from a config dict or name; ``custom_objects`` adds names.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import initializers
    >>> config = initializers.serialize(initializers.HeNormal(seed=1))
    >>> initializers.deserialize(config) == initializers.HeNormal(seed=1)
    True
    """
    return _VOCABULARY.deserialize(config, custom_objects)
