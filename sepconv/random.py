"""The global seed that makes layer creation reproducible.

Initializers built with ``seed=None`` draw their seed from the generator here
when they are created (as Keras 3 does), so :func:`set_random_seed` called
before creating layers fixes their initial weights.
"""

from __future__ import annotations

import numpy as np

from . import _args

__all__ = ["set_random_seed"]

_state = {"generator": np.random.default_rng()}

# Seeds are reduced modulo 2**64 so that any Python int (negative ones too, as
# Keras allows) names a NumPy seed.
_SEED_MODULUS = 2**64


def set_random_seed(seed: int) -> None:
    """Seed the generator used by initializers created with ``seed=None``.

    Parameters
    ----------
    seed : int

    Raises
    ------
    ValueError
        If ``seed`` is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> sepconv.set_random_seed(42)
    >>> a = sepconv.SeparableConv2D(4, 3)
    >>> a.build((1, 8, 8, 3))
    >>> sepconv.set_random_seed(42)
    >>> b = sepconv.SeparableConv2D(4, 3)
    >>> b.build((1, 8, 8, 3))
    >>> all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    True
    """
    _state["generator"] = _generator(seed, "seed")


def _draw_seed():
    """Return a fresh integer seed from the global generator."""
    return int(_state["generator"].integers(2**63))


def _generator(seed, name="seed"):
    """Return a NumPy generator for the integer ``seed``.

    Raises
    ------
    ValueError
        If ``seed`` is not an integer; the message names ``name``.
    """
    if not _args.is_integer(seed):
        raise ValueError(f"`{name}` must be an integer; received {name}={seed!r}")
    return np.random.default_rng(int(seed) % _SEED_MODULUS)
