"""sepconv.activations.gradient against central differences of the activations themselves."""

import numpy as np
import pytest

from sepconv import activations

DIFFERENTIABLE = [
    "celu",
    "elu",
    "exponential",
    "gelu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
    "tanh",
    "tanh_shrink",
]


def _points(rng):
    """float64 points on both sides of every kink (0, +-0.5, +-1, +-3, 6), none near one."""
    x = rng.uniform(-8, 8, (3, 4, 5, 6))
    kinks = np.array([0, 0.5, -0.5, 1, -1, 3, -3, 6])
    near = np.abs(x[..., None] - kinks).min(axis=-1) < 1e-3
    return np.where(near, x + 0.01, x)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradient_is_the_derivative(name):
    fn = activations.get(name)
    rng = np.random.default_rng(0)
    x = _points(rng)
    dy = rng.uniform(-1, 1, x.shape)
    got = activations.gradient(fn, x, dy)
    h = 1e-6
    # the derivative element by element: a central difference of sum(f * dy)
    # along each basis direction is (f(x + h e) - f(x - h e)) . dy / 2h; for
    # the axis-wise ones the direction matters, so check random directions too
    for _ in range(3):
        v = rng.standard_normal(x.shape)
        numeric = np.sum((fn(x + h * v) - fn(x - h * v)) * dy) / (2 * h)
        np.testing.assert_allclose(np.sum(got * v), numeric, rtol=1e-6, atol=1e-6)
    if name not in ("softmax", "log_softmax"):
        numeric = (fn(x + h) - fn(x - h)) / (2 * h) * dy
        np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["relu", "relu6", "hard_tanh", "leaky_relu"])
def test_kinks_take_tensorflows_side(name):
    # TensorFlow: ReluGrad and Relu6Grad pass where features > 0 (and < 6),
    # LeakyReluGrad where features > 0, clip_by_value on the closed interval
    x = np.array([0.0, 6.0, 1.0, -1.0])
    got = activations.gradient(activations.get(name), x, np.ones(4))
    expected = {
        "relu": [0, 1, 1, 0],
        "relu6": [0, 0, 1, 0],
        "hard_tanh": [1, 0, 1, 1],
        "leaky_relu": [np.float32(0.2), 1, 1, np.float32(0.2)],
    }[name]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept(dtype):
    x = np.linspace(-2, 2, 7).astype(dtype)
    for name in DIFFERENTIABLE:
        assert activations.gradient(activations.get(name), x, np.ones_like(x)).dtype == dtype


def test_unknown_activation():
    with pytest.raises(ValueError, match="no derivative.*sparsemax"):
        activations.gradient(activations.sparsemax, np.zeros(3), np.zeros(3))
