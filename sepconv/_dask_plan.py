"""How a strided, dilated, padded convolution is cut along one chunked spatial axis.

Pure arithmetic, no Dask: :func:`axis_plan` says how to pad, crop and
rechunk one spatial axis of the input so that every block, extended by a
one-sided halo taken from the next block, yields a whole run of outputs
through a ``"valid"`` convolution.  The recipe is in
``shared/design/dask-notes.md``; the proof of each count is in the comments.
"""

from dataclasses import dataclass

from . import _args


@dataclass(frozen=True)
class AxisPlan:
    """The cut of one spatial axis.

    Attributes
    ----------
    pad_before, pad_after : int
        Zeros added before and after the axis (Keras's "same" amounts, and
        enough after so that the crop below never runs past the end).
    length : int
        Length kept after padding: exactly what the outputs read,
        ``(out - 1) * stride + effective_kernel``.
    in_chunks : tuple of int
        Chunks of the padded, cropped axis; every boundary is a multiple of
        the stride.
    out_chunks : tuple of int
        Outputs of each block, in the same order.
    halo : int
        Input elements each block borrows from the next one,
        ``max(effective_kernel - stride, 0)``.
    """

    pad_before: int
    pad_after: int
    length: int
    in_chunks: tuple
    out_chunks: tuple
    halo: int


def axis_plan(chunks, kernel, stride, dilation, padding, window):
    """Return the :class:`AxisPlan` of one spatial axis.

    Output chunk boundaries follow the input's chunk boundaries, so a
    well-chunked input is cut about where it already is.  Chunks whose input
    would be shorter than the halo are merged into the next one, which is
    the deliberate rechunk that keeps Dask's overlap from rechunking on its
    own.

    Parameters
    ----------
    chunks : tuple of int
        The axis's chunks in the input, before padding.
    kernel, stride, dilation : int
        The kernel's size, stride and dilation along this axis.
    padding : {"valid", "same"}
    window : tuple of 2 ints
        ``(outputs, zeros before)`` along this axis, from :func:`sepconv._args.window`.

    Returns
    -------
    AxisPlan
    """
    out, pad_before = window
    effective = dilation * (kernel - 1) + 1
    length = (out - 1) * stride + effective
    size = sum(chunks)
    halo = max(effective - stride, 0)
    out_chunks = _out_chunks(_boundaries(chunks), stride, out, -(-halo // stride))
    # Block j starts at input B_j = stride * (outputs before it).  A block of
    # len = stride * o_j inputs plus the halo holds
    # (len + halo - effective) // stride + 1 = o_j windows ("valid"); the last
    # block ends at `length`, which is where the last window ends.
    in_chunks = tuple(stride * o for o in out_chunks[:-1])
    in_chunks += (length - sum(in_chunks),)
    return AxisPlan(
        pad_before, max(length - size - pad_before, 0), length, in_chunks, out_chunks, halo
    )


def _boundaries(chunks):
    """Return the interior chunk boundaries of an axis, as input offsets."""
    bounds, position = [], 0
    for chunk in chunks[:-1]:
        position += chunk
        bounds.append(position)
    return bounds


def _out_chunks(bounds, stride, out, minimum):
    """Return output chunks whose boundaries follow the input's ``bounds``.

    Every chunk but the last holds at least ``minimum`` (and 1) outputs, so
    that its input is at least the halo; the last one's input is a whole
    window, never shorter than the halo.
    """
    minimum = max(minimum, 1)
    # The input's cuts in output units: with stride 1 the output chunks are
    # the input's (for "same"; "valid" shortens the last).
    cuts = sorted({b // stride for b in bounds})
    chunks, start = [], 0
    for cut in cuts:
        if cut - start >= minimum and cut < out:
            chunks.append(cut - start)
            start = cut
    chunks.append(out - start)
    return tuple(chunks)


def spatial_plans(image_chunks, kernel_hw, strides, dilation_rate, padding, spatial_hw):
    """Return the :class:`AxisPlan` of the height and the width axis.

    Parameters
    ----------
    image_chunks : tuple of 2 tuples
        Chunks of the height and width axes.
    kernel_hw : tuple of 2 ints
    strides, dilation_rate, padding
        As the functional API takes them; validated here.
    spatial_hw : tuple of 2 ints
        Height and width of the images.

    Returns
    -------
    tuple of 2 AxisPlan
    """
    win = _args.window(spatial_hw, kernel_hw, strides, dilation_rate, padding)
    return tuple(
        axis_plan(chunks, k, s, d, win.padding, (out, pad))
        for chunks, k, s, d, out, pad in zip(
            image_chunks,
            kernel_hw,
            win.strides,
            win.dilation_rate,
            win.out_hw,
            win.pads,
            strict=True,
        )
    )
