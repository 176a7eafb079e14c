"""Live gradient and training parity with PyTorch and TensorFlow/Keras where installed.

Random configurations go through the golden scripts' own peer functions
(tests/data/make_gradient_golden.py, make_training_golden.py); each test
skips when its peer is absent.
"""

import os
import sys

import numpy as np
import pytest

import sepconv

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
import make_gradient_golden as peers  # noqa: E402
import make_training_golden as training  # noqa: E402
from test_training_golden import sepconv_train  # noqa: E402

N_CONFIGS = 12


def _random_config(rng, equal_strides):
    """A random separable convolution: (inputs, strides, dilation, padding, relu)."""
    padding = str(rng.choice(["valid", "same"]))
    kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
    strides = tuple(int(s) for s in rng.integers(1, 4, 2))
    if equal_strides and max(dilation) == 1:
        strides = (strides[0],) * 2
    hw = tuple(
        int(d * (k - 1) + 1 + rng.integers(0, 7)) for k, d in zip(kernel, dilation, strict=True)
    )
    c, dm, f = (int(v) for v in rng.integers(1, 6, 3))
    x = rng.standard_normal((int(rng.integers(1, 3)), *hw, c))
    dk, pk = rng.standard_normal((*kernel, c, dm)), rng.standard_normal((1, 1, c * dm, f))
    bias = rng.standard_normal(f)
    out_hw = sepconv.separable_conv2d(
        x, dk, pk, strides=strides, dilation_rate=dilation, padding=padding
    ).shape[1:3]
    dy = rng.standard_normal((x.shape[0], *out_hw, f))
    return (x, dk, pk, bias, dy), strides, dilation, padding, bool(rng.integers(0, 2))


def _check(gradients, seed, equal_strides):
    rng = np.random.default_rng(seed)
    for _ in range(N_CONFIGS):
        inputs, strides, dilation, padding, relu = _random_config(rng, equal_strides)
        expected = gradients(*inputs, strides, dilation, padding, relu)
        x, dk, pk, bias, dy = inputs
        got = sepconv.separable_conv2d_grad(
            dy,
            x,
            dk,
            pk,
            bias,
            strides=strides,
            dilation_rate=dilation,
            padding=padding,
            activation="relu" if relu else None,
        )
        for key, value in expected.items():
            np.testing.assert_allclose(got[key], value, rtol=1e-11, atol=1e-11, err_msg=key)


def test_against_torch_autograd():
    pytest.importorskip("torch")
    _check(peers.torch_gradients, 1, equal_strides=False)


def test_against_tensorflow_gradient_tape():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    if not keras.__version__.startswith("3."):
        pytest.skip("needs Keras 3")
    _check(peers.tf_gradients, 2, equal_strides=True)


@pytest.mark.parametrize("name", sorted(training.CASES))
def test_training_against_keras(name):
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    if not keras.__version__.startswith("3."):
        pytest.skip("needs Keras 3")
    x, target, weights = training.case_data(name)
    expected, expected_losses = training.keras_train(name, x, target, weights)
    shape, dtype, kwargs, optimizer, steps = training.CASES[name]
    layer = keras.layers.SeparableConv2D(dtype=dtype, **kwargs)
    layer.build(shape)
    final, losses = sepconv_train(layer.get_config(), optimizer, x, target, weights, steps)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(losses, expected_losses, **tolerance)
    for got, want in zip(final, expected, strict=True):
        np.testing.assert_allclose(got, want, **tolerance)
