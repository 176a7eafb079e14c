"""Comparing results with an oracle: float tolerances and layout conversions."""

import numpy as np


def tolerance(dtype, reduction):
    """Absolute and relative tolerance for a result summing ``reduction`` products.

    Operands are drawn from [-1, 1], so rounding grows at most linearly with
    the number of products summed into one output value.
    """
    eps = np.finfo(np.dtype(dtype)).eps
    tol = 8 * eps * max(reduction, 1)
    return {"atol": tol, "rtol": tol}


def assert_close(actual, expected, dtype, reduction):
    """Assert ``actual`` matches the float64 ``expected`` within :func:`tolerance`."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, **tolerance(dtype, reduction))


def nchw(a):
    """NHWC array as NCHW (a transposed view)."""
    return np.transpose(a, (0, 3, 1, 2))


def nhwc(a):
    """NCHW array as NHWC (a transposed view)."""
    return np.transpose(a, (0, 2, 3, 1))


def to_layout(x, layout):
    """The NHWC array ``x`` as the API takes it in ``layout``."""
    return nchw(x) if layout == "channels_first" else x


def from_layout(y, layout):
    """The array ``y`` in ``layout`` as NHWC."""
    return nhwc(y) if layout == "channels_first" else y
