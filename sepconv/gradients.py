"""Gradients of the functional API: the backward pass, NumPy arrays in and out.

Each ``*_grad`` function takes the forward call's arguments and ``dy``, the
gradient of a scalar loss with respect to the forward output (same shape
and layout as the output), and returns a dict of the gradients named in
``wrt``, each shaped like its argument.  Names left out of ``wrt`` are not
computed at all (a first layer needs no input gradient).

Validation, error messages and dtype rules are the forward functions'
(:mod:`sepconv.functional`); ``dy`` is one more operand: float64 anywhere
makes the whole computation float64, complex ``dy`` is a TypeError, and a
``dy`` of the wrong shape a ValueError naming ``dy``.

Activations: ``"relu"`` is differentiated inside the kernel (the
pre-activation recomputed tile by tile; the derivative at 0 is 0, as in
TensorFlow and PyTorch); any other activation of :mod:`sepconv.activations`
through :func:`sepconv.activations.gradient`, from the pre-activation output
computed by one forward call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from . import _args, activations, functional
from ._native import _blas, _dispatch, _runner, _threads, _tiling
from ._typing import DataFormat, FloatArray, FunctionalActivation, IntOrPair, Padding

__all__ = ["separable_conv2d_grad", "depthwise_conv2d_grad", "pointwise_conv2d_grad"]

SEPARABLE_WRT = ("x", "depthwise_kernel", "pointwise_kernel", "bias")
DEPTHWISE_WRT = ("x", "depthwise_kernel", "bias")
POINTWISE_WRT = ("x", "pointwise_kernel", "bias")


def separable_conv2d_grad(
    dy: npt.ArrayLike,
    x: npt.ArrayLike,
    depthwise_kernel: npt.ArrayLike,
    pointwise_kernel: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    *,
    strides: IntOrPair = 1,
    padding: Padding = "valid",
    dilation_rate: IntOrPair = 1,
    data_format: DataFormat | None = "channels_last",
    activation: FunctionalActivation = None,
    wrt: str | Sequence[str] = SEPARABLE_WRT,
    n_threads: int | None = None,
) -> dict[str, FloatArray]:
    """Gradients of :func:`sepconv.separable_conv2d`.

    Parameters
    ----------
    dy : array_like
        Gradient of the loss with respect to the output of
        ``separable_conv2d(x, depthwise_kernel, pointwise_kernel, bias, ...)``:
        the output's shape, in ``data_format``.
    x, depthwise_kernel, pointwise_kernel, bias
        The forward call's operands, as in :func:`sepconv.separable_conv2d`.
    strides, padding, dilation_rate, data_format, activation, n_threads
        The forward call's options, as in :func:`sepconv.separable_conv2d`.
    wrt : tuple of str, default=("x", "depthwise_kernel", "pointwise_kernel", "bias")
        The gradients to compute; a single name may be given as a string.

    Returns
    -------
    dict of str to numpy.ndarray
        One entry per name in ``wrt``, shaped like its argument (a 2-D
        ``pointwise_kernel`` gets a 2-D gradient), in the compute dtype.
        ``"bias"`` is left out when ``bias`` is None.

    Raises
    ------
    ValueError
        As the forward function; for a ``dy`` that is not the output's
        shape, or an unknown name in ``wrt``; for an activation without a
        known derivative.
    TypeError
        For operands (``dy`` included) that are not real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 8, 3))
    >>> dk = rng.standard_normal((3, 3, 3, 1))
    >>> pk = rng.standard_normal((1, 1, 3, 4))
    >>> y = sepconv.separable_conv2d(x, dk, pk, padding="same")
    >>> grads = sepconv.separable_conv2d_grad(np.ones_like(y), x, dk, pk, padding="same")
    >>> sorted(grads)
    ['depthwise_kernel', 'pointwise_kernel', 'x']
    >>> grads["depthwise_kernel"].shape, grads["pointwise_kernel"].shape
    ((3, 3, 3, 1), (1, 1, 3, 4))
    >>> step = np.zeros_like(dk)
    >>> step[1, 1, 0, 0] = 1e-6
    >>> y_step = sepconv.separable_conv2d(x, dk + step, pk, padding="same")
    >>> finite_difference = (y_step.sum() - y.sum()) / 1e-6
    >>> bool(np.isclose(finite_difference, grads["depthwise_kernel"][1, 1, 0, 0], rtol=1e-4))
    True
    """
    fmt = _args.data_format(data_format)
    wanted = _wrt(wrt, SEPARABLE_WRT)
    pointwise_shape = np.shape(pointwise_kernel)
    x, depthwise_kernel, pointwise_kernel, bias, dy = functional._operands(
        x=x, depthwise_kernel=depthwise_kernel, pointwise_kernel=pointwise_kernel, bias=bias, dy=dy
    )
    has_bias = bias is not None
    n, (h, w), c = functional._image(x, fmt)
    dm = functional._depthwise_multiplier(depthwise_kernel, c)
    k = c * dm
    pointwise_kernel = functional._pointwise_matrix(
        pointwise_kernel, k, "the depthwise step gives C * depth_multiplier"
    )
    filters = pointwise_kernel.shape[1]
    bias = functional._bias(bias, filters, x.dtype)
    win = _args.window((h, w), depthwise_kernel.shape[:2], strides, dilation_rate, padding)
    _check_dy(dy, _output_shape(n, win.out_hw, filters, fmt))
    code, dy = _activation_input(
        activation,
        dy,
        lambda: functional.separable_conv2d(
            x,
            depthwise_kernel,
            pointwise_kernel,
            bias,
            strides=win.strides,
            padding=win.padding,
            dilation_rate=win.dilation_rate,
            data_format=fmt,
            n_threads=n_threads,
        ),
    )
    want = _want(wanted, has_bias)
    threads = _threads.effective_n_threads(n_threads)
    dx, d_dk, d_pk, d_b = _outputs(x, (depthwise_kernel.shape, pointwise_shape, (filters,)), want)
    if dy.size and want:
        live, pads, taps = functional._live_taps(depthwise_kernel, (h, w), win, negative_pads=False)
        d_live = _live_gradient(d_dk, live)
        # the tile's working set: z and dz (K channels each) and the gradient tile
        rows = _tiling.rows_per_tile(n, win.out_hw, (2 * k + filters) * x.itemsize, threads)
        with _threads.blas_guard(True):
            _runner.run(
                _dispatch.kernels.separable_grad,
                x,
                live,
                pointwise_kernel,
                bias,
                dy,
                dx,
                d_live.reshape(-1),
                d_pk.reshape(-1),
                d_b,
                *win.strides,
                *win.dilation_rate,
                *pads,
                fmt == "channels_first",
                rows,
                code,
                _threads.threads_for(threads, functional._tiles(n, win.out_hw[0], rows)),
                want,
                _blas.gemm_pixels(k, filters),
            )
        _place_live_gradient(d_dk, d_live, taps)
    return _result(wanted, has_bias, x=dx, depthwise_kernel=d_dk, pointwise_kernel=d_pk, bias=d_b)


def depthwise_conv2d_grad(
    dy: npt.ArrayLike,
    x: npt.ArrayLike,
    depthwise_kernel: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    *,
    strides: IntOrPair = 1,
    padding: Padding = "valid",
    dilation_rate: IntOrPair = 1,
    data_format: DataFormat | None = "channels_last",
    activation: FunctionalActivation = None,
    wrt: str | Sequence[str] = DEPTHWISE_WRT,
    n_threads: int | None = None,
) -> dict[str, FloatArray]:
    """Gradients of :func:`sepconv.depthwise_conv2d`.

    Parameters
    ----------
    dy : array_like
        Gradient of the loss with respect to the forward output.
    x, depthwise_kernel, bias
        The forward call's operands, as in :func:`sepconv.depthwise_conv2d`.
    strides, padding, dilation_rate, data_format, activation, n_threads
        The forward call's options, as in :func:`sepconv.depthwise_conv2d`.
    wrt : tuple of str, default=("x", "depthwise_kernel", "bias")

    Returns
    -------
    dict of str to numpy.ndarray
        As in :func:`separable_conv2d_grad`.

    Raises
    ------
    ValueError, TypeError
        As in :func:`separable_conv2d_grad`.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 8, 3))
    >>> dk = rng.standard_normal((3, 3, 3, 2))
    >>> y = sepconv.depthwise_conv2d(x, dk)
    >>> grads = sepconv.depthwise_conv2d_grad(np.ones_like(y), x, dk, wrt=("depthwise_kernel",))
    >>> sorted(grads)
    ['depthwise_kernel']
    >>> grads["depthwise_kernel"].shape
    (3, 3, 3, 2)
    """
    fmt = _args.data_format(data_format)
    wanted = _wrt(wrt, DEPTHWISE_WRT)
    x, depthwise_kernel, bias, dy = functional._operands(
        x=x, depthwise_kernel=depthwise_kernel, bias=bias, dy=dy
    )
    has_bias = bias is not None
    n, (h, w), c = functional._image(x, fmt)
    k = c * functional._depthwise_multiplier(depthwise_kernel, c)
    bias = functional._bias(bias, k, x.dtype)
    win = _args.window((h, w), depthwise_kernel.shape[:2], strides, dilation_rate, padding)
    _check_dy(dy, _output_shape(n, win.out_hw, k, fmt))
    code, dy = _activation_input(
        activation,
        dy,
        lambda: functional.depthwise_conv2d(
            x,
            depthwise_kernel,
            bias,
            strides=win.strides,
            padding=win.padding,
            dilation_rate=win.dilation_rate,
            data_format=fmt,
            n_threads=n_threads,
        ),
    )
    want = _want(wanted, has_bias)
    threads = _threads.effective_n_threads(n_threads)
    dx, d_dk, _, d_b = _outputs(x, (depthwise_kernel.shape, None, (k,)), want)
    if dy.size and want:
        live, pads, taps = functional._live_taps(depthwise_kernel, (h, w), win, negative_pads=False)
        d_live = _live_gradient(d_dk, live)
        rows = _tiling.rows_per_tile(n, win.out_hw, 2 * k * x.itemsize, threads)
        _runner.run(
            _dispatch.kernels.depthwise_grad,
            x,
            live,
            bias,
            dy,
            dx,
            d_live.reshape(-1),
            d_b,
            *win.strides,
            *win.dilation_rate,
            *pads,
            fmt == "channels_first",
            rows,
            code,
            _threads.threads_for(threads, functional._tiles(n, win.out_hw[0], rows)),
            want,
        )
        _place_live_gradient(d_dk, d_live, taps)
    return _result(wanted, has_bias, x=dx, depthwise_kernel=d_dk, bias=d_b)


def pointwise_conv2d_grad(
    dy: npt.ArrayLike,
    x: npt.ArrayLike,
    pointwise_kernel: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    *,
    data_format: DataFormat | None = "channels_last",
    activation: FunctionalActivation = None,
    wrt: str | Sequence[str] = POINTWISE_WRT,
    n_threads: int | None = None,
) -> dict[str, FloatArray]:
    """Gradients of :func:`sepconv.pointwise_conv2d`.

    Parameters
    ----------
    dy : array_like
        Gradient of the loss with respect to the forward output.
    x, pointwise_kernel, bias, data_format, activation, n_threads
        The forward call's arguments, as in :func:`sepconv.pointwise_conv2d`.
    wrt : tuple of str, default=("x", "pointwise_kernel", "bias")

    Returns
    -------
    dict of str to numpy.ndarray
        As in :func:`separable_conv2d_grad`.

    Raises
    ------
    ValueError, TypeError
        As in :func:`separable_conv2d_grad`.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 8, 3))
    >>> pk = rng.standard_normal((1, 1, 3, 4))
    >>> dy = np.ones((2, 8, 8, 4))
    >>> grads = sepconv.pointwise_conv2d_grad(dy, x, pk, bias=np.zeros(4))
    >>> grads["x"].shape, grads["pointwise_kernel"].shape, grads["bias"].shape
    ((2, 8, 8, 3), (1, 1, 3, 4), (4,))
    >>> np.allclose(grads["pointwise_kernel"][0, 0], x.reshape(-1, 3).T @ dy.reshape(-1, 4))
    True
    """
    fmt = _args.data_format(data_format)
    wanted = _wrt(wrt, POINTWISE_WRT)
    pointwise_shape = np.shape(pointwise_kernel)
    x, pointwise_kernel, bias, dy = functional._operands(
        x=x, pointwise_kernel=pointwise_kernel, bias=bias, dy=dy
    )
    has_bias = bias is not None
    n, (h, w), k = functional._image(x, fmt)
    pointwise_kernel = functional._pointwise_matrix(pointwise_kernel, k, "the channels of `x`")
    filters = pointwise_kernel.shape[1]
    bias = functional._bias(bias, filters, x.dtype)
    _check_dy(dy, _output_shape(n, (h, w), filters, fmt))
    code, dy = _activation_input(
        activation,
        dy,
        lambda: functional.pointwise_conv2d(
            x, pointwise_kernel, bias, data_format=fmt, n_threads=n_threads
        ),
    )
    want = _want(wanted, has_bias)
    threads = _threads.effective_n_threads(n_threads)
    dx, _, d_pk, d_b = _outputs(x, (None, pointwise_shape, (filters,)), want)
    if dy.size and want:
        pixels = _tiling.pixels_per_tile(n, h * w, (k + filters) * x.itemsize, threads)
        with _threads.blas_guard(True):
            _runner.run(
                _dispatch.kernels.pointwise_grad,
                x,
                pointwise_kernel,
                bias,
                dy,
                dx,
                d_pk.reshape(-1),
                d_b,
                fmt == "channels_first",
                pixels,
                code,
                _threads.threads_for(threads, functional._tiles(n, h * w, pixels)),
                want,
                _blas.gemm_pixels(k, filters),
            )
    return _result(wanted, has_bias, x=dx, pointwise_kernel=d_pk, bias=d_b)


# --------------------------------------------------------------------------
# Helpers shared by the three functions


def _wrt(wrt, names):
    """Return the set of names in ``wrt``, checking each is one of ``names``."""
    items = (wrt,) if isinstance(wrt, str) else _args.as_tuple(wrt)
    if items is None or not all(isinstance(item, str) and item in names for item in items):
        raise ValueError(f"`wrt` must be a tuple of names among {names}; received wrt={wrt!r}")
    return frozenset(items)


def _want(wanted, has_bias):
    """The kernels' WANT_* bit mask for the names in ``wanted``."""
    bits = _dispatch.kernels.GRAD_WANTS
    return sum(bits[name] for name in wanted if name != "bias" or has_bias)


def _output_shape(n, out_hw, channels, fmt):
    return (n, channels, *out_hw) if fmt == "channels_first" else (n, *out_hw, channels)


def _check_dy(dy, expected):
    if dy.shape != expected:
        raise ValueError(
            f"`dy` must have the forward output's shape {expected}; received dy.shape={dy.shape}"
        )


def _activation_input(activation, dy, pre_activation):
    """Return ``(kernel activation code, gradient the kernel takes)`` for ``activation``.

    Linear and ReLU run in the kernel; any other activation's derivative is
    applied here to ``dy``, at the pre-activation output ``pre_activation()``.
    """
    code, _ = functional._activation(activation)
    if not callable(activation):
        return code, dy
    gradient = activations.gradient(activation, pre_activation(), dy)
    return code, _args.contiguous(gradient, dy.dtype)


def _outputs(x, shapes, want):
    """Gradient arrays: dx (x's shape), then the kernels' and bias's of ``shapes``.

    Those not wanted are one-element placeholders the kernels never touch.
    """
    bits = _dispatch.kernels.GRAD_WANTS
    dx = np.empty(x.shape if want & bits["x"] else (1, 1, 1, 1), dtype=x.dtype)
    flags = (bits["depthwise_kernel"], bits["pointwise_kernel"], bits["bias"])
    weights = [
        np.zeros(shape if want & bit else 1, dtype=x.dtype)
        for shape, bit in zip(shapes, flags, strict=True)
    ]
    return (dx, *weights)


def _result(wanted, has_bias, **gradients):
    """The dict of the wanted gradients, in the order of the function's arguments."""
    return {
        name: value
        for name, value in gradients.items()
        if name in wanted and (name != "bias" or has_bias)
    }


def _live_gradient(d_dk, live):
    """Where the kernels write the depthwise kernel's gradient.

    ``d_dk`` itself (also when it is not asked for: then it is a placeholder
    of one element), or, where taps that read only padding were left out
    (see functional._live_taps), a buffer shaped like the live taps.
    """
    return d_dk if d_dk.shape in (live.shape, (1,)) else np.zeros(live.shape, d_dk.dtype)


def _place_live_gradient(d_dk, d_live, taps):
    """Put the live taps' gradient into the whole kernel's (the others' is zero)."""
    if d_live is not d_dk:
        d_dk[taps] = d_live
