"""Convolution configurations for the tests: a hypothesis strategy and their arrays.

A :class:`Case` is the geometry of one separable convolution plus a seed; its
arrays are NHWC and drawn from [-1, 1] so that tolerances can be set from
the reduction length alone (see ``compare.py``).
"""

from dataclasses import dataclass

import numpy as np
import reference
from hypothesis import strategies as st


@dataclass(frozen=True)
class Case:
    """One separable convolution: shapes, geometry and the seed of its data."""

    n: int
    hw: tuple
    channels: int
    depth_multiplier: int
    filters: int
    kernel: tuple
    strides: tuple = (1, 1)
    dilation: tuple = (1, 1)
    padding: str = "valid"
    seed: int = 0

    @property
    def k(self):
        """Channels of the depthwise result, ``C * depth_multiplier``."""
        return self.channels * self.depth_multiplier

    @property
    def reduction(self):
        """Products summed into one output value, kernel taps times channels (a bound)."""
        return (self.kernel[0] * self.kernel[1] + 1) * self.k + 1

    @property
    def geometry(self):
        """Keyword arguments of the functional API for this geometry."""
        return {"strides": self.strides, "padding": self.padding, "dilation_rate": self.dilation}

    def arrays(self, dtype=np.float64):
        """Return ``x`` (NHWC), depthwise kernel, pointwise kernel (1, 1, K, F), bias."""
        rng = np.random.default_rng(self.seed)
        shapes = [
            (self.n, *self.hw, self.channels),
            (*self.kernel, self.channels, self.depth_multiplier),
            (1, 1, self.k, self.filters),
            (self.filters,),
        ]
        return [rng.uniform(-1, 1, s).astype(dtype) for s in shapes]

    def expected_depthwise(self, x, dk):
        """float64 reference depthwise result of NHWC ``x``."""
        return reference.depthwise(x, dk, self.strides, self.padding, self.dilation)

    def expected(self, x, dk, pk, bias=None):
        """float64 reference separable result of NHWC ``x``."""
        return reference.separable(x, dk, pk, bias, self.strides, self.padding, self.dilation)


@st.composite
def cases(
    draw,
    max_side=9,
    max_kernel=5,
    max_channels=12,
    max_filters=12,
    min_batch=0,
    max_batch=2,
    max_stride=3,
    max_dilation=3,
    paddings=("valid", "same"),
):
    """Strategy for :class:`Case`: any padding, stride, dilation and kernel size.

    Under "valid" the image is at least as large as the dilated kernel; under
    "same" the kernel may be larger than the image.
    """
    padding = draw(st.sampled_from(paddings))
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, max_dilation)) for _ in range(2))
    strides = tuple(draw(st.integers(1, max_stride)) for _ in range(2))
    if padding == "valid":
        hw = tuple(
            d * (k - 1) + 1 + draw(st.integers(0, max_side - 1))
            for k, d in zip(kernel, dilation, strict=True)
        )
    else:
        hw = tuple(draw(st.integers(1, max_side)) for _ in range(2))
    return Case(
        n=draw(st.integers(min_batch, max_batch)),
        hw=hw,
        channels=draw(st.integers(1, max_channels)),
        depth_multiplier=draw(st.integers(1, 3)),
        filters=draw(st.integers(1, max_filters)),
        kernel=kernel,
        strides=strides,
        dilation=dilation,
        padding=padding,
        seed=draw(st.integers(0, 2**32 - 1)),
    )
