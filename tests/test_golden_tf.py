"""The functional API against golden vectors computed by TensorFlow.

The vectors and the TensorFlow/Keras versions that made them are in
data/functional_golden.npz, written by data/make_functional_golden.py; no
TensorFlow is needed here.
"""

import json
import os

import numpy as np
import pytest
from compare import assert_close, from_layout, to_layout

import sepconv

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "functional_golden.npz")


def _load():
    with np.load(GOLDEN, allow_pickle=False) as data:
        cases = json.loads(str(data["cases"]))
        versions = json.loads(str(data["versions"]))
        arrays = {key: data[key] for key in data.files if "/" in key}
    return cases, versions, arrays


CASES, VERSIONS, ARRAYS = _load()


def test_golden_file_states_its_makers():
    assert VERSIONS["tensorflow"] and VERSIONS["keras"]
    engines = {c["engine"] for c in CASES}
    assert engines == {"tf.nn", "keras.ops"}
    assert {c["op"] for c in CASES} == {"separable", "depthwise"}
    assert {c["padding"] for c in CASES} == {"valid", "same"}
    assert {c["dtype"] for c in CASES} == {"float32", "float64"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_matches_tensorflow(case, layout):
    name = case["name"]
    x, dk, expected = (ARRAYS[f"{name}/{k}"] for k in ("x", "depthwise_kernel", "y"))
    bias = ARRAYS.get(f"{name}/bias")
    geometry = {
        "strides": tuple(case["strides"]),
        "padding": case["padding"],
        "dilation_rate": tuple(case["dilation_rate"]),
        "data_format": layout,
    }
    x_in = to_layout(x, layout)
    if case["op"] == "separable":
        pk = ARRAYS[f"{name}/pointwise_kernel"]
        y = sepconv.separable_conv2d(x_in, dk, pk, bias, **geometry)
        reduction = (dk.shape[0] * dk.shape[1] + 1) * pk.shape[2] + 1
    else:
        y = sepconv.depthwise_conv2d(x_in, dk, bias, **geometry)
        reduction = dk.shape[0] * dk.shape[1] + 1
    y = from_layout(y, layout)
    assert y.dtype == np.dtype(case["dtype"])
    # both TensorFlow and sepconv round: twice the tolerance of one
    assert_close(y, expected.astype(np.float64), y.dtype, 2 * reduction)
