"""Keras 3's optimizers ``SGD`` and ``Adam`` on NumPy arrays, updated in place.

Same argument names, defaults, update rules and configs as Keras 3.15
(``keras.optimizers.SGD`` and ``keras.optimizers.Adam``)::

    opt = sepconv.optimizers.Adam(learning_rate=1e-3, amsgrad=True)
    layer(x, training=True)
    layer.backward(dy)
    opt.apply(layer.gradients, layer)       # updates, then the weights' constraints

``apply(gradients, arrays)`` takes any float arrays (filters, an image being
optimised) and updates them in place; the optimizer keeps one slot per
array (momentum, moments), created on the first call and matched by
position afterwards.

As in Keras: the learning rate, momentum, betas (in their powers) and
weight decay reach a float64 array with float32 rounding (Keras holds the
learning rate in a float32 variable and casts Python floats through float32
tensors); the gradients are unscaled (``loss_scale_factor``), clipped
(``clipnorm``, ``clipvalue`` or ``global_clipnorm``), weight decay is
applied (``variable -= variable * weight_decay * learning_rate``), then the
update step.  Learning-rate schedules, EMA and gradient accumulation are not
supported (a ValueError says so).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._typing import FloatArray

if TYPE_CHECKING:
    from .layers import SeparableConv2D

__all__ = ["Optimizer", "SGD", "Adam", "get", "serialize", "deserialize"]


class Optimizer:
    """Keras 3's ``BaseOptimizer`` arguments, gradient preprocessing and ``apply``.

    Subclasses define ``_slots`` (the state arrays one variable needs) and
    ``_update_step``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import optimizers
    >>> opt = optimizers.SGD(learning_rate=0.1)
    >>> isinstance(opt, optimizers.Optimizer)
    True
    >>> w = np.array([1.0, -2.0])
    >>> opt.apply([2 * w], [w])
    >>> w
    array([ 0.8       , -1.59999999])
    >>> opt.iterations
    1
    """

    def __init__(
        self,
        learning_rate: float,
        name: str,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
    ) -> None:
        self.learning_rate = _real(learning_rate, "learning_rate")
        self.name = name
        self.weight_decay = _optional_real(weight_decay, "weight_decay")
        self.clipnorm = _optional_real(clipnorm, "clipnorm")
        self.clipvalue = _optional_real(clipvalue, "clipvalue")
        self.global_clipnorm = _optional_real(global_clipnorm, "global_clipnorm")
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clips.values()) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set; "
                f"received {', '.join(f'{k}={v!r}' for k, v in clips.items())}"
            )
        if use_ema or gradient_accumulation_steps is not None:
            raise ValueError(
                "sepconv's optimizers do not support `use_ema` or "
                f"`gradient_accumulation_steps`; received use_ema={use_ema!r}, "
                f"gradient_accumulation_steps={gradient_accumulation_steps!r}"
            )
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = _optional_real(loss_scale_factor, "loss_scale_factor")
        self.gradient_accumulation_steps = None
        self.iterations = 0
        # per array: its slots; built by the first apply
        self._state: list[list[np.ndarray]] | None = None
        # (shape, dtype) of each array of the first apply
        self._built_for: list[tuple] | None = None

    # ------------------------------------------------------------------

    def apply(
        self,
        gradients: Sequence[npt.ArrayLike | None],
        arrays: list[FloatArray] | tuple[FloatArray, ...] | SeparableConv2D,
    ) -> None:
        """Update ``arrays`` in place from ``gradients``, as Keras's ``optimizer.apply``.

        Parameters
        ----------
        gradients : list of array_like or None
            One per array, of its shape; a None gradient leaves its array
            alone (as Keras skips variables without a gradient).
        arrays : list of numpy.ndarray or SeparableConv2D
            Writable float arrays; a layer means its :attr:`trainable_weights`,
            whose constraints are applied after the update.

        Raises
        ------
        ValueError
            If the counts or shapes differ, from each other or from the
            first call's arrays.
        TypeError
            If an array is not a writable float NumPy array.
        """
        if isinstance(arrays, (list, tuple)):
            layer, variables = None, list(arrays)
        else:
            layer, variables = arrays, list(arrays.trainable_weights)
        gradients = list(gradients)
        state = self._check(gradients, variables)
        updated = [i for i, g in enumerate(gradients) if g is not None]
        grads = [np.asarray(gradients[i], dtype=variables[i].dtype) for i in updated]
        if self.loss_scale_factor is not None:
            grads = [g / g.dtype.type(self.loss_scale_factor) for g in grads]
        grads = self._clip(grads)
        self._decay([variables[i] for i in updated])
        for i, g in zip(updated, grads, strict=True):
            self._update_step(g, variables[i], state[i])
        self.iterations += 1
        if layer is not None:
            layer.apply_constraints()

    def get_config(self) -> dict[str, Any]:
        """Return the Keras 3 config (``keras.optimizers.<class>.from_config`` loads it)."""
        return {
            "name": self.name,
            # Keras reports its float32 variable's value
            "learning_rate": float(np.float32(self.learning_rate)),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Build the optimizer from a config of :meth:`get_config` or Keras 3.

        Raises
        ------
        TypeError
            For a key that is not an argument.
        """
        return cls(**config)

    # ------------------------------------------------------------------

    def _check(self, gradients, variables):
        """Check the arrays against the gradients and the first call; return the slots."""
        if len(gradients) != len(variables):
            raise ValueError(
                f"`gradients` has {len(gradients)} entries but there are "
                f"{len(variables)} arrays to update"
            )
        for i, (g, v) in enumerate(zip(gradients, variables, strict=True)):
            if not isinstance(v, np.ndarray) or v.dtype.kind != "f" or not v.flags.writeable:
                raise TypeError(
                    f"`arrays[{i}]` must be a writable float NumPy array (updated in "
                    f"place); received {type(v).__name__} "
                    f"{getattr(v, 'dtype', '')}".rstrip()
                )
            if g is not None and np.shape(g) != v.shape:
                raise ValueError(
                    f"`gradients[{i}]` has shape {np.shape(g)} but `arrays[{i}]` has "
                    f"shape {v.shape}"
                )
        shapes = [(v.shape, v.dtype) for v in variables]
        if self._state is None:
            self._built_for = shapes
            self._state = [self._slots(v) for v in variables]
        elif shapes != self._built_for:
            raise ValueError(
                f"optimizer {self.name!r} was built for arrays of (shape, dtype) "
                f"{self._built_for}; received {shapes}"
            )
        return self._state

    def _clip(self, grads):
        """Keras's clipping: by each gradient's norm, by value, or by the global norm."""
        if self.clipnorm is not None:
            return [_clip_by_norm(g, self.clipnorm) for g in grads]
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue).astype(g.dtype) for g in grads]
        if self.global_clipnorm is not None and grads:
            norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
            # Keras: clip * min(1 / norm, 1 / clip), applied even when under the norm
            scale = self.global_clipnorm * min(
                1 / norm if norm else math.inf, 1 / self.global_clipnorm
            )
            return [g * g.dtype.type(scale) for g in grads]
        return grads

    def _decay(self, variables):
        if self.weight_decay is None:
            return
        for v in variables:
            v -= v * _keras_cast(self.weight_decay, v) * self._lr(v)

    def _lr(self, variable):
        """The learning rate as Keras holds it: a float32 variable, cast to the variable's."""
        return _keras_cast(self.learning_rate, variable)

    def _slots(self, variable):
        raise NotImplementedError

    def _update_step(self, gradient, variable, slots):
        raise NotImplementedError


class SGD(Optimizer):
    """Gradient descent with momentum, as ``keras.optimizers.SGD``.

    ``m = momentum * m - learning_rate * g``, then ``w += m`` (or with
    ``nesterov=True``, ``w += momentum * m - learning_rate * g``); without
    momentum ``w -= learning_rate * g``.

    Parameters
    ----------
    learning_rate : float, default=0.01
    momentum : float, default=0.0
        In [0, 1].
    nesterov : bool, default=False
    name : str, default="SGD"
    **kwargs
        Keras's base optimizer arguments: ``weight_decay``, ``clipnorm``,
        ``clipvalue``, ``global_clipnorm``, ``loss_scale_factor`` (and
        ``use_ema``, ``ema_momentum``, ``ema_overwrite_frequency``,
        ``gradient_accumulation_steps`` at their defaults).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import optimizers
    >>> w = np.array([1.0, -2.0])
    >>> opt = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    >>> for _ in range(200):
    ...     opt.apply([2 * w], [w])
    >>> np.allclose(w, 0, atol=1e-3)
    True
    >>> opt.get_config()["momentum"]
    0.9
    """

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        name: str = "SGD",
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, name, **kwargs)
        self.momentum = _real(momentum, "momentum")
        if not 0 <= self.momentum <= 1:
            raise ValueError(
                f"`momentum` must be a float between [0, 1]; received momentum={momentum!r}"
            )
        self.nesterov = bool(nesterov)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _slots(self, variable):
        return [np.zeros_like(variable)] if self.momentum != 0 else []

    def _update_step(self, gradient, variable, slots):
        lr = self._lr(variable)
        if not slots:
            variable -= gradient * lr
            return
        (m,) = slots
        momentum = _keras_cast(self.momentum, variable)
        m[...] = m * momentum - gradient * lr
        if self.nesterov:
            variable += m * momentum - gradient * lr
        else:
            variable += m


class Adam(Optimizer):
    """Adam, as ``keras.optimizers.Adam`` (with ``amsgrad``, the maximum of past v).

    With ``t`` the step (from 1), ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``,
    ``m += (g - m) * (1 - beta_1)``, ``v += (g**2 - v) * (1 - beta_2)``,
    ``w -= m * alpha / (sqrt(v) + epsilon)``.

    Parameters
    ----------
    learning_rate : float, default=0.001
    beta_1 : float, default=0.9
    beta_2 : float, default=0.999
    epsilon : float, default=1e-7
    amsgrad : bool, default=False
    name : str, default="adam"
    **kwargs
        Keras's base optimizer arguments, as in :class:`SGD`.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import optimizers
    >>> w = np.array([1.0, -2.0])
    >>> opt = optimizers.Adam(learning_rate=0.1)
    >>> for _ in range(300):
    ...     opt.apply([2 * w], [w])
    >>> np.allclose(w, 0, atol=1e-2)
    True
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        name: str = "adam",
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, name, **kwargs)
        self.beta_1 = _real(beta_1, "beta_1")
        self.beta_2 = _real(beta_2, "beta_2")
        self.epsilon = _real(epsilon, "epsilon")
        self.amsgrad = bool(amsgrad)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }

    def _slots(self, variable):
        return [np.zeros_like(variable) for _ in range(3 if self.amsgrad else 2)]

    def _update_step(self, gradient, variable, slots):
        t = variable.dtype.type
        step = t(self.iterations + 1)
        beta_1_power = _keras_cast(self.beta_1, variable) ** step
        beta_2_power = _keras_cast(self.beta_2, variable) ** step
        alpha = self._lr(variable) * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m, v = slots[:2]
        m += (gradient - m) * t(1 - self.beta_1)
        v += (np.square(gradient) - v) * t(1 - self.beta_2)
        if self.amsgrad:
            v_hat = slots[2]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        variable -= (m * alpha) / (np.sqrt(v) + t(self.epsilon))


# Names are case-insensitive, as in Keras's deserialize.
_BY_NAME: dict[str, type[SGD] | type[Adam]] = {"sgd": SGD, "adam": Adam}


def get(identifier: str | dict[str, Any] | Optimizer) -> Optimizer:
    """Return an optimizer for a name (``"sgd"``, ``"adam"``), a Keras config dict or an instance.

    Raises
    ------
    ValueError
        For an identifier that names no optimizer here.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import optimizers
    >>> type(optimizers.get("adam")).__name__
    'Adam'
    >>> optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.5}}).learning_rate
    0.5
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}; known: SGD, Adam")


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Return the Keras 3 config dict of ``optimizer``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import optimizers
    >>> config = optimizers.serialize(optimizers.SGD(learning_rate=0.5))
    >>> config["class_name"], config["config"]["learning_rate"]
    ('SGD', 0.5)
    """
    return {
        "module": "keras.optimizers",
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict[str, Any]) -> Optimizer:
    """Build an optimizer from a Keras 3 ``{"class_name", "config", ...}`` dict.

    Class names are case-insensitive (Keras writes "sgd" as well as "SGD").

    Raises
    ------
    ValueError
        For a class name other than SGD and Adam.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv import optimizers
    >>> config = optimizers.serialize(optimizers.Adam(learning_rate=0.01, amsgrad=True))
    >>> opt = optimizers.deserialize(config)
    >>> type(opt).__name__, opt.amsgrad
    ('Adam', True)
    """
    cls = _BY_NAME.get(str(config.get("class_name")).lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer config: {config!r}; known: SGD, Adam")
    return cls.from_config(config.get("config", {}))


def _keras_cast(value, variable):
    """A Python float as Keras's ``ops.cast(value, variable.dtype)`` gives it.

    ``ops.cast`` first makes a tensor of Keras's float type, float32, so a
    float64 variable sees the float32 rounding of the value (the factors
    Keras combines with tensors directly, such as ``1 - beta_1``, keep
    full precision).
    """
    return variable.dtype.type(np.float32(value))


def _clip_by_norm(g, clipnorm):
    """``g`` scaled to an L2 norm of at most ``clipnorm``, as Keras computes it."""
    clip = g.dtype.type(clipnorm)
    return g * clip / np.maximum(np.sqrt(np.sum(np.square(g))), clip)


def _real(value, name):
    """``value`` as a float, checking that it is a finite real number."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite float; received {name}={value!r}")
    return float(value)


def _optional_real(value, name):
    return None if value is None else _real(value, name)
