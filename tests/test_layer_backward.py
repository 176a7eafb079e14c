"""SeparableConv2D's training call and backward pass, against finite differences of
``sum(layer(x) * dy) + sum(layer.losses)`` and the from-definition reference."""

import numpy as np
import pytest
import reference_grad

import sepconv
from sepconv import regularizers

LAYOUTS = ["channels_last", "channels_first"]


def _layer(activation=None, regularized=True, **kwargs):
    sepconv.set_random_seed(0)  # the same initial weights every run
    if regularized:
        kwargs = dict(
            depthwise_regularizer=regularizers.L2(0.1),
            pointwise_regularizer=regularizers.L1(0.05),
            bias_regularizer=regularizers.L1L2(0.01, 0.02),
            activity_regularizer=regularizers.L1L2(0.02, 0.03),
            **kwargs,
        )
    return sepconv.SeparableConv2D(
        4,
        3,
        strides=(2, 1),
        padding="same",
        depth_multiplier=2,
        activation=activation,
        bias_initializer="random_normal",
        dtype="float64",
        **kwargs,
    )


def _loss(layer, x, weights, dy):
    layer.set_weights(weights)
    return float(np.sum(layer(x) * dy) + sum(layer.losses))


def _worst_directional_error(layer, x, dy, gradients, seed=0):
    """Central differences of the loss along random directions, against the gradients."""
    rng = np.random.default_rng(seed)
    weights = layer.get_weights()
    h = 1e-6
    worst = 0.0
    for i, gradient in enumerate(gradients):
        v = rng.standard_normal(gradient.shape)
        if i == 0:
            numeric = (
                _loss(layer, x + h * v, weights, dy) - _loss(layer, x - h * v, weights, dy)
            ) / (2 * h)
        else:
            plus = [w + h * v if j == i - 1 else w for j, w in enumerate(weights)]
            minus = [w - h * v if j == i - 1 else w for j, w in enumerate(weights)]
            numeric = (_loss(layer, x, plus, dy) - _loss(layer, x, minus, dy)) / (2 * h)
        analytic = float(np.sum(gradient * v))
        worst = max(worst, abs(numeric - analytic) / max(1.0, abs(analytic)))
    layer.set_weights(weights)
    return worst


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", [None, "relu", "tanh", "softmax", "gelu"])
def test_backward_is_the_derivative_of_output_and_losses(layout, activation):
    rng = np.random.default_rng(1)
    layer = _layer(activation, data_format=layout)
    x = rng.standard_normal((3, 2, 9, 8) if layout == "channels_first" else (3, 9, 8, 2))
    y = layer(x, training=True)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    assert dx.shape == x.shape
    assert [g.shape for g in layer.gradients] == [w.shape for w in layer.trainable_weights]
    # central differences in float64 at h = 1e-6 carry rounding of about
    # eps * |loss| / h, 1e-9 to 1e-7 here
    assert _worst_directional_error(layer, x, dy, [dx, *layer.gradients]) < 1e-6


def test_gradients_without_regularizers_are_the_reference():
    rng = np.random.default_rng(2)
    layer = _layer(regularized=False)
    x = rng.standard_normal((2, 7, 6, 2))
    dy = rng.standard_normal(layer(x, training=True).shape)
    dx = layer.backward(dy)
    dk, pk, bias = layer.get_weights()
    expected = reference_grad.separable_grad(dy, x, dk, pk, bias, (2, 1), "same")
    np.testing.assert_allclose(dx, expected["x"], atol=1e-12)
    for got, name in zip(
        layer.gradients, ("depthwise_kernel", "pointwise_kernel", "bias"), strict=True
    ):
        np.testing.assert_allclose(got.reshape(expected[name].shape), expected[name], atol=1e-12)


def test_backward_uses_the_weights_of_the_training_call():
    rng = np.random.default_rng(3)
    layer = _layer(regularized=False)
    x = rng.standard_normal((2, 7, 6, 2))
    dy = rng.standard_normal(layer(x, training=True).shape)
    weights = layer.get_weights()
    for w in layer.weights:
        w += 1
    layer.backward(dy)
    changed = layer.gradients
    layer.set_weights(weights)
    layer(x, training=True)
    layer.backward(dy)
    for a, b in zip(changed, layer.gradients, strict=True):
        np.testing.assert_array_equal(a, b)


def test_not_trainable_gives_no_weight_gradients():
    layer = _layer(trainable=False)
    x = np.ones((1, 5, 5, 2))
    dx = layer.backward(np.ones(layer(x, training=True).shape))
    assert layer.gradients == []
    assert dx.shape == x.shape


def test_float32_layer_gives_float32_gradients():
    layer = sepconv.SeparableConv2D(3, 2, activation="relu")
    x = np.ones((2, 5, 5, 4), np.float64)  # cast to the layer dtype, as Keras autocasts
    dx = layer.backward(np.ones(layer(x, training=True).shape))
    assert dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.gradients)


def test_backward_without_a_training_call():
    layer = _layer()
    with pytest.raises(RuntimeError, match="backward.*training=True"):
        layer.backward(np.ones((1, 3, 5, 4)))
    layer(np.ones((1, 5, 5, 2)))  # an inference call keeps nothing
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((1, 3, 5, 4)))


def test_an_inference_call_drops_the_tape():
    layer = _layer()
    layer(np.ones((1, 5, 5, 2)), training=True)
    layer(np.ones((1, 5, 5, 2)))
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((1, 3, 5, 4)))


def test_dy_of_the_wrong_shape():
    layer = _layer()
    layer(np.ones((1, 5, 5, 2)), training=True)
    with pytest.raises(ValueError, match=r"`dy`.*\(1, 3, 5, 4\).*dy.shape=\(1, 5, 5, 4\)"):
        layer.backward(np.ones((1, 5, 5, 4)))


def test_dy_complex():
    layer = _layer()
    layer(np.ones((1, 5, 5, 2)), training=True)
    with pytest.raises(TypeError, match="`dy`.*complex128"):
        layer.backward(np.ones((1, 3, 5, 4), complex))


def test_regularizer_without_gradient():
    layer = _layer(regularized=False, depthwise_regularizer=lambda w: np.sum(w**4))
    layer(np.ones((1, 5, 5, 2)), training=True)
    with pytest.raises(ValueError, match="`depthwise_regularizer`.*no gradient"):
        layer.backward(np.ones((1, 3, 5, 4)))


def test_activation_without_derivative():
    layer = _layer(regularized=False, activation=lambda v: v**3)
    layer(np.ones((1, 5, 5, 2)), training=True)
    with pytest.raises(ValueError, match="`activation`.*no derivative"):
        layer.backward(np.ones((1, 3, 5, 4)))


def test_relu_derivative_at_zero_is_zero():
    layer = sepconv.SeparableConv2D(
        2, 1, activation="relu", use_bias=False, depthwise_initializer="zeros", dtype="float64"
    )
    x = np.ones((1, 3, 3, 2))
    layer(x, training=True)
    dx = layer.backward(np.ones((1, 3, 3, 2)))
    np.testing.assert_array_equal(dx, 0)
    for g in layer.gradients:
        np.testing.assert_array_equal(g, 0)


@pytest.mark.parametrize(
    "regularizer, expected",
    [
        (regularizers.L1(0.5), lambda w: np.float32(0.5) * np.sign(w)),
        (regularizers.L2(0.25), lambda w: np.float32(0.25) * 2 * w),
        (
            regularizers.L1L2(0.5, 0.25),
            lambda w: np.float32(0.5) * np.sign(w) + np.float32(0.25) * 2 * w,
        ),
    ],
)
def test_regularizer_gradients(regularizer, expected):
    w = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(regularizer.gradient(w), expected(w))


def test_orthogonal_regularizer_has_no_gradient():
    with pytest.raises(ValueError, match="no gradient"):
        regularizers.OrthogonalRegularizer().gradient(np.ones((2, 2)))
