"""Normalise and validate the arguments of every public entry point.

Everything a user can get wrong is caught here, with the argument and the bad
value named in the message, so that the Cython kernels can trust their input.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._choices import DATA_FORMATS, PADDINGS, choice  # noqa: F401  (re-exported)

# How a batch of images is laid out in each data format, for error messages.
IMAGE_LAYOUTS = {
    "channels_last": "4-D (batch, height, width, channels)",
    "channels_first": "4-D (batch, channels, height, width)",
}


def pair(value, name):
    """Return ``value`` as a tuple of two positive Python ints.

    Parameters
    ----------
    value : int or iterable of 2 ints
        An int ``k`` means ``(k, k)``; NumPy integers are accepted.
    name : str
        Argument name used in error messages.

    Raises
    ------
    ValueError
        If ``value`` is not one or two positive integers.
    """
    items = (value,) * 2 if is_integer(value) else as_tuple(value)
    if items is None or len(items) != 2 or not all(is_integer(v) for v in items):
        raise ValueError(
            f"`{name}` must be a positive integer or a tuple of 2 positive "
            f"integers; received {name}={value!r}"
        )
    items = tuple(int(v) for v in items)
    if min(items) < 1:
        raise ValueError(f"`{name}` values must be positive integers; received {name}={value!r}")
    return items


def is_integer(value):
    """Return True for Python and NumPy integers, but not bools."""
    if type(value) is int:  # the common case, without the ABC check (a tenth of a small call)
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def as_tuple(value):
    """Return ``tuple(value)`` for a non-string iterable, else None."""
    if isinstance(value, (str, bytes)):
        return None
    try:
        return tuple(value)
    except TypeError:
        return None


def padding(value):
    """Return ``"valid"`` or ``"same"`` (case-insensitive input)."""
    return choice(value, "padding", PADDINGS)


def data_format(value):
    """Return ``"channels_last"`` or ``"channels_first"``.

    ``None`` means the global default, :func:`sepconv.config.image_data_format`.
    """
    if value is None:
        from . import config

        value = config.image_data_format()
    return choice(value, "data_format", DATA_FORMATS)


def n_threads(value, name="n_threads"):
    """Validate a thread count: None, or a nonzero int (negative counts back from all cores).

    ``name`` is the argument named in error messages (the transformer's is ``n_jobs``).
    """
    if value is None:
        return None
    if not is_integer(value):
        raise TypeError(f"`{name}` must be an int or None; received {name}={value!r}")
    if value == 0:
        raise ValueError(f"`{name}` must be a nonzero integer or None; received {name}=0")
    return int(value)


# --------------------------------------------------------------------------
# Arrays


def compute_dtype(**operands):
    """Return the dtype the computation runs in, from the operands' dtypes.

    float64 anywhere gives float64; float32, float16, integers and bools give
    float32.  ``None`` operands are ignored.

    Raises
    ------
    TypeError
        If an operand is complex, object, string or otherwise not real numbers;
        the message names the operand and its dtype.
    """
    wide = False
    for name, array in operands.items():
        if array is None:
            continue
        kind = array.dtype.kind
        if kind == "f":
            wide |= array.dtype.itemsize >= 8
        elif kind not in "biu":
            raise TypeError(
                f"`{name}` must hold real numbers (float, int or bool); "
                f"received an array of dtype {array.dtype}"
            )
    return np.dtype(np.float64 if wide else np.float32)


def as_array(value, name):
    """``np.asarray(value)``, turning conversion failures into a TypeError naming ``name``."""
    if value is None:
        raise TypeError(f"`{name}` must be an array; received None")
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` could not be converted to an array: {exc}") from exc


def check_rank(array, name, ranks, layout):
    """Raise ValueError unless ``array.ndim`` is in ``ranks``; ``layout`` describes the shape."""
    if array.ndim not in ranks:
        raise ValueError(f"`{name}` must be {layout}; received an array of shape {array.shape}")


def contiguous(array, dtype):
    """Return ``array`` as an aligned C-contiguous array of ``dtype``, copying only when needed."""
    # np.ascontiguousarray would turn a 0-d array into a 1-d one, and the
    # error message would then report the wrong shape
    array = np.asarray(array, dtype=dtype, order="C")
    # the kernels read whole elements (and vectors of them) from the data;
    # an array from a buffer at an odd offset is copied to aligned memory
    return array if array.flags.aligned else array.copy()


# --------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class Window:
    """How a kernel slides over the image: the normalised convolution arguments.

    Attributes
    ----------
    strides, dilation_rate : tuple of 2 ints
    padding : {"valid", "same"}
    out_hw : tuple of 2 ints
        Output rows and columns.
    pads : tuple of 2 ints
        Zero rows above and zero columns to the left ("same" puts ``P // 2``
        before and the rest after).
    """

    strides: tuple
    dilation_rate: tuple
    padding: str
    out_hw: tuple
    pads: tuple


def window(in_hw, kernel_hw, strides, dilation_rate, padding_):
    """Return the :class:`Window` of a convolution, following the spec's arithmetic.

    Raises
    ------
    ValueError
        For bad strides, dilation or padding, or when "valid" padding leaves
        no output; the message names input shape, kernel, strides, dilation
        and padding.
    """
    strides = pair(strides, "strides")
    dilation_rate = pair(dilation_rate, "dilation_rate")
    padding_ = padding(padding_)
    out_hw, pads = [], []
    for n, k, s, d in zip(in_hw, kernel_hw, strides, dilation_rate, strict=True):
        effective = d * (k - 1) + 1
        if padding_ == "valid":
            out = (n - effective) // s + 1
            pads.append(0)
        else:
            out = math.ceil(n / s)
            pads.append(max((out - 1) * s + effective - n, 0) // 2)
        out_hw.append(out)
    if padding_ == "valid" and min(out_hw) < 1:
        raise ValueError(
            f"the output would be empty: input of spatial shape {tuple(in_hw)} with "
            f"kernel {tuple(kernel_hw)}, strides={strides}, "
            f"dilation_rate={dilation_rate} and padding='valid'; use a smaller "
            "kernel or padding='same'"
        )
    return Window(strides, dilation_rate, padding_, tuple(out_hw), tuple(pads))


def live_taps(n, out, size, stride, dilation, pad):
    """The kernel taps along one axis that read the image for some output.

    Parameters
    ----------
    n, out : int
        Input and output length (``out >= 1``).
    size, stride, dilation, pad : int
        Kernel length, stride, dilation and zeros before the input.

    Returns
    -------
    tuple of 2 ints
        ``(first, stop)``: taps ``first..stop-1``; taps before read only the
        padding before the input, taps after only the padding after it.
        Where no tap reads the image, one tap in the padding is kept, so
        that the kernel is never empty.
    """
    # tap p reads input index o * stride - pad + p * dilation, o = 0..out-1
    first = min(size - 1, max(0, -((-(pad - (out - 1) * stride)) // dilation)))
    stop = min(size, max(first + 1, -(-(n + pad) // dilation)))
    return first, stop
