"""Live parity with PyTorch and TensorFlow on random configurations.

Each peer is imported lazily and its tests skip where it is not installed.
"""

import dataclasses

import numpy as np
import pytest
import reference
from cases import cases
from compare import assert_close, from_layout, to_layout
from hypothesis import given
from hypothesis import strategies as st

import sepconv

FLOATS = st.sampled_from([np.float32, np.float64])
LAYOUTS = st.sampled_from(["channels_last", "channels_first"])


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _sepconv(case, arrays, layout):
    """sepconv's result for ``case`` as NHWC, run in ``layout``."""
    x, dk, pk, bias = arrays
    y = sepconv.separable_conv2d(
        to_layout(x, layout), dk, pk, bias, data_format=layout, **case.geometry
    )
    return from_layout(y, layout)


def _torch_padding(case):
    """(left, right, top, bottom) zeros for torch.nn.functional.pad.

    PyTorch's own padding="same" pads symmetrically where it can and refuses
    strides; the spec puts P // 2 before and the rest after, so pad explicitly.
    """
    pads = []
    for n, k, s, d in zip(case.hw, case.kernel, case.strides, case.dilation, strict=True):
        if case.padding == "valid":
            pads.append((0, 0))
            continue
        out, before = reference.output_size(n, k, s, d, "same")
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        pads.append((before, total - before))
    (top, bottom), (left, right) = pads
    return left, right, top, bottom


def _torch_separable(torch, case, arrays):
    """Depthwise conv2d with groups=C, then a 1x1 conv2d, in PyTorch; NHWC result."""
    functional = torch.nn.functional
    x, dk, pk, bias = (torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
    kh, kw, c, dm = dk.shape
    # (kh, kw, C, dm) -> (C * dm, 1, kh, kw): output channel c * dm + m, as groups=C orders them
    depthwise_weight = dk.permute(2, 3, 0, 1).reshape(c * dm, 1, kh, kw)
    pointwise_weight = pk[0, 0].T.reshape(pk.shape[3], c * dm, 1, 1)
    xp = functional.pad(x.permute(0, 3, 1, 2), _torch_padding(case))
    d = functional.conv2d(
        xp, depthwise_weight, stride=case.strides, dilation=case.dilation, groups=c
    )
    y = functional.conv2d(d, pointwise_weight, bias)
    return y.permute(0, 2, 3, 1).numpy()


@given(
    case=cases(max_batch=1) | cases(max_channels=16, max_filters=16, max_batch=1),
    dtype=FLOATS,
    layout=LAYOUTS,
)
def test_matches_pytorch(torch, case, dtype, layout):
    arrays = case.arrays(dtype)
    expected = _torch_separable(torch, case, arrays)
    assert_close(
        _sepconv(case, arrays, layout), expected.astype(np.float64), dtype, 2 * case.reduction
    )


def _tf_supported(case):
    """tf.nn.separable_conv2d needs equal strides, and strides or dilation of 1."""
    sh, sw = case.strides
    return sh == sw and (sh == 1 or max(case.dilation) == 1)


# TensorFlow returns an input-shaped array for an empty batch: batches of 1 and 2 only
@given(case=cases(min_batch=1), dtype=FLOATS, layout=LAYOUTS)
def test_matches_tensorflow(tf, case, dtype, layout):
    if not _tf_supported(case):
        case = dataclasses.replace(case, strides=(1, 1))
    arrays = case.arrays(dtype)
    x, dk, pk, bias = arrays
    y_tf = tf.nn.separable_conv2d(
        x,
        dk,
        pk,
        strides=[1, *case.strides, 1],
        padding=case.padding.upper(),
        dilations=case.dilation,
    )
    expected = np.asarray(tf.nn.bias_add(y_tf, bias)).astype(np.float64)
    assert_close(_sepconv(case, arrays, layout), expected, dtype, 2 * case.reduction)
