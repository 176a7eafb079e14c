"""The functional API: NumPy arrays in, NumPy arrays out.

Each function validates and normalises its arguments in Python, then makes a
single call into the compiled kernels, which release the GIL and run on
``n_threads`` OpenMP threads.

Kernel shapes are TensorFlow's: depthwise ``(kh, kw, C, depth_multiplier)``,
pointwise ``(1, 1, C * depth_multiplier, filters)`` (or the 2-D matrix
``(C * depth_multiplier, filters)``), bias ``(filters,)``.

Dtypes: float32 operands compute in float32 and float64 in float64; any
float64 operand makes the whole computation float64; integer, bool and
float16 operands compute in float32.  Complex, object and string operands
raise TypeError.  Inputs of any memory order, views and read-only arrays are
accepted; only arrays that are not already C-contiguous in the compute dtype
are copied.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _args
from ._native import _blas, _buffers, _dispatch, _runner, _threads, _tiling
from ._typing import DataFormat, FloatArray, FunctionalActivation, IntOrPair, Padding

__all__ = ["separable_conv2d", "depthwise_conv2d", "pointwise_conv2d"]

# Largest dimension a BLAS call (32-bit integers) can be given.
_BLAS_INT_MAX = 2**31 - 1


def separable_conv2d(
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
    n_threads: int | None = None,
) -> FloatArray:
    """Depthwise separable 2-D convolution.

    ``activation(pointwise(depthwise(x)) + bias)``, computed tile by tile so
    the full depthwise intermediate is never held in memory.

    Parameters
    ----------
    x : array_like
        Images, ``(N, H, W, C)`` for ``"channels_last"`` or ``(N, C, H, W)``
        for ``"channels_first"``.
    depthwise_kernel : array_like of shape (kh, kw, C, depth_multiplier)
        Depthwise filters; output channel ``c * depth_multiplier + m`` comes
        from input channel ``c`` and multiplier ``m``.
    pointwise_kernel : array_like of shape (1, 1, C * depth_multiplier, filters)
        Pointwise filters; the 2-D ``(C * depth_multiplier, filters)`` matrix
        is accepted too.
    bias : array_like of shape (filters,), optional
        Added after the pointwise step.
    strides : int or tuple of 2 ints, default=1
        Row and column strides.
    padding : {"valid", "same"}, default="valid"
        Case-insensitive.  ``"same"`` pads ``P // 2`` zeros before and the
        rest after, per axis, so the output has ``ceil(n / stride)`` rows and
        columns.
    dilation_rate : int or tuple of 2 ints, default=1
        Kernel dilation; may be combined with strides.
    data_format : {"channels_last", "channels_first"} or None, default="channels_last"
        Layout of ``x`` and of the result.  ``None`` uses
        :func:`sepconv.config.image_data_format`.
    activation : {None, "linear", "relu"} or callable, default=None
        ``"relu"`` is fused into the kernel; a callable is applied to the
        result array.
    n_threads : int or None, default=None
        OpenMP threads; ``None`` uses all cores within ``OMP_NUM_THREADS``
        and ``threadpoolctl`` limits, negative values count back from all
        cores.

    Returns
    -------
    numpy.ndarray
        ``(N, H_out, W_out, filters)`` or ``(N, filters, H_out, W_out)``,
        float32 or float64 (see the module docstring).

    Raises
    ------
    ValueError
        For inconsistent shapes or bad argument values; the message names the
        argument and the value.
    TypeError
        For operands that are not real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    >>> dk = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    >>> pk = rng.standard_normal((1, 1, 6, 4)).astype(np.float32)
    >>> y = sepconv.separable_conv2d(x, dk, pk, padding="same", activation="relu")
    >>> y.shape, y.dtype
    ((2, 8, 8, 4), dtype('float32'))
    >>> two_steps = sepconv.pointwise_conv2d(sepconv.depthwise_conv2d(x, dk, padding="same"), pk)
    >>> np.allclose(y, np.maximum(two_steps, 0), atol=1e-5)
    True
    """
    fmt = _args.data_format(data_format)
    x, depthwise_kernel, pointwise_kernel, bias = _operands(
        x=x, depthwise_kernel=depthwise_kernel, pointwise_kernel=pointwise_kernel, bias=bias
    )
    n, (h, w), c = _image(x, fmt)
    dm = _depthwise_multiplier(depthwise_kernel, c)
    pointwise_kernel = _pointwise_matrix(
        pointwise_kernel, c * dm, "the depthwise step gives C * depth_multiplier"
    )
    filters = pointwise_kernel.shape[1]
    bias = _bias(bias, filters, x.dtype)
    win = _args.window((h, w), depthwise_kernel.shape[:2], strides, dilation_rate, padding)
    code, post = _activation(activation)
    out = _empty_output(n, win.out_hw, filters, fmt, x.dtype)
    threads = _threads.effective_n_threads(n_threads)
    if out.size:
        depthwise_kernel, pads, _ = _live_taps(depthwise_kernel, (h, w), win)
        rows, images, slices, tiles = _schedule(
            n, win.out_hw, c * dm, filters, x.itemsize, threads, fmt
        )
        with _threads.blas_guard(_uses_blas(fmt, c * dm)):
            _runner.run(
                _dispatch.kernels.separable,
                x,
                depthwise_kernel,
                pointwise_kernel,
                bias,
                out,
                *win.strides,
                *win.dilation_rate,
                *pads,
                fmt == "channels_first",
                rows,
                images,
                slices,
                code,
                _threads.threads_for(threads, tiles),
                _blas.gemm_pixels(c * dm, filters),
            )
    return post(out)


def depthwise_conv2d(
    x: npt.ArrayLike,
    depthwise_kernel: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    *,
    strides: IntOrPair = 1,
    padding: Padding = "valid",
    dilation_rate: IntOrPair = 1,
    data_format: DataFormat | None = "channels_last",
    activation: FunctionalActivation = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Depthwise 2-D convolution: each input channel filtered on its own.

    Parameters
    ----------
    x : array_like
        Images, ``(N, H, W, C)`` or ``(N, C, H, W)`` (see ``data_format``).
    depthwise_kernel : array_like of shape (kh, kw, C, depth_multiplier)
        Output channel ``c * depth_multiplier + m`` comes from input channel
        ``c`` and multiplier ``m``.
    bias : array_like of shape (C * depth_multiplier,), optional
    strides, padding, dilation_rate, data_format, activation, n_threads
        As in :func:`separable_conv2d`.

    Returns
    -------
    numpy.ndarray
        ``(N, H_out, W_out, C * depth_multiplier)`` or the channels-first
        equivalent.

    Raises
    ------
    ValueError, TypeError
        As in :func:`separable_conv2d`.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    >>> dk = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    >>> sepconv.depthwise_conv2d(x, dk).shape
    (2, 6, 6, 6)
    >>> sepconv.depthwise_conv2d(x, dk, strides=2, padding="same").shape
    (2, 4, 4, 6)
    """
    fmt = _args.data_format(data_format)
    x, depthwise_kernel, bias = _operands(x=x, depthwise_kernel=depthwise_kernel, bias=bias)
    n, (h, w), c = _image(x, fmt)
    dm = _depthwise_multiplier(depthwise_kernel, c)
    bias = _bias(bias, c * dm, x.dtype)
    win = _args.window((h, w), depthwise_kernel.shape[:2], strides, dilation_rate, padding)
    code, post = _activation(activation)
    out = _empty_output(n, win.out_hw, c * dm, fmt, x.dtype)
    threads = _threads.effective_n_threads(n_threads)
    if out.size:
        depthwise_kernel, pads, _ = _live_taps(depthwise_kernel, (h, w), win)
        rows = _tiling.rows_per_tile(n, win.out_hw, c * dm * x.itemsize, threads)
        _runner.run(
            _dispatch.kernels.depthwise,
            x,
            depthwise_kernel,
            bias,
            out,
            *win.strides,
            *win.dilation_rate,
            *pads,
            fmt == "channels_first",
            rows,
            code,
            _threads.threads_for(threads, _tiles(n, win.out_hw[0], rows)),
        )
    return post(out)


def pointwise_conv2d(
    x: npt.ArrayLike,
    pointwise_kernel: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    *,
    data_format: DataFormat | None = "channels_last",
    activation: FunctionalActivation = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Pointwise (1x1) 2-D convolution: a matrix product over the channel axis.

    Parameters
    ----------
    x : array_like
        Images, ``(N, H, W, K)`` or ``(N, K, H, W)`` (see ``data_format``).
    pointwise_kernel : array_like of shape (1, 1, K, filters) or (K, filters)
    bias : array_like of shape (filters,), optional
    data_format, activation, n_threads
        As in :func:`separable_conv2d`.

    Returns
    -------
    numpy.ndarray
        ``(N, H, W, filters)`` or ``(N, filters, H, W)``.

    Raises
    ------
    ValueError, TypeError
        As in :func:`separable_conv2d`.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    >>> pk = rng.standard_normal((1, 1, 3, 5)).astype(np.float32)
    >>> y = sepconv.pointwise_conv2d(x, pk, bias=np.ones(5, dtype=np.float32))
    >>> y.shape
    (2, 8, 8, 5)
    >>> np.allclose(y, x @ pk[0, 0] + 1, atol=1e-5)
    True
    """
    fmt = _args.data_format(data_format)
    x, pointwise_kernel, bias = _operands(x=x, pointwise_kernel=pointwise_kernel, bias=bias)
    n, (h, w), k = _image(x, fmt)
    pointwise_kernel = _pointwise_matrix(pointwise_kernel, k, "the channels of `x`")
    filters = pointwise_kernel.shape[1]
    bias = _bias(bias, filters, x.dtype)
    code, post = _activation(activation)
    out = _empty_output(n, (h, w), filters, fmt, x.dtype)
    threads = _threads.effective_n_threads(n_threads)
    if out.size:
        xs, outs = x, out
        if fmt == "channels_last":
            # the batch's pixels are one matrix: tiles run across images
            xs, outs = x.reshape(1, -1, 1, k), out.reshape(1, -1, 1, filters)
        pixels, slices, tiles = _pointwise_schedule(n, h * w, k, filters, x.itemsize, threads, fmt)
        with _threads.blas_guard(_uses_blas(fmt, k)):
            _runner.run(
                _dispatch.kernels.pointwise,
                xs,
                pointwise_kernel,
                bias,
                outs,
                fmt == "channels_first",
                pixels,
                slices,
                code,
                _threads.threads_for(threads, tiles),
                _blas.gemm_pixels(k, filters),
            )
    return post(out)


# --------------------------------------------------------------------------
# Validation shared by the three functions


def _operands(**named):
    """Convert the named operands to C-contiguous arrays of their common compute dtype."""
    arrays = {
        name: None if value is None and name == "bias" else _args.as_array(value, name)
        for name, value in named.items()
    }
    dtype = _args.compute_dtype(**arrays)
    return [None if a is None else _args.contiguous(a, dtype) for a in arrays.values()]


def _image(x, fmt):
    """Return ``(n, (h, w), channels)`` of the image batch ``x`` in layout ``fmt``."""
    _args.check_rank(x, "x", (4,), _args.IMAGE_LAYOUTS[fmt])
    if fmt == "channels_first":
        n, c, h, w = x.shape
    else:
        n, h, w, c = x.shape
    if c < 1:
        raise ValueError(f"`x` must have at least one channel; received shape {x.shape}")
    if h * w > _BLAS_INT_MAX:
        raise ValueError(f"`x` images of {h}x{w} pixels exceed the 2**31-1 pixels supported")
    if c > _BLAS_INT_MAX:
        raise ValueError(f"`x` has {c} channels, more than the 2**31-1 supported")
    return n, (h, w), c


def _depthwise_multiplier(depthwise_kernel, channels):
    """Check ``depthwise_kernel`` against ``channels`` input channels; return its multiplier."""
    _args.check_rank(
        depthwise_kernel,
        "depthwise_kernel",
        (4,),
        "4-D (kernel_height, kernel_width, channels, depth_multiplier)",
    )
    kh, kw, c, dm = depthwise_kernel.shape
    if c != channels:
        raise ValueError(
            f"`depthwise_kernel` has {c} input channels but `x` has {channels}: "
            f"depthwise_kernel.shape={depthwise_kernel.shape}"
        )
    if min(kh, kw, dm) < 1:
        raise ValueError(
            "`depthwise_kernel` kernel sizes and depth multiplier must be positive; "
            f"received depthwise_kernel.shape={depthwise_kernel.shape}"
        )
    if c * dm > _BLAS_INT_MAX:
        raise ValueError(
            f"`depthwise_kernel` gives C * depth_multiplier = {c * dm} channels, more than "
            f"the 2**31-1 supported: depthwise_kernel.shape={depthwise_kernel.shape}"
        )
    return dm


def _pointwise_matrix(pointwise_kernel, channels, source):
    """Return ``pointwise_kernel`` as a ``(channels, filters)`` matrix, checking its shape.

    ``source`` says where the ``channels`` come from, for the error message.
    """
    _args.check_rank(
        pointwise_kernel,
        "pointwise_kernel",
        (2, 4),
        "4-D (1, 1, in_channels, filters) or 2-D (in_channels, filters)",
    )
    shape = pointwise_kernel.shape
    if pointwise_kernel.ndim == 4 and shape[:2] != (1, 1):
        raise ValueError(
            f"`pointwise_kernel` must be 1x1 in space; received pointwise_kernel.shape={shape}"
        )
    matrix = pointwise_kernel.reshape(shape[-2:])
    if matrix.shape[0] != channels:
        raise ValueError(
            f"`pointwise_kernel` has {matrix.shape[0]} input channels but {source} = "
            f"{channels}: pointwise_kernel.shape={shape}"
        )
    if matrix.shape[1] < 1 or matrix.shape[1] > _BLAS_INT_MAX:
        raise ValueError(
            f"`pointwise_kernel` must have at least one filter; received shape {shape}"
        )
    return matrix


def _bias(bias, length, dtype):
    """Return the bias vector of ``length`` (zeros when ``bias`` is None)."""
    if bias is None:
        return np.zeros(length, dtype=dtype)
    if bias.shape != (length,):
        raise ValueError(f"`bias` must have shape ({length},); received bias.shape={bias.shape}")
    return bias


def _activation(activation):
    """Return ``(kernel code, post-processing function)`` for ``activation``."""
    codes = _dispatch.kernels.ACTIVATIONS
    if activation is None:
        return codes["linear"], _identity
    if isinstance(activation, str) and activation.lower() in codes:
        return codes[activation.lower()], _identity
    if callable(activation):
        return codes["linear"], lambda out: np.asarray(activation(out))
    raise ValueError(
        f"`activation` must be None, one of {sorted(codes)} or a callable; "
        f"received activation={activation!r}"
    )


def _identity(out):
    return out


def _empty_output(n, out_hw, channels, fmt, dtype):
    shape = (n, channels, *out_hw) if fmt == "channels_first" else (n, *out_hw, channels)
    return _buffers.empty(shape, dtype)


def _uses_blas(fmt, pointwise_channels):
    """Whether the kernel's pointwise step calls BLAS."""
    return _dispatch.kernels.uses_blas(fmt == "channels_first", pointwise_channels)


def _schedule(n, out_hw, channels, filters, itemsize, threads, fmt):
    """How ``separable`` shares its work: ``(rows, images, slices, tiles)``.

    Tiles of ``rows`` output rows, or of ``images`` whole images; or, where
    ``slices`` > 0, the depthwise result of the whole batch in tiles of
    ``rows`` rows and then the pointwise matrix in that many column slices.
    ``tiles`` is the most pieces of work the threads can share at once.
    """
    tile = (n, out_hw, (channels + filters) * itemsize, threads, channels * filters * itemsize)
    rows = _tiling.rows_per_tile(*tile)
    images = 1 if rows < out_hw[0] or fmt == "channels_first" else _tiling.images_per_tile(*tile)
    tiles = _tiles(n, out_hw[0], rows) if images == 1 else -(-n // images)
    if fmt == "channels_last":
        slices = _tiling.filter_slices(n, out_hw, channels, filters, itemsize, threads, tiles)
        if slices:
            rows = _tiling.rows_per_tile(n, out_hw, channels * itemsize, threads)
            return rows, 1, slices, max(slices, _tiles(n, out_hw[0], rows))
    return rows, images, 0, tiles


def _pointwise_schedule(n, pixels_each, channels, filters, itemsize, threads, fmt):
    """How ``pointwise`` shares its work: ``(pixels, slices, tiles)``.

    Tiles of ``pixels`` pixels of one of ``n`` images of ``pixels_each``
    (channels_last: of the batch's pixels as one image, its tiles equal); or,
    where ``slices`` > 0 (channels_last: x is already the batch's GEMM
    operand, so slicing copies nothing), the matrix in that many column
    slices.  ``tiles`` is the most pieces of work the threads can share at
    once.
    """
    per_pixel, matrix = (channels + filters) * itemsize, channels * filters * itemsize
    if fmt != "channels_last":
        pixels = _tiling.pixels_per_tile(n, pixels_each, per_pixel, threads, matrix)
        return pixels, 0, _tiles(n, pixels_each, pixels)
    batch = n * pixels_each
    pixels = _tiling.batch_pixels_per_tile(batch, per_pixel, threads, matrix)
    tiles = _tiles(1, batch, pixels)
    slices = _tiling.filter_slices(1, (batch, 1), channels, filters, itemsize, threads, tiles)
    return pixels, slices, slices or tiles


def _tiles(n, rows, rows_per_tile):
    """Tiles of a call: ``rows_per_tile`` rows (or pixels) of one of ``n`` images each."""
    return n * -(-rows // rows_per_tile)


def _live_taps(depthwise_kernel, in_hw, win, negative_pads=True):
    """The kernel rows and columns that read the image somewhere, and the pads for them.

    A tap that reads only padding, for every output pixel, adds nothing:
    leaving it out bounds the kernels' scratch by the image and the output,
    not by the padding (a dilation of 2**31 - 1 on a 1x1 image needs no
    more memory than a dilation of 1).

    ``negative_pads=False`` keeps as many leading dead taps as make the
    pads non-negative (for the backward kernels, which need them so).

    Returns
    -------
    depthwise_kernel : numpy.ndarray
        The live rows and columns, C-contiguous (the kernel itself when all are).
    pads : tuple of 2 ints
        Zero rows above and columns to the left for the live taps; negative
        when the first live tap starts inside the image.
    taps : tuple of 2 slices
        Where the live rows and columns sit in the kernel.
    """
    spans = [
        _args.live_taps(*dims)
        for dims in zip(
            in_hw,
            win.out_hw,
            depthwise_kernel.shape[:2],
            win.strides,
            win.dilation_rate,
            win.pads,
            strict=True,
        )
    ]
    if not negative_pads:
        spans = [
            (min(first, pad // dilation), stop)
            for (first, stop), pad, dilation in zip(spans, win.pads, win.dilation_rate, strict=True)
        ]
    taps = tuple(slice(first, stop) for first, stop in spans)
    if all(
        stop - first == size
        for (first, stop), size in zip(spans, depthwise_kernel.shape[:2], strict=True)
    ):
        return depthwise_kernel, win.pads, taps
    (p0, _), (q0, _) = spans
    pads = (win.pads[0] - p0 * win.dilation_rate[0], win.pads[1] - q0 * win.dilation_rate[1])
    return np.ascontiguousarray(depthwise_kernel[taps]), pads, taps
