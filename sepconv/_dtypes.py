"""The float types that layer weights and initializers may take."""

import numpy as np

from . import config

FLOAT_DTYPES = ("float32", "float64")

# Keras 3 writes a dtype as a policy object; tf.keras 2.13+ names the class "Policy".
_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy", "Policy")


def float_dtype(value, name="dtype"):
    """Return ``value`` as the NumPy dtype float32 or float64.

    Parameters
    ----------
    value : None, str, numpy dtype or type, or a Keras DTypePolicy dict
        ``None`` means :func:`sepconv.config.floatx`.
    name : str
        Argument name used in error messages.

    Raises
    ------
    ValueError
        For anything that does not name float32 or float64.
    """
    given = value
    if value is None:
        value = config.floatx()
    if isinstance(value, dict) and value.get("class_name") in _POLICY_CLASSES:
        value = value.get("config", {}).get("name")
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.name not in FLOAT_DTYPES:
        raise ValueError(f"`{name}` must be 'float32' or 'float64'; received {name}={given!r}")
    return dtype


def policy_config(dtype):
    """Return the Keras 3 ``DTypePolicy`` dict of ``dtype``."""
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": np.dtype(dtype).name},
        "registered_name": None,
    }
