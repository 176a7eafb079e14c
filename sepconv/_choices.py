"""Validation of string options, below both :mod:`sepconv._args` and :mod:`sepconv.config`.

It imports nothing of sepconv, so the two can share it without importing
each other.
"""

PADDINGS = ("valid", "same")
DATA_FORMATS = ("channels_last", "channels_first")


def choice(value, name, options):
    """Return the lower-cased ``value`` when it is one of ``options``.

    Raises
    ------
    ValueError
        If ``value`` is not a string naming one of ``options``.
    """
    if isinstance(value, str) and value.lower() in options:
        return value.lower()
    expected = ", ".join(repr(o) for o in options)
    raise ValueError(f"`{name}` must be one of {expected}; received {name}={value!r}")
