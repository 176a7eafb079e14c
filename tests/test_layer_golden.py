"""SeparableConv2D against golden files made by Keras 3 (no Keras needed here).

tests/data/make_keras_layer_golden.py wrote, per case, Keras's config,
weights, input, output, losses and constrained weights; cases.json states
the versions.  Each case loads Keras's config into sepconv, takes Keras's
weights, and must give Keras's numbers and Keras's config back.
"""

import json
import os

import numpy as np
import pytest

from sepconv import activations
from sepconv.layers import SeparableConv2D

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras_layer")
with open(os.path.join(HERE, "cases.json")) as _fh:
    GOLDEN = json.load(_fh)
ARRAYS = np.load(os.path.join(HERE, "arrays.npz"))
CASES = sorted(GOLDEN["cases"])

# float32 layers: Keras (TF) and sepconv sum in different orders.
TOLERANCE = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-12, atol=1e-13)}


def _case(name):
    meta = GOLDEN["cases"][name]
    arrays = {k.split("/", 1)[1]: ARRAYS[k] for k in ARRAYS.files if k.startswith(name + "/")}
    return meta, arrays


def _loaded(name):
    meta, arrays = _case(name)
    layer = SeparableConv2D.from_config(meta["config"])
    layer.set_weights([arrays[f"w{i}"] for i in range(3) if f"w{i}" in arrays])
    return layer, meta, arrays


def test_versions_are_stated():
    assert GOLDEN["versions"]["keras"].startswith("3.")
    assert len(CASES) >= 10


@pytest.mark.parametrize("name", CASES)
def test_output_matches_keras(name):
    layer, meta, arrays = _loaded(name)
    y = layer(arrays["x"])
    assert y.dtype == arrays["y"].dtype == np.dtype(layer.dtype)
    np.testing.assert_allclose(y, arrays["y"], **TOLERANCE[layer.dtype])


@pytest.mark.parametrize("name", CASES)
def test_config_matches_keras(name):
    layer, meta, _ = _loaded(name)
    # JSON turns our tuples into Keras's lists; otherwise the dicts are equal.
    assert json.loads(json.dumps(layer.get_config())) == meta["config"]


@pytest.mark.parametrize("name", [n for n in CASES if GOLDEN["cases"][n]["losses"]])
def test_losses_match_keras(name):
    layer, meta, arrays = _loaded(name)
    layer(arrays["x"])
    np.testing.assert_allclose(
        np.array(layer.losses, dtype=np.float64),
        meta["losses"],
        rtol=2e-6 if layer.dtype == "float32" else 1e-12,
    )
    assert all(np.asarray(loss).dtype == np.dtype(layer.dtype) for loss in layer.losses)


@pytest.mark.parametrize("name", [n for n in CASES if any(k.startswith("c") for k in _case(n)[1])])
def test_constraints_match_keras(name):
    layer, _, arrays = _loaded(name)
    layer.apply_constraints()
    weights = layer.get_weights()
    for i in range(3):
        if f"c{i}" in arrays:
            np.testing.assert_allclose(weights[i], arrays[f"c{i}"], **TOLERANCE[layer.dtype])
        else:
            np.testing.assert_array_equal(weights[i], arrays[f"w{i}"])


@pytest.mark.parametrize("activation", GOLDEN["misc_activations"])
def test_activation_matches_keras(activation):
    _, arrays = _case("misc_activations")
    y = activations.get(activation)(arrays["y"])
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, arrays[f"act_{activation}"], rtol=3e-6, atol=3e-7)
