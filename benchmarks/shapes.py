"""The benchmark shapes, their arithmetic cost and their data.

S1-S8 are issue 5's; W1-W4 are real networks' wide layers (Xception's middle
and exit flows, MobileNet's last stages), L1-L4 single images, and S1CF, S7CF
are S1 and S7 on channels-first (NCHW) input (issue 16).  ``--shapes wide``,
``--shapes single`` and ``--shapes nchw`` name those sets.

Every shape is a forward ``SeparableConv2D`` with ``same`` padding, an input
of random normal data in the shape's layout, and a bias.  The GFLOP count is 2
per multiply-add of both steps (depthwise and pointwise); the bias add is not
counted, as in the issue's table.
"""

import dataclasses
import math

import numpy as np

__all__ = ["Shape", "SHAPES", "SETS", "DTYPES", "select", "make_data", "same_padding"]

DTYPES = ("float32", "float64")


@dataclasses.dataclass(frozen=True)
class Shape:
    """One benchmark case: ``N, H, W, C -> F``, kernel ``k``, ``stride``, ``dilation``, ``dm``.

    ``data_format`` is the input's layout, as sepconv's argument of that name.
    """

    name: str
    n: int
    h: int
    w: int
    c: int
    f: int
    k: int
    stride: int
    dilation: int
    dm: int
    data_format: str = "channels_last"

    @property
    def out_hw(self):
        """Output rows and columns under ``same`` padding: ``ceil(n / stride)``."""
        return math.ceil(self.h / self.stride), math.ceil(self.w / self.stride)

    @property
    def output_shape(self):
        """The channels-last output shape ``(N, H_out, W_out, F)``."""
        return (self.n, *self.out_hw, self.f)

    @property
    def gflop(self):
        """Floating-point operations of one call, in units of 1e9."""
        pixels = self.n * self.out_hw[0] * self.out_hw[1]
        depthwise = pixels * self.c * self.dm * self.k * self.k
        pointwise = pixels * self.c * self.dm * self.f
        return 2 * (depthwise + pointwise) / 1e9

    def one_image(self):
        """The same case on a batch of one image (for warming a library up)."""
        return dataclasses.replace(self, n=1)

    def output_bytes(self, dtype):
        """Size of the output array in bytes for ``dtype``."""
        return math.prod(self.output_shape) * np.dtype(dtype).itemsize

    def describe(self):
        """The issue's notation: ``N, H, W, C -> F, k, stride, dilation, dm`` (and NCHW)."""
        layout = ", NCHW" if self.data_format == "channels_first" else ""
        return (
            f"{self.n}, {self.h}, {self.w}, {self.c} -> {self.f}, "
            f"{self.k}, {self.stride}, {self.dilation}, {self.dm}{layout}"
        )


SHAPES = {
    shape.name: shape
    for shape in (
        Shape("S1", 32, 56, 56, 128, 128, 3, 1, 1, 1),
        Shape("S2", 16, 112, 112, 32, 64, 3, 1, 1, 1),
        Shape("S3", 8, 147, 147, 64, 128, 3, 1, 1, 1),
        Shape("S4", 256, 32, 32, 3, 32, 3, 1, 1, 1),
        Shape("S5", 64, 28, 28, 256, 256, 3, 2, 1, 1),
        Shape("S6", 1024, 28, 28, 1, 16, 5, 1, 1, 4),
        Shape("S7", 16, 64, 64, 64, 64, 3, 1, 2, 1),
        Shape("S8", 16, 56, 56, 96, 96, 7, 1, 1, 1),
        Shape("W1", 32, 19, 19, 728, 728, 3, 1, 1, 1),
        Shape("W2", 8, 10, 10, 1536, 2048, 3, 1, 1, 1),
        Shape("W3", 32, 7, 7, 1024, 1024, 3, 1, 1, 1),
        Shape("W4", 32, 14, 14, 512, 512, 3, 1, 1, 1),
        Shape("L1", 1, 512, 512, 32, 64, 3, 1, 1, 1),
        Shape("L2", 1, 1024, 1024, 3, 32, 3, 1, 1, 8),
        Shape("L3", 1, 19, 19, 728, 728, 3, 1, 1, 1),
        Shape("L4", 1, 224, 224, 32, 64, 3, 2, 1, 1),
        Shape("S1CF", 32, 56, 56, 128, 128, 3, 1, 1, 1, "channels_first"),
        Shape("S7CF", 16, 64, 64, 64, 64, 3, 1, 2, 1, "channels_first"),
    )
}

# Named sets of shapes; "default" is what a run without --shapes measures.
SETS = {
    "default": [f"S{i}" for i in range(1, 9)],
    "wide": ["W1", "W2", "W3", "W4"],
    "single": ["L1", "L2", "L3", "L4"],
    "nchw": ["S1CF", "S7CF"],
}


def select(names):
    """Return the shapes named in a comma-separated string (``None``: S1-S8).

    A name may also be a set of SETS ("wide", "single", "default").

    Raises
    ------
    ValueError
        If a name is neither a shape nor a set.
    """
    if names is None:
        names = "default"
    chosen = []
    for name in (part.strip() for part in names.split(",") if part.strip()):
        chosen += SETS.get(name.lower(), [name.upper()])
    unknown = [name for name in chosen if name not in SHAPES]
    if unknown or not chosen:
        raise ValueError(
            f"`shapes` must name some of {', '.join(SHAPES)} or of the sets "
            f"{', '.join(SETS)}; got {names!r}"
        )
    return [SHAPES[name] for name in chosen]


def same_padding(size, k, stride, dilation):
    """Zeros ``(before, after)`` that ``same`` padding adds along one axis.

    TensorFlow's rule, which sepconv follows: the total is what makes the
    output ``ceil(size / stride)`` long, ``total // 2`` goes before and the rest
    after, so it is asymmetric when the total is odd (S5).
    """
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def make_data(shape, dtype, seed=0):
    """Random normal operands for ``shape``, in TensorFlow's layouts.

    Drawn straight in ``dtype`` so no float64 temporary raises the peak memory
    of the process that measures it.  A channels-first shape gets the same
    values, transposed to NCHW.

    Returns
    -------
    dict
        ``x`` ``(N, H, W, C)`` (``(N, C, H, W)`` for a channels-first shape),
        ``depthwise`` ``(k, k, C, dm)``, ``pointwise`` ``(1, 1, C*dm, F)``,
        ``bias`` ``(F,)``, all C-contiguous.
    """
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    x = rng.standard_normal((shape.n, shape.h, shape.w, shape.c), dtype=dtype)
    if shape.data_format == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return {
        "x": x,
        "depthwise": rng.standard_normal((shape.k, shape.k, shape.c, shape.dm), dtype=dtype),
        "pointwise": rng.standard_normal((1, 1, shape.c * shape.dm, shape.f), dtype=dtype),
        "bias": rng.standard_normal(shape.f, dtype=dtype),
    }
