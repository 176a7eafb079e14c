"""Activation functions, named as Keras 3 names them, on NumPy arrays.

Every function takes an array and returns an array of the same float type.
The axis-wise ones (``softmax``, ``log_softmax``, ``sparsemax``, ``glu``) work
over ``axis=-1`` by default, as in Keras: the channel axis for
``"channels_last"`` output (Keras applies them to the last axis whatever the
data format, and so does :class:`sepconv.SeparableConv2D`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ._typing import Activation, FloatArray

__all__ = [
    "celu",
    "elu",
    "exponential",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "threshold",
    "get",
    "serialize",
    "deserialize",
    "gradient",
]

# SELU's constants (Klambauer et al., 2017).
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_HALF = 0.7071067811865476


def _float(x):
    """``x`` as a float array (integer input becomes float32, as in Keras)."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def _const(value, x):
    """``value`` as a scalar of ``x``'s dtype, so NumPy does not widen float32 to float64."""
    return x.dtype.type(value)


def linear(x: npt.ArrayLike) -> FloatArray:
    """Identity: ``x`` unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.linear(x)
    array([-2. , -0.5,  0. ,  0.5,  2. ])
    """
    return _float(x)


def relu(
    x: npt.ArrayLike,
    negative_slope: float = 0.0,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> FloatArray:
    """Rectified linear unit, with Keras's options.

    ``x`` above ``threshold`` (else 0), clipped to ``max_value`` when given,
    and ``negative_slope * (x - threshold)`` below the threshold.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.relu(x)
    array([0. , 0. , 0. , 0.5, 2. ])
    >>> activations.relu(x, negative_slope=0.1, max_value=1.0)
    array([-0.2 , -0.05,  0.  ,  0.5 ,  1.  ])
    """
    x = _float(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return leaky_relu(x, negative_slope)
    negative = np.maximum(_const(threshold, x) - x, 0) if negative_slope != 0.0 else None
    if threshold != 0:
        y = np.where(x > _const(threshold, x), x, _const(0, x))
    else:
        y = np.maximum(x, _const(0, x))
    if max_value is not None:
        y = np.clip(y, _const(0, x), _const(max_value, x))
    if negative is not None:
        y = y - _const(negative_slope, x) * negative
    return y


def leaky_relu(x: npt.ArrayLike, negative_slope: float = 0.2) -> FloatArray:
    """``x`` for positive ``x``, ``negative_slope * x`` otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.leaky_relu(x)
    array([-0.40000001, -0.1       ,  0.        ,  0.5       ,  2.        ])
    """
    x = _float(x)
    # TensorFlow holds the slope as a float32 attribute, so Keras's float64
    # results carry its float32 rounding; so do these.
    return np.where(x > 0, x, _const(np.float32(negative_slope), x) * x)


def relu6(x: npt.ArrayLike) -> FloatArray:
    """ReLU capped at 6.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> activations.relu6(np.array([-1.0, 3.0, 8.0]))
    array([0., 3., 6.])
    """
    x = _float(x)
    return np.clip(x, _const(0, x), _const(6, x))


def elu(x: npt.ArrayLike, alpha: float = 1.0) -> FloatArray:
    """``x`` for ``x >= 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.elu(x), 4)
    array([-0.8647, -0.3935,  0.    ,  0.5   ,  2.    ])
    """
    x = _float(x)
    return np.where(x >= 0, x, _const(alpha, x) * np.expm1(np.minimum(x, 0)))


def selu(x: npt.ArrayLike) -> FloatArray:
    """Scaled ELU with the self-normalising constants.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.selu(x), 4)
    array([-1.5202, -0.6918,  0.    ,  0.5254,  2.1014])
    """
    x = _float(x)
    return _const(_SELU_SCALE, x) * elu(x, _SELU_ALPHA)


def celu(x: npt.ArrayLike, alpha: float = 1.0) -> FloatArray:
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.celu(x, alpha=0.5), 4)
    array([-0.4908, -0.3161,  0.    ,  0.5   ,  2.    ])
    """
    x = _float(x)
    alpha = _const(alpha, x)
    return np.maximum(x, 0) + alpha * np.expm1(np.minimum(x, 0) / alpha)


def gelu(x: npt.ArrayLike, approximate: bool = False) -> FloatArray:
    """Gaussian error linear unit; ``approximate=True`` uses the tanh formula.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.gelu(x), 4)
    array([-0.0455, -0.1543,  0.    ,  0.3457,  1.9545])
    >>> np.round(activations.gelu(x, approximate=True), 4)
    array([-0.0454, -0.1543,  0.    ,  0.3457,  1.9546])
    """
    x = _float(x)
    if approximate:
        # TensorFlow casts the cubic coefficient through float32; Keras uses it.
        inner = _const(np.sqrt(2 / np.pi), x) * (x + _const(np.float32(0.044715), x) * x**3)
        return _const(0.5, x) * x * (1 + np.tanh(inner))
    # erfc(-z) = 1 + erf(z) without cancellation for negative x; 1/sqrt(2)
    # rounded to float32, as TensorFlow's gelu (Keras's backend) holds it.
    # scipy.special is imported here: it costs a tenth of a second at import.
    from scipy import special

    return (x * special.erfc(-x * _const(np.float32(_SQRT_HALF), x)) / 2).astype(x.dtype)


def sigmoid(x: npt.ArrayLike) -> FloatArray:
    """``1 / (1 + exp(-x))``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.sigmoid(x), 4)
    array([0.1192, 0.3775, 0.5   , 0.6225, 0.8808])
    """
    from scipy import special

    x = _float(x)
    return special.expit(x).astype(x.dtype)


def hard_sigmoid(x: npt.ArrayLike) -> FloatArray:
    """Piecewise-linear sigmoid: ``clip(x / 6 + 0.5, 0, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> activations.hard_sigmoid(np.array([-4.0, 0.0, 1.5, 4.0]))
    array([0.  , 0.5 , 0.75, 1.  ])
    """
    x = _float(x)
    return np.clip(x / _const(6, x) + _const(0.5, x), _const(0, x), _const(1, x))


def sparse_sigmoid(x: npt.ArrayLike) -> FloatArray:
    """0 below -1, 1 above 1, ``(x + 1) / 2`` between.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.sparse_sigmoid(x)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    x = _float(x)
    return np.clip((x + 1) / _const(2, x), _const(0, x), _const(1, x))


def log_sigmoid(x: npt.ArrayLike) -> FloatArray:
    """``log(sigmoid(x)) = -softplus(-x)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.log_sigmoid(x), 4)
    array([-2.1269, -0.9741, -0.6931, -0.4741, -0.1269])
    """
    return -softplus(-_float(x))


def silu(x: npt.ArrayLike) -> FloatArray:
    """``x * sigmoid(x)`` (also called swish).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.silu(x), 4)
    array([-0.2384, -0.1888,  0.    ,  0.3112,  1.7616])
    """
    x = _float(x)
    return x * sigmoid(x)


def hard_silu(x: npt.ArrayLike) -> FloatArray:
    """``x * hard_sigmoid(x)`` (also called hard_swish).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> activations.hard_silu(np.array([-4.0, 0.0, 1.5, 4.0]))
    array([-0.   ,  0.   ,  1.125,  4.   ])
    """
    x = _float(x)
    return x * hard_sigmoid(x)


def mish(x: npt.ArrayLike) -> FloatArray:
    """``x * tanh(softplus(x))``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.mish(x), 4)
    array([-0.2525, -0.2207,  0.    ,  0.3752,  1.944 ])
    """
    x = _float(x)
    return x * np.tanh(softplus(x))


def softplus(x: npt.ArrayLike) -> FloatArray:
    """``log(1 + exp(x))``, computed without overflow.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.softplus(x), 4)
    array([0.1269, 0.4741, 0.6931, 0.9741, 2.1269])
    """
    x = _float(x)
    return np.logaddexp(x, _const(0, x))


def softsign(x: npt.ArrayLike) -> FloatArray:
    """``x / (1 + |x|)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> activations.softsign(np.array([-3.0, 0.0, 1.0]))
    array([-0.75,  0.  ,  0.5 ])
    """
    x = _float(x)
    return x / (np.abs(x) + 1)


def squareplus(x: npt.ArrayLike, b: float = 4) -> FloatArray:
    """``(x + sqrt(x**2 + b)) / 2``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> activations.squareplus(np.array([0.0, 1.5]))
    array([1., 2.])
    """
    x = _float(x)
    return (x + np.sqrt(x**2 + _const(b, x))) / 2


def sparse_plus(x: npt.ArrayLike) -> FloatArray:
    """0 below -1, ``x`` above 1, ``(x + 1)**2 / 4`` between.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.sparse_plus(x)
    array([0.    , 0.0625, 0.25  , 0.5625, 2.    ])
    """
    x = _float(x)
    return np.where(x <= -1, _const(0, x), np.where(x < 1, (x + 1) ** 2 / 4, x))


def tanh(x: npt.ArrayLike) -> FloatArray:
    """Hyperbolic tangent.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.tanh(x), 4)
    array([-0.964 , -0.4621,  0.    ,  0.4621,  0.964 ])
    """
    return np.tanh(_float(x))


def tanh_shrink(x: npt.ArrayLike) -> FloatArray:
    """``x - tanh(x)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.tanh_shrink(x), 4)
    array([-1.036 , -0.0379,  0.    ,  0.0379,  1.036 ])
    """
    x = _float(x)
    return x - np.tanh(x)


def hard_tanh(x: npt.ArrayLike) -> FloatArray:
    """``clip(x, -1, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.hard_tanh(x)
    array([-1. , -0.5,  0. ,  0.5,  1. ])
    """
    x = _float(x)
    return np.clip(x, _const(-1, x), _const(1, x))


def soft_shrink(x: npt.ArrayLike, threshold: float = 0.5) -> FloatArray:
    """``x`` moved ``threshold`` towards zero, 0 within ``threshold`` of it.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.soft_shrink(x)
    array([-1.5,  0. ,  0. ,  0. ,  1.5])
    """
    x = _float(x)
    t = _const(threshold, x)
    return np.where(x > t, x - t, np.where(x < -t, x + t, _const(0, x)))


def hard_shrink(x: npt.ArrayLike, threshold: float = 0.5) -> FloatArray:
    """``x`` where ``|x| > threshold``, 0 elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.hard_shrink(x)
    array([-2.,  0.,  0.,  0.,  2.])
    """
    x = _float(x)
    return np.where(np.abs(x) > _const(threshold, x), x, _const(0, x))


def threshold(x: npt.ArrayLike, threshold: float, default_value: float) -> FloatArray:
    """``x`` where ``x > threshold``, ``default_value`` elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.threshold(x, 0.1, -1.0)
    array([-1. , -1. , -1. ,  0.5,  2. ])
    """
    x = _float(x)
    return np.where(x > threshold, x, _const(default_value, x))


def exponential(x: npt.ArrayLike) -> FloatArray:
    """``exp(x)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> np.round(activations.exponential(x), 4)
    array([0.1353, 0.6065, 1.    , 1.6487, 7.3891])
    """
    return np.exp(_float(x))


def softmax(x: npt.ArrayLike, axis: int = -1) -> FloatArray:
    """Softmax over ``axis``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> y = activations.softmax(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    >>> np.round(y, 4)
    array([[0.09  , 0.2447, 0.6652],
           [0.3333, 0.3333, 0.3333]])
    >>> np.allclose(y.sum(axis=-1), 1.0)
    True
    """
    x = _float(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x: npt.ArrayLike, axis: int = -1) -> FloatArray:
    """Log of the softmax over ``axis``, computed stably.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> y = activations.log_softmax(np.array([[1.0, 2.0, 3.0]]))
    >>> np.round(y, 4)
    array([[-2.4076, -1.4076, -0.4076]])
    >>> np.allclose(np.exp(y).sum(axis=-1), 1.0)
    True
    """
    x = _float(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def sparsemax(x: npt.ArrayLike, axis: int = -1) -> FloatArray:
    """Euclidean projection of ``x`` onto the simplex along ``axis`` (Martins & Astudillo).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> activations.sparsemax(np.array([[2.0, 1.0, -1.0]]))
    array([[1., 0., 0.]])
    """
    x = _float(x)
    ranked = -np.sort(-x, axis=axis)
    cumulative = np.cumsum(ranked, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    k = np.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    support = ranked - (cumulative - 1) / k > 0
    size = support.sum(axis=axis, keepdims=True)
    tau = (np.where(support, cumulative, 0).sum(axis=axis, keepdims=True) - 1) / size
    return np.maximum(x - tau.astype(x.dtype), _const(0, x))


def glu(x: npt.ArrayLike, axis: int = -1) -> FloatArray:
    """Gated linear unit: ``a * sigmoid(b)``, ``a`` and ``b`` the halves of ``x`` along ``axis``.

    Raises
    ------
    ValueError
        If the size of ``axis`` is odd.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> activations.glu(np.array([[1.0, 2.0, 0.0, 0.0]]))
    array([[0.5, 1. ]])
    """
    x = _float(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu needs an even size along axis {axis}; received shape {x.shape}")
    a, b = np.split(x, 2, axis=axis)
    return a * sigmoid(b)


swish = silu
hard_swish = hard_silu

_BUILTINS = {
    fn.__name__: fn
    for fn in (
        celu,
        elu,
        exponential,
        gelu,
        glu,
        hard_shrink,
        hard_sigmoid,
        hard_silu,
        hard_tanh,
        leaky_relu,
        linear,
        log_sigmoid,
        log_softmax,
        mish,
        relu,
        relu6,
        selu,
        sigmoid,
        silu,
        soft_shrink,
        softmax,
        softplus,
        softsign,
        sparse_plus,
        sparse_sigmoid,
        sparsemax,
        squareplus,
        tanh,
        tanh_shrink,
        threshold,
    )
}
_ALIASES = {"swish": silu, "hard_swish": hard_silu}


def get(identifier: Activation | dict[str, Any]) -> Callable[..., Any]:
    """Return the activation function for ``identifier``.

    Parameters
    ----------
    identifier : None, str, dict or callable
        ``None`` means :func:`linear`; a name (``"relu"``, ``"swish"``, ...);
        a Keras config dict naming a built-in function; or any callable
        taking and returning an array.

    Raises
    ------
    ValueError
        If ``identifier`` names no activation.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.get("relu") is activations.relu
    True
    >>> activations.get("swish") is activations.silu
    True
    >>> activations.get(None)(x)
    array([-2. , -0.5,  0. ,  0.5,  2. ])
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation identifier: {identifier!r}")


def serialize(activation: Callable[..., Any]) -> str | dict[str, Any]:
    """Return the Keras name of a built-in activation, or a Keras 3 dict for a named function.

    Raises
    ------
    ValueError
        For a callable without a usable name (a lambda, a partial).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> activations.serialize(activations.relu)
    'relu'
    """
    for builtin, fn in _BUILTINS.items():
        if activation is fn:
            return builtin
    name = getattr(activation, "__name__", None)
    if not callable(activation) or name is None or name == "<lambda>":
        raise ValueError(
            f"Cannot serialize activation {activation!r}: use a built-in name or a "
            "named function (loaded back through `custom_objects`)"
        )
    return {
        "module": getattr(activation, "__module__", None),
        "class_name": "function",
        "config": name,
        "registered_name": name,
    }


def deserialize(
    config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Callable[..., Any]:
    """Return the activation named by ``config``: a name or a Keras function dict.

    ``custom_objects`` maps more names to functions.

    Raises
    ------
    ValueError
        For a name that is neither built-in nor in ``custom_objects``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> activations.deserialize("gelu") is activations.gelu
    True
    >>> config = {"class_name": "function", "config": "relu", "module": "keras.activations"}
    >>> activations.deserialize(config) is activations.relu
    True
    """
    name = config
    if isinstance(config, dict):
        name = config.get("config") if config.get("class_name") == "function" else None
    fn = None
    if isinstance(name, str):
        fn = (custom_objects or {}).get(name) or _BUILTINS.get(name) or _ALIASES.get(name)
    if fn is None:
        raise ValueError(
            f"Could not interpret activation identifier: {config!r}; known names: "
            f"{', '.join(sorted({*_BUILTINS, *_ALIASES}))}"
        )
    return fn


# --------------------------------------------------------------------------
# Derivatives, for the backward pass (sepconv.gradients, SeparableConv2D.backward)


def _sigmoid_of(x):
    from scipy import special

    return special.expit(x).astype(x.dtype)


def _hard_sigmoid_slope(x):
    return np.where((x > -3) & (x < 3), _const(1 / 6, x), _const(0, x))


def _gelu_slope(x, approximate=False):
    if approximate:
        c, k = _const(np.sqrt(2 / np.pi), x), _const(np.float32(0.044715), x)
        t = np.tanh(c * (x + k * x**3))
        return (1 + t) / 2 + x / 2 * (1 - t * t) * c * (1 + 3 * k * x * x)
    from scipy import special

    cdf = special.ndtr(x)
    pdf = np.exp(-x * x / 2) * _const(1 / np.sqrt(2 * np.pi), x)
    return (cdf + x * pdf).astype(x.dtype)


def _mish_slope(x):
    t = np.tanh(softplus(x))
    return t + x * (1 - t * t) * _sigmoid_of(x)


# The derivative of each element-wise built-in, as a function of its input.
_SLOPES: dict[Callable, Callable[[np.ndarray], np.ndarray]] = {
    linear: lambda x: np.ones_like(x),
    relu: lambda x: (x > 0).astype(x.dtype),
    leaky_relu: lambda x: np.where(x > 0, _const(1, x), _const(np.float32(0.2), x)),
    relu6: lambda x: ((x > 0) & (x < 6)).astype(x.dtype),
    elu: lambda x: np.where(x > 0, _const(1, x), np.exp(np.minimum(x, 0))),
    selu: lambda x: (
        _const(_SELU_SCALE, x)
        * np.where(x > 0, _const(1, x), _const(_SELU_ALPHA, x) * np.exp(np.minimum(x, 0)))
    ),
    celu: lambda x: np.where(x > 0, _const(1, x), np.exp(np.minimum(x, 0))),
    gelu: _gelu_slope,
    sigmoid: lambda x: _sigmoid_of(x) * (1 - _sigmoid_of(x)),
    hard_sigmoid: _hard_sigmoid_slope,
    sparse_sigmoid: lambda x: np.where(np.abs(x) < 1, _const(0.5, x), _const(0, x)),
    log_sigmoid: lambda x: _sigmoid_of(-x),
    silu: lambda x: _sigmoid_of(x) * (1 + x * (1 - _sigmoid_of(x))),
    hard_silu: lambda x: hard_sigmoid(x) + x * _hard_sigmoid_slope(x),
    mish: _mish_slope,
    softplus: _sigmoid_of,
    softsign: lambda x: 1 / (1 + np.abs(x)) ** 2,
    squareplus: lambda x: (1 + x / np.sqrt(x * x + _const(4, x))) / 2,
    sparse_plus: lambda x: np.where(
        x <= -1, _const(0, x), np.where(x < 1, (x + 1) / 2, _const(1, x))
    ),
    tanh: lambda x: 1 - np.tanh(x) ** 2,
    tanh_shrink: lambda x: np.tanh(x) ** 2,
    # tf.clip_by_value's gradient passes on the closed interval
    hard_tanh: lambda x: ((x >= -1) & (x <= 1)).astype(x.dtype),
    soft_shrink: lambda x: (np.abs(x) > 0.5).astype(x.dtype),
    hard_shrink: lambda x: (np.abs(x) > 0.5).astype(x.dtype),
    exponential: np.exp,
}


def _softmax_vjp(x, dy):
    y = softmax(x)
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


def _log_softmax_vjp(x, dy):
    return dy - softmax(x) * dy.sum(axis=-1, keepdims=True)


# Axis-wise built-ins: their vector-Jacobian product over the last axis.
_VJPS: dict[Callable, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    softmax: _softmax_vjp,
    log_softmax: _log_softmax_vjp,
}


def gradient(activation: Callable[..., Any], x: npt.ArrayLike, dy: npt.ArrayLike) -> FloatArray:
    """Return ``dy`` times the derivative of ``activation`` at ``x`` (the backward step).

    Parameters
    ----------
    activation : callable
        A built-in activation of this module, as :func:`get` returns it,
        with its default arguments.  ``softmax`` and ``log_softmax`` work
        over the last axis.
    x : numpy.ndarray
        The activation's input (the pre-activation output of the layer).
    dy : numpy.ndarray
        Gradient of the loss with respect to ``activation(x)``.

    Returns
    -------
    numpy.ndarray
        Gradient of the loss with respect to ``x``, in ``x``'s float type.
        Kinks (ReLU at 0, ...) take the derivative TensorFlow takes there.

    Raises
    ------
    ValueError
        For an activation without a derivative here (a user function,
        ``sparsemax``, ``glu``, ``threshold``); the message names it.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import activations
    >>> x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    >>> activations.gradient(activations.relu, x, np.ones_like(x))
    array([0., 0., 0., 1., 1.])
    >>> dy = activations.gradient(activations.tanh, x, np.ones_like(x))
    >>> np.allclose(dy, 1 - np.tanh(x) ** 2)
    True
    """
    x = _float(x)
    dy = np.asarray(dy, dtype=x.dtype)
    if activation in _VJPS:
        return _VJPS[activation](x, dy).astype(x.dtype)
    if activation in _SLOPES:
        return (dy * _SLOPES[activation](x)).astype(x.dtype)
    raise ValueError(
        f"no derivative is known for the activation {activation!r}; differentiable "
        f"activations: {', '.join(sorted(fn.__name__ for fn in (*_SLOPES, *_VJPS)))}"
    )
