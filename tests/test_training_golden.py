"""Training parity: sepconv trains a SeparableConv2D as Keras 3 does (golden files).

tests/data/make_training_golden.py trained, per case, a Keras layer with
regularizers, an activity regularizer and MaxNorm constraints for a few steps
of SGD (Nesterov) or Adam (amsgrad) on a mean squared error; here sepconv
trains from the same weights with ``layer(x, training=True)``,
``layer.backward`` and ``optimizer.apply(layer.gradients, layer)`` and must
end with Keras's weights and losses.
"""

import json
import os

import numpy as np
import pytest

from sepconv import optimizers
from sepconv.layers import SeparableConv2D

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "training")
with open(os.path.join(HERE, "cases.json")) as _fh:
    GOLDEN = json.load(_fh)
ARRAYS = np.load(os.path.join(HERE, "arrays.npz"))

# after a dozen steps; float32: TensorFlow and sepconv sum in different orders
TOLERANCE = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-13, atol=1e-14)}


def sepconv_train(layer_config, optimizer_config, x, target, weights, steps):
    """Train as the golden script does, with sepconv only; return final weights and losses."""
    layer = SeparableConv2D.from_config(layer_config)
    layer.set_weights(weights)
    opt = optimizers.deserialize(optimizer_config)
    losses = []
    for _ in range(steps):
        y = layer(x, training=True)
        losses.append(float(np.mean(np.square(y - target)) + sum(layer.losses)))
        layer.backward(2 * (y - target) / y.dtype.type(y.size))  # d mean((y - t)**2) / dy
        opt.apply(layer.gradients, layer)
    return layer.get_weights(), losses


def _arrays(name, prefix):
    return [ARRAYS[f"{name}/{prefix}{i}"] for i in range(3)]


@pytest.mark.parametrize("name", sorted(GOLDEN["cases"]))
def test_training_ends_with_keras_weights(name):
    meta = GOLDEN["cases"][name]
    x, target = ARRAYS[f"{name}/x"], ARRAYS[f"{name}/target"]
    final, losses = sepconv_train(
        meta["layer"], meta["optimizer"], x, target, _arrays(name, "w"), meta["steps"]
    )
    tolerance = TOLERANCE[str(x.dtype)]
    np.testing.assert_allclose(losses, meta["losses"], **tolerance)
    for got, expected in zip(final, _arrays(name, "final"), strict=True):
        np.testing.assert_allclose(got, expected, **tolerance)
    # the weights moved: a test of training, not of the starting point
    assert not np.allclose(final[1], ARRAYS[f"{name}/w1"], **tolerance)
