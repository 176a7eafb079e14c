"""Global settings shared with Keras: the default image data format, float type and epsilon.

The default starts from the ``"image_data_format"`` key of
``$KERAS_HOME/keras.json`` (else ``~/.keras/keras.json``) when that file
exists, else ``"channels_last"``, as Keras does.
"""

from __future__ import annotations

import json
import os
from typing import cast

from ._choices import DATA_FORMATS, choice
from ._typing import DataFormat

__all__ = ["image_data_format", "set_image_data_format", "floatx", "epsilon"]

_state: dict[str, str] = {}


def _keras_json_path():
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "keras.json")


def _from_keras_json():
    try:
        with open(_keras_json_path()) as fh:
            value = json.load(fh).get("image_data_format", "channels_last")
        return choice(value, "image_data_format", DATA_FORMATS)
    except (OSError, ValueError, AttributeError):
        return "channels_last"


def image_data_format() -> DataFormat:
    """Return the default image data format, ``"channels_last"`` or ``"channels_first"``.

    Examples
    --------
    >>> from sepconv import config
    >>> config.image_data_format() in ('channels_last', 'channels_first')
    True
    """
    if "image_data_format" not in _state:
        _state["image_data_format"] = _from_keras_json()
    # choice() returned one of DATA_FORMATS, the values DataFormat names
    return cast("DataFormat", _state["image_data_format"])


def set_image_data_format(data_format: DataFormat) -> None:
    """Set the default image data format used where ``data_format=None``.

    Parameters
    ----------
    data_format : {"channels_last", "channels_first"}

    Raises
    ------
    ValueError
        If ``data_format`` is not one of the two.

    Examples
    --------
    >>> from sepconv import config
    >>> previous = config.image_data_format()
    >>> config.set_image_data_format("channels_first")
    >>> config.image_data_format()
    'channels_first'
    >>> config.set_image_data_format(previous)
    """
    _state["image_data_format"] = choice(data_format, "data_format", DATA_FORMATS)


def floatx() -> str:
    """Return the default float type of layer weights, ``"float32"`` (Keras's default).

    Examples
    --------
    >>> from sepconv import config
    >>> config.floatx()
    'float32'
    """
    return "float32"


def epsilon() -> float:
    """Return the fuzz factor used by the norm constraints, ``1e-7`` (Keras's default).

    Examples
    --------
    >>> from sepconv import config
    >>> config.epsilon()
    1e-07
    """
    return 1e-7
