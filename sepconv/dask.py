"""The functional operations and the transformer over Dask arrays, lazily, block by block.

Needs the optional extra ``dask`` (``pip install 'sepconv[dask]'``); importing
this module does not import Dask, calling its functions does.

The convolutions take image batches chunked along the batch, the spatial
and the channel axes (the channels are merged into one block where a
pointwise step sums over them all).  Each output block is a ``"valid"``
convolution of its input block plus a one-sided halo borrowed from the next
block (Dask's ``overlap`` with ``boundary="none"``); Keras's ``"same"``
zeros are added once at the image's true borders, and the spatial chunks
are cut at multiples of the stride.  Every result knows its shape, chunks,
dtype and meta before anything is computed.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from sklearn.utils.validation import check_is_fitted

from . import _args, functional
from ._dask_plan import spatial_plans
from ._dask_threads import task_threads
from ._typing import DataFormat, FunctionalActivation, IntOrPair, Padding

if TYPE_CHECKING:
    import dask.array as da

    from .transformer import SeparableConvFeatures

__all__ = ["separable_conv2d", "depthwise_conv2d", "pointwise_conv2d", "transform"]


def separable_conv2d(
    x: da.Array | npt.ArrayLike,
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
) -> da.Array:
    """Depthwise separable 2-D convolution of a Dask array of images.

    Parameters
    ----------
    x : dask.array.Array or array_like
        Images, ``(N, H, W, C)`` or ``(N, C, H, W)`` (see ``data_format``),
        chunked along any axes; chunk sizes must be known.
    depthwise_kernel, pointwise_kernel, bias : array_like
        NumPy arrays, as in :func:`sepconv.functional.separable_conv2d`;
        they enter the task graph once.
    strides, padding, dilation_rate, data_format : optional
        As in :func:`sepconv.functional.separable_conv2d`.
    activation : {None, "linear", "relu"} or callable, default=None
        A callable is applied to each output block: it must act elementwise.
    n_threads : int or None, default=None
        OpenMP threads of each task's kernel call, lowered to the task's
        share of the cores (``docs/scaling.md``, "Threads").

    Returns
    -------
    dask.array.Array
        Lazy; its values are those of the NumPy function on the whole array.
        The batch chunks are kept, the spatial chunks follow the input's
        (cut at multiples of the stride), the channels are one chunk.

    Raises
    ------
    ValueError, TypeError
        As the NumPy function does, with its messages, before any compute;
        ValueError for chunk sizes that are not known.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import sepconv
    >>> from sepconv import dask as sepconv_dask
    >>> rng = np.random.default_rng(0)
    >>> images = rng.standard_normal((4, 16, 16, 3)).astype(np.float32)
    >>> x = da.from_array(images, chunks=(2, 8, 8, 3))
    >>> dk = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    >>> pk = rng.standard_normal((1, 1, 6, 4)).astype(np.float32)
    >>> y = sepconv_dask.separable_conv2d(x, dk, pk, padding="same")
    >>> y.shape, y.chunks[1]
    ((4, 16, 16, 4), (8, 8))
    >>> expected = sepconv.separable_conv2d(images, dk, pk, padding="same")
    >>> np.allclose(y.compute(scheduler="threads"), expected, atol=1e-5)
    True
    """
    return _convolve(
        "separable_conv2d",
        x,
        (depthwise_kernel, pointwise_kernel, bias),
        depthwise_kernel,
        strides=strides,
        padding=padding,
        dilation_rate=dilation_rate,
        data_format=data_format,
        activation=activation,
        n_threads=n_threads,
    )


def depthwise_conv2d(
    x: da.Array | npt.ArrayLike,
    depthwise_kernel: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    *,
    strides: IntOrPair = 1,
    padding: Padding = "valid",
    dilation_rate: IntOrPair = 1,
    data_format: DataFormat | None = "channels_last",
    activation: FunctionalActivation = None,
    n_threads: int | None = None,
) -> da.Array:
    """Depthwise 2-D convolution of a Dask array of images.

    Parameters
    ----------
    x : dask.array.Array or array_like
        As in :func:`separable_conv2d`, but the channel chunks are kept: each
        channel is filtered on its own.
    depthwise_kernel, bias : array_like
        As in :func:`sepconv.functional.depthwise_conv2d`.
    strides, padding, dilation_rate, data_format, activation, n_threads
        As in :func:`separable_conv2d`.

    Returns
    -------
    dask.array.Array
        As in :func:`separable_conv2d`, with ``C * depth_multiplier`` channels,
        chunked as ``x``'s channels times the multiplier.

    Raises
    ------
    ValueError, TypeError
        As in :func:`separable_conv2d`.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import sepconv
    >>> from sepconv import dask as sepconv_dask
    >>> rng = np.random.default_rng(0)
    >>> images = rng.standard_normal((4, 16, 16, 3)).astype(np.float32)
    >>> x = da.from_array(images, chunks=(2, 8, 8, 3))
    >>> dk = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    >>> y = sepconv_dask.depthwise_conv2d(x, dk)
    >>> y.shape
    (4, 14, 14, 6)
    >>> np.allclose(y.compute(scheduler="threads"), sepconv.depthwise_conv2d(images, dk), atol=1e-5)
    True
    """
    return _convolve(
        "depthwise_conv2d",
        x,
        (depthwise_kernel, bias),
        depthwise_kernel,
        strides=strides,
        padding=padding,
        dilation_rate=dilation_rate,
        data_format=data_format,
        activation=activation,
        n_threads=n_threads,
    )


def pointwise_conv2d(
    x: da.Array | npt.ArrayLike,
    pointwise_kernel: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    *,
    data_format: DataFormat | None = "channels_last",
    activation: FunctionalActivation = None,
    n_threads: int | None = None,
) -> da.Array:
    """Pointwise (1x1) 2-D convolution of a Dask array of images.

    Parameters
    ----------
    x : dask.array.Array or array_like
        As in :func:`separable_conv2d`.
    pointwise_kernel, bias : array_like
        As in :func:`sepconv.functional.pointwise_conv2d`.
    data_format, activation, n_threads
        As in :func:`separable_conv2d`.

    Returns
    -------
    dask.array.Array
        Chunked like ``x`` but for the channels, one chunk of ``filters``.

    Raises
    ------
    ValueError, TypeError
        As in :func:`separable_conv2d`.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import sepconv
    >>> from sepconv import dask as sepconv_dask
    >>> rng = np.random.default_rng(0)
    >>> images = rng.standard_normal((4, 16, 16, 3)).astype(np.float32)
    >>> x = da.from_array(images, chunks=(2, 8, 8, 3))
    >>> pk = rng.standard_normal((1, 1, 3, 5)).astype(np.float32)
    >>> y = sepconv_dask.pointwise_conv2d(x, pk)
    >>> y.shape, y.dtype
    ((4, 16, 16, 5), dtype('float32'))
    >>> np.allclose(y.compute(scheduler="threads"), sepconv.pointwise_conv2d(images, pk), atol=1e-5)
    True
    """
    x, fmt = _image_batch(x, data_format)
    options = {"data_format": fmt, "activation": activation}
    meta = _probe("pointwise_conv2d", x, (pointwise_kernel, bias), options)
    x = x.rechunk({_channel_axis(fmt): -1})
    chunks = _with_channels(x.chunks, fmt, meta.shape[_channel_axis(fmt)])
    return x.map_blocks(
        _block,
        "pointwise_conv2d",
        _kernels(meta, pointwise_kernel, bias),
        options,
        _args.n_threads(n_threads),
        chunks=chunks,
        dtype=meta.dtype,
        meta=meta,
    )


def transform(estimator: SeparableConvFeatures, X: da.Array | npt.ArrayLike) -> da.Array:
    """Return the features of a Dask array as a lazy Dask array, block by block.

    Unlike ``X.map_blocks(estimator.transform)`` (and dask-ml's
    ``ParallelPostFit``, which reports the input's width and fails on 4-D
    input), the result knows its true shape, chunks and dtype before anything
    is computed.  ``estimator.transform`` does the same for Dask input.

    Parameters
    ----------
    estimator : SeparableConvFeatures
        Fitted.  Up to 1 MiB pickled it travels inside each task, so that
        Dask fuses each chunk's read, transform and write into one task;
        a larger one enters the task graph once.  Its ``n_jobs`` is lowered to
        each task's share of the cores; its ``verbose`` is ignored (follow
        the computation with ``dask.diagnostics.ProgressBar``).
    X : dask.array.Array or array_like
        ``(n_samples, n_features_in_)`` rows or a 4-D image batch of the
        fitted image shape.  Only the sample axis may stay chunked; the other
        axes are rechunked into one block.  NaN and infinity raise when the
        block holding them is computed.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features_out_)
        Chunked like ``X`` along the samples; float32 for float32 ``X``,
        float64 otherwise.  The values are those of ``estimator.transform``
        as a NumPy array, whatever its ``set_output`` configuration.

    Raises
    ------
    ValueError
        If ``X`` is neither 2-D nor 4-D.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import sepconv
    >>> from sepconv import dask as sepconv_dask
    >>> rng = np.random.default_rng(0)
    >>> images = rng.standard_normal((4, 16, 16, 3)).astype(np.float32)
    >>> x = da.from_array(images, chunks=(2, 8, 8, 3))
    >>> from sepconv.transformer import SeparableConvFeatures
    >>> features = SeparableConvFeatures(random_state=0).fit(images)
    >>> lazy = sepconv_dask.transform(features, x)
    >>> lazy.shape == (4, features.n_features_out_)
    True
    >>> np.allclose(lazy.compute(scheduler="threads"), features.transform(images), atol=1e-5)
    True
    """
    import dask.array as da

    check_is_fitted(estimator)
    X = da.asarray(X)
    if X.ndim not in (2, 4):
        raise ValueError(
            "X must be a 2-D (n_samples, n_features) or 4-D image Dask array; "
            f"received shape {X.shape}"
        )
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    dtype = np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
    # Each block's axes past the samples are one chunk, summed away into the
    # new feature axis "f".  With concatenate=False the task gets that one
    # block as it is, in nested lists; map_blocks' drop_axis would copy every
    # block through concatenate3 first (7.5% of a worker's task time on 256 x
    # 256 images).
    return da.blockwise(
        _transform_block,
        "nf",
        X,
        "n" + "abc"[: X.ndim - 1],
        _in_graph(estimator),
        None,
        new_axes={"f": estimator.n_features_out_},
        concatenate=False,
        dtype=dtype,
        meta=np.empty((0, 0), dtype),
    )


# An estimator up to this size travels inside every task.  A transform task
# whose only input key is its chunk ends a linear chain, which Dask's
# low-level fusion turns into one task a chunk: the read (zarr's, say), the
# transform and the write.  With the estimator as a key of its own each
# transform has two inputs, Dask never fuses it with the read, and every
# chunk costs a second task and a scheduler round trip between the two
# (on the 4 GB benchmark, docs/scaling.md, one worker ran 7% longer).  A
# fitted transformer pickles to 4-150 KiB; past 1 MiB, sending it with
# every task would cost more than the round trip it saves.
_INLINE_ESTIMATOR_BYTES = 2**20


def _in_graph(estimator):
    """Return ``estimator`` as the graph holds it: itself when small, else a key of its own."""
    import cloudpickle
    import dask

    if len(cloudpickle.dumps(estimator)) <= _INLINE_ESTIMATOR_BYTES:
        return estimator
    return dask.delayed(estimator, pure=True)


# --------------------------------------------------------------------------
# The convolutions


def _convolve(
    name,
    x,
    operands,
    depthwise_kernel,
    *,
    strides,
    padding,
    dilation_rate,
    data_format,
    activation,
    n_threads,
):
    """Return the lazy convolution ``functional.<name>`` of ``x``, cut block by block."""
    import dask.array as da

    x, fmt = _image_batch(x, data_format)
    options = {
        "strides": strides,
        "dilation_rate": dilation_rate,
        "data_format": fmt,
        "activation": activation,
    }
    meta = _probe(name, x, operands, {**options, "padding": padding})
    axes = _spatial_axes(fmt)
    plans = spatial_plans(
        [x.chunks[a] for a in axes],
        np.shape(depthwise_kernel)[:2],
        strides,
        dilation_rate,
        padding,
        [x.shape[a] for a in axes],
    )
    pads = [(0, 0)] * 4
    crop = [slice(None)] * 4
    for axis, plan in zip(axes, plans, strict=True):
        pads[axis] = (plan.pad_before, plan.pad_after)
        crop[axis] = slice(0, plan.length)
    if any(map(any, pads)):
        x = da.pad(x, pads, mode="constant")
    channels = _channel_axis(fmt)
    # The depthwise step filters each channel on its own, so its channel
    # chunks are kept; the pointwise step sums over them all.
    keep_channels = name == "depthwise_conv2d"
    x = x[tuple(crop)].rechunk(
        {
            **({} if keep_channels else {channels: -1}),
            **{a: p.in_chunks for a, p in zip(axes, plans, strict=True)},
        }
    )
    # allow_rechunk=False: the chunks above already hold every halo, and a
    # rechunk by Dask would move the block edges off the stride.
    x = da.overlap.overlap(
        x,
        depth={a: (0, p.halo) for a, p in zip(axes, plans, strict=True)},
        boundary="none",
        allow_rechunk=False,
    )
    chunks = list(x.chunks)
    if keep_channels:
        multiplier = meta.shape[channels] // x.shape[channels]
        chunks[channels] = tuple(c * multiplier for c in x.chunks[channels])
    else:
        chunks[channels] = (meta.shape[channels],)
    for axis, plan in zip(axes, plans, strict=True):
        chunks[axis] = plan.out_chunks
    return x.map_blocks(
        _block,
        name,
        _kernels(meta, *operands),
        {**options, "padding": "valid"},
        _args.n_threads(n_threads),
        chunks=tuple(chunks),
        dtype=meta.dtype,
        meta=meta,
    )


def _image_batch(x, data_format):
    """Return ``x`` as a 4-D Dask array with known chunks, and the normalised layout."""
    import dask.array as da

    fmt = _args.data_format(data_format)
    x = da.asarray(x)
    _args.check_rank(x, "x", (4,), _args.IMAGE_LAYOUTS[fmt])
    if any(math.isnan(size) for size in x.shape):
        raise ValueError(
            f"`x` has unknown chunk sizes (shape {x.shape}); call x.compute_chunk_sizes() first"
        )
    return x, fmt


def _probe(name, x, operands, options):
    """Run ``functional.<name>`` on an empty batch of ``x``'s images; return the result.

    The functional API validates every argument with its own messages and
    returns the output's shape (but for the batch) and dtype without running
    a kernel: an empty batch is never convolved.  The empty result serves as
    the Dask meta.
    """
    empty = np.empty((0, *x.shape[1:]), dtype=x.dtype)
    return getattr(functional, name)(empty, *operands, **options)


def _kernels(meta, *operands):
    """Return the operands in the output's dtype, wrapped to enter the graph once."""
    import dask

    arrays = tuple(None if a is None else np.asarray(a, dtype=meta.dtype) for a in operands)
    return dask.delayed(arrays, pure=True, traverse=False)


def _block(block, name, kernels, options, n_threads, block_info=None):
    """Convolve one block; ``functional.<name>`` is looked up now, in the task's process.

    A depthwise block of channels ``[c0, c1)`` (from ``block_info``) takes
    those channels of the kernel and their ``c * depth_multiplier + m`` bias
    entries.
    """
    if name == "depthwise_conv2d":
        c0, c1 = block_info[0]["array-location"][_channel_axis(options["data_format"])]
        depthwise, bias = kernels
        multiplier = depthwise.shape[3]
        kernels = (
            depthwise[:, :, c0:c1],
            None if bias is None else bias[c0 * multiplier : c1 * multiplier],
        )
    return getattr(functional, name)(block, *kernels, n_threads=task_threads(n_threads), **options)


def _spatial_axes(fmt):
    return (2, 3) if fmt == "channels_first" else (1, 2)


def _channel_axis(fmt):
    return 1 if fmt == "channels_first" else 3


def _with_channels(chunks, fmt, channels):
    """Return ``chunks`` with the channel axis one chunk of ``channels``."""
    chunks = list(chunks)
    chunks[_channel_axis(fmt)] = (channels,)
    return tuple(chunks)


# --------------------------------------------------------------------------
# The transformer


def _transform_block(block, estimator):
    """Transform one block with the task's share of the cores, silently.

    ``verbose`` reports on the eager path only: one report per block would
    interleave across workers; Dask's own progress bar follows the graph.
    """
    while isinstance(block, list):  # blockwise's nesting of the single block
        (block,) = block
    estimator = copy.copy(estimator)
    estimator.n_jobs = task_threads(estimator.n_jobs)
    estimator.verbose = 0
    return np.asarray(estimator.transform(block))
