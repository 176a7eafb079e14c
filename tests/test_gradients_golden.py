"""Gradients against PyTorch autograd and TensorFlow's GradientTape (golden files).

tests/data/make_gradient_golden.py stored, per case, float64 inputs, ``dy``
and both peers' gradients of ``sum(separable(x) * dy)``; cases.json states
the versions.  sepconv must match both, in both layouts, and in float32 to
float32 accuracy.
"""

import json
import os

import numpy as np
import pytest
from compare import from_layout, to_layout

import sepconv

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "gradients")
with open(os.path.join(HERE, "cases.json")) as _fh:
    GOLDEN = json.load(_fh)
ARRAYS = np.load(os.path.join(HERE, "arrays.npz"))
NAMES = ("x", "depthwise_kernel", "pointwise_kernel", "bias")
TOLERANCE = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-12, atol=1e-12)}


def sepconv_gradients(name, dtype, layout):
    meta = GOLDEN["cases"][name]
    x, dk, pk, bias, dy = (
        ARRAYS[f"{name}/{k}"].astype(dtype) for k in ("x", "dk", "pk", "bias", "dy")
    )
    got = sepconv.separable_conv2d_grad(
        to_layout(dy, layout),
        to_layout(x, layout),
        dk,
        pk,
        bias,
        strides=meta["strides"],
        dilation_rate=meta["dilation"],
        padding=meta["padding"],
        data_format=layout,
        activation="relu" if meta["relu"] else None,
    )
    got["x"] = from_layout(got["x"], layout)
    return got


@pytest.mark.parametrize("peer", ["torch", "tf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
@pytest.mark.parametrize("name", sorted(GOLDEN["cases"]))
def test_gradients_match_the_peers(name, layout, dtype, peer):
    got = sepconv_gradients(name, dtype, layout)
    for key in NAMES:
        np.testing.assert_allclose(
            got[key], ARRAYS[f"{name}/{peer}/{key}"], **TOLERANCE[dtype], err_msg=key
        )
