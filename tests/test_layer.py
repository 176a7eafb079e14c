"""SeparableConv2D: forward pass against tests/reference.py, weights, losses, errors."""

import numpy as np
import pytest
import reference
from compare import nchw, nhwc

from sepconv import config
from sepconv.layers import SeparableConv2D, SeparableConvolution2D
from sepconv.random import set_random_seed

RNG = np.random.default_rng(7)

# (input shape NHWC, constructor keywords)
CONFIGS = [
    ((2, 7, 6, 3), dict(filters=4, kernel_size=3)),
    (
        (1, 8, 9, 2),
        dict(filters=3, kernel_size=(3, 2), strides=(2, 1), padding="same", depth_multiplier=2),
    ),
    ((2, 9, 9, 2), dict(filters=2, kernel_size=2, strides=2, dilation_rate=(2, 3), padding="SAME")),
    (
        (1, 10, 7, 3),
        dict(
            filters=5,
            kernel_size=(2, 3),
            strides=3,
            dilation_rate=2,
            padding="Valid",
            use_bias=False,
            depth_multiplier=3,
        ),
    ),
]


def _random_weights(layer, channels, dtype):
    shapes = [
        (*layer.kernel_size, channels, layer.depth_multiplier),
        (1, 1, channels * layer.depth_multiplier, layer.filters),
    ]
    shapes += [(layer.filters,)] if layer.use_bias else []
    return [RNG.uniform(-1, 1, s).astype(dtype) for s in shapes]


def _expected(layer, x, weights):
    bias = weights[2] if layer.use_bias else None
    return reference.separable(
        x, weights[0], weights[1], bias, layer.strides, layer.padding, layer.dilation_rate
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, kwargs", CONFIGS)
def test_matches_reference(shape, kwargs, dtype):
    layer = SeparableConv2D(**kwargs, dtype=dtype, data_format="channels_last")
    x = RNG.uniform(-1, 1, shape).astype(dtype)
    weights = _random_weights(layer, shape[-1], dtype)
    layer.set_weights(weights)
    y = layer(x)
    assert y.dtype == np.dtype(dtype)
    assert y.shape == layer.compute_output_shape(shape)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y, _expected(layer, x, weights), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape, kwargs", CONFIGS)
def test_channels_first_is_channels_last_transposed(shape, kwargs):
    last = SeparableConv2D(**kwargs, data_format="channels_last", activation="relu")
    first = SeparableConv2D(**kwargs, data_format="channels_first", activation="relu")
    x = RNG.uniform(-1, 1, shape).astype(np.float32)
    last(x)
    first.set_weights(last.get_weights())  # same weight shapes in both formats
    y_first = first(nchw(x))
    assert y_first.shape == first.compute_output_shape(nchw(x).shape)
    np.testing.assert_allclose(nhwc(y_first), last(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "linear", None, "tanh", np.abs])
def test_activation_applied_after_bias(activation):
    layer = SeparableConv2D(3, 2, activation=activation, bias_initializer="random_normal")
    x = RNG.uniform(-1, 1, (2, 5, 5, 2)).astype(np.float32)
    y = layer(x)
    pre = _expected(layer, x, layer.get_weights())
    fn = {
        "relu": lambda v: np.maximum(v, 0),
        "linear": lambda v: v,
        None: lambda v: v,
        "tanh": np.tanh,
    }.get(activation, activation)
    np.testing.assert_allclose(y, fn(pre), rtol=1e-5, atol=1e-6)


def test_softmax_runs_over_the_last_axis_as_in_keras():
    layer = SeparableConv2D(3, 2, activation="softmax", data_format="channels_first")
    y = layer(RNG.uniform(-1, 1, (1, 2, 5, 4)))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-6)


def test_inputs_are_cast_to_the_layer_dtype():
    layer = SeparableConv2D(2, 2)
    assert layer(np.ones((1, 3, 3, 2), dtype=np.int64)).dtype == np.float32
    assert layer(np.ones((1, 3, 3, 2), dtype=np.float64)).dtype == np.float32
    assert layer([[[[1, 2]] * 3] * 3]).shape == (1, 2, 2, 2)
    assert (
        SeparableConv2D(2, 2, dtype="float64")(np.ones((1, 3, 3, 2), np.float32)).dtype
        == np.float64
    )


def test_n_threads_gives_the_same_numbers():
    x = RNG.uniform(-1, 1, (2, 9, 9, 4)).astype(np.float32)
    one = SeparableConv2D(3, 3, n_threads=1)
    two = SeparableConv2D(3, 3, n_threads=2)
    y = one(x)
    two.set_weights(one.get_weights())
    np.testing.assert_allclose(two(x), y, rtol=1e-6)
    assert "n_threads" not in one.get_config()


# --------------------------------------------------------------------------
# Building, shapes and weights


def test_build_creates_weights_of_the_spec_shapes():
    layer = SeparableConv2D(5, (3, 2), depth_multiplier=2)
    assert not layer.built and layer.weights == [] and layer.get_weights() == []
    layer.build((None, 8, 8, 3))
    assert layer.built
    assert layer.depthwise_kernel.shape == (3, 2, 3, 2)
    assert layer.pointwise_kernel.shape == (1, 1, 6, 5)
    assert layer.bias.shape == (5,)
    assert [w.dtype for w in layer.weights] == [np.float32] * 3
    assert layer.count_params() == 3 * 2 * 3 * 2 + 6 * 5 + 5
    assert layer.weights[0] is layer.depthwise_kernel


def test_use_bias_false_and_float64_weights():
    layer = SeparableConv2D(4, 3, use_bias=False, dtype="float64", data_format="channels_first")
    layer.build((2, 3, 9, 9))
    assert layer.bias is None and len(layer.weights) == 2
    assert layer.count_params() == 9 * 3 + 3 * 4
    assert {w.dtype for w in layer.weights} == {np.dtype(np.float64)}


@pytest.mark.parametrize(
    "fmt, shape, expected",
    [
        ("channels_last", (None, 10, 9, 3), (None, 4, 4, 6)),
        ("channels_last", (None, None, 9, 3), (None, None, 4, 6)),
        ("channels_first", (4, 3, 10, None), (4, 6, 4, None)),
    ],
)
def test_compute_output_shape(fmt, shape, expected):
    layer = SeparableConv2D(6, 3, strides=2, data_format=fmt)
    assert layer.compute_output_shape(shape) == expected


def test_same_padding_output_is_ceil_of_input_over_stride():
    layer = SeparableConv2D(2, 4, strides=(3, 2), padding="same", dilation_rate=1)
    assert layer.compute_output_shape((1, 10, 7, 1)) == (1, 4, 4, 2)


def test_trainable_switches_weight_lists():
    layer = SeparableConv2D(2, 2, trainable=False)
    layer.build((1, 4, 4, 2))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 3
    layer.trainable = True
    assert len(layer.trainable_weights) == 3 and layer.non_trainable_weights == []


def test_get_and_set_weights_copy():
    layer = SeparableConv2D(2, 2)
    layer.build((1, 4, 4, 2))
    got = layer.get_weights()
    got[0][...] = 5.0
    assert not np.any(layer.depthwise_kernel == 5.0)
    new = [np.full(w.shape, 0.5) for w in got]
    layer.set_weights(new)
    new[0][...] = 9.0
    assert np.all(layer.depthwise_kernel == 0.5)
    assert layer.depthwise_kernel.dtype == np.float32


def test_set_weights_builds_an_unbuilt_layer_from_the_depthwise_kernel():
    layer = SeparableConv2D(4, 2, depth_multiplier=2)
    layer.set_weights([np.ones((2, 2, 3, 2)), np.ones((1, 1, 6, 4)), np.zeros(4)])
    assert layer.built and layer.compute_output_shape((1, 5, 5, 3)) == (1, 4, 4, 4)


def test_unnamed_layers_are_numbered_like_keras(run_python):
    code = (
        "from sepconv.layers import SeparableConv2D as S\n"
        "print([S(1, 1).name, S(1, 1, name='mine').name, S(1, 1).name, S(1, 1).name])"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "['separable_conv2d', 'mine', 'separable_conv2d_1', 'separable_conv2d_2']"
    )


def test_alias_is_the_same_class():
    assert SeparableConvolution2D is SeparableConv2D


def test_data_format_none_reads_the_global_setting():
    before = config.image_data_format()
    try:
        config.set_image_data_format("channels_first")
        assert SeparableConv2D(2, 2).data_format == "channels_first"
        config.set_image_data_format("channels_last")
        assert SeparableConv2D(2, 2).data_format == "channels_last"
    finally:
        config.set_image_data_format(before)


def test_set_random_seed_makes_creation_reproducible():
    def weights(seed):
        set_random_seed(seed)
        layer = SeparableConv2D(3, 3, bias_initializer="random_normal")
        layer.build((1, 5, 5, 2))
        return layer.get_weights()

    first, again, other = weights(11), weights(11), weights(12)
    for a, b, c in zip(first, again, other, strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


# --------------------------------------------------------------------------
# Losses and constraints


def test_losses_order_and_scaling():
    layer = SeparableConv2D(
        3,
        2,
        activity_regularizer="l2",
        depthwise_regularizer="l1",
        pointwise_regularizer="l2",
        bias_regularizer="l1",
        bias_initializer="ones",
        dtype="float64",
    )
    x = RNG.uniform(-1, 1, (4, 5, 5, 2))
    assert layer.losses == []
    y = layer(x)
    dk, pk, bias = layer.get_weights()
    l1 = float(np.float32(0.01))  # Keras stores the L1 factor as float32
    expected = [
        0.01 * np.sum(y**2) / 4,
        l1 * np.abs(dk).sum(),
        0.01 * np.sum(pk**2),
        l1 * np.abs(bias).sum(),
    ]
    np.testing.assert_allclose(layer.losses, expected, rtol=1e-7)


def test_weight_losses_follow_the_current_weights():
    layer = SeparableConv2D(2, 2, pointwise_regularizer="l1", use_bias=False)
    layer.build((1, 3, 3, 2))
    layer.set_weights([np.ones((2, 2, 2, 1)), np.full((1, 1, 2, 2), -2.0)])
    np.testing.assert_allclose(layer.losses, [np.float32(0.01) * 8.0], rtol=1e-6)


def test_activity_loss_is_zero_for_an_empty_batch():
    layer = SeparableConv2D(2, 2, activity_regularizer="l1")
    layer(np.zeros((0, 4, 4, 2)))
    assert layer.losses == [0.0]


def test_constraints_are_applied_only_on_request():
    layer = SeparableConv2D(2, 2, depthwise_constraint="non_neg", bias_constraint="max_norm")
    layer.set_weights([-np.ones((2, 2, 1, 1)), np.ones((1, 1, 1, 2)), np.array([3.0, 4.0])])
    layer(np.ones((1, 3, 3, 1)))
    assert np.all(layer.depthwise_kernel == -1)
    kernel = layer.depthwise_kernel
    layer.apply_constraints()
    assert layer.depthwise_kernel is kernel and np.all(kernel == 0)
    np.testing.assert_allclose(layer.bias, [1.2, 1.6], rtol=1e-6)  # norm 5 clipped to 2
    np.testing.assert_array_equal(layer.pointwise_kernel, 1)


# --------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(filters=0), r"`filters` must be a positive integer; received filters=0"),
        (dict(filters=2.5), r"filters=2.5"),
        (dict(depth_multiplier=-1), r"depth_multiplier=-1"),
        (dict(kernel_size=(3, 0)), r"kernel_size=\(3, 0\)"),
        (dict(kernel_size=(3, 3, 3)), r"kernel_size=\(3, 3, 3\)"),
        (dict(strides="2"), r"strides='2'"),
        (dict(dilation_rate=0), r"dilation_rate=0"),
        (dict(padding="causal"), r"padding='causal'"),
        (dict(data_format="NHWC"), r"data_format='NHWC'"),
        (dict(activation="relux"), r"`activation`.*'relux'"),
        (dict(depthwise_initializer="glorot"), r"`depthwise_initializer`.*'glorot'"),
        (dict(bias_regularizer="l3"), r"`bias_regularizer`.*'l3'"),
        (dict(pointwise_constraint="max"), r"`pointwise_constraint`.*'max'"),
        (dict(activity_regularizer=3), r"`activity_regularizer`.*3"),
        (
            dict(dtype="float16"),
            r"`dtype` must be 'float32' or 'float64'; received dtype='float16'",
        ),
        (dict(name="a/b"), r"received name='a/b'"),
        (dict(n_threads=0), r"n_threads=0"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    args = {"filters": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        SeparableConv2D(**args)


def test_unknown_keyword_raises_type_error():
    with pytest.raises(TypeError, match="kernel_initializer"):
        SeparableConv2D(2, 3, kernel_initializer="zeros")


@pytest.mark.parametrize("shape", [(5, 5, 3), (1, 2, 5, 5, 3)])
def test_input_of_wrong_rank(shape):
    with pytest.raises(
        ValueError,
        match=r"4-D \(batch, height, width, channels\); received "
        rf"an array of shape {re_shape(shape)}",
    ):
        SeparableConv2D(2, 3)(np.zeros(shape))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_channel_count_differs_from_the_built_layer():
    layer = SeparableConv2D(2, 3)
    layer(np.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"built for inputs with 3 channels; received 4"):
        layer(np.zeros((1, 5, 5, 4)))
    with pytest.raises(ValueError, match=r"built for inputs with 3 channels; received 2"):
        layer.compute_output_shape((None, 5, 5, 2))


def test_empty_valid_output():
    with pytest.raises(ValueError, match=r"output would be empty.*\(2, 6\).*kernel \(3, 3\)"):
        SeparableConv2D(2, 3)(np.zeros((1, 2, 6, 1)))


def test_complex_input_raises_type_error():
    with pytest.raises(TypeError, match=r"`inputs` must hold real numbers.*complex"):
        SeparableConv2D(2, 1)(np.zeros((1, 2, 2, 1), dtype=complex))


@pytest.mark.parametrize(
    "shape, match",
    [
        ((None, 5, 5), r"4 entries.*input_shape=\(None, 5, 5\)"),
        ((None, 5, 5, None), r"channel axis.*input_shape=\(None, 5, 5, None\)"),
        (7, r"4 entries.*input_shape=7"),
    ],
)
def test_bad_build_shape(shape, match):
    with pytest.raises(ValueError, match=match):
        SeparableConv2D(2, 3).build(shape)


def test_set_weights_wrong_count_or_shape_leaves_weights_alone():
    layer = SeparableConv2D(2, 3)
    layer.build((1, 5, 5, 3))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"expects 3 weights .*\(3, 3, 3, 1\).*received 2"):
        layer.set_weights(before[:2])
    with pytest.raises(
        ValueError,
        match=r"received 3 of shapes \[\(3, 3, 3, 1\), "
        r"\(1, 1, 3, 2\), \(3,\)\]",
    ):
        layer.set_weights([np.ones((3, 3, 3, 1)), np.ones((1, 1, 3, 2)), np.ones(3)])
    for old, now in zip(before, layer.get_weights(), strict=True):
        np.testing.assert_array_equal(old, now)


def test_set_weights_on_an_unbuilt_layer_needs_a_depthwise_kernel():
    layer = SeparableConv2D(2, 3)
    with pytest.raises(ValueError, match=r"not built.*received 1 weights of shapes \[\(3,\)\]"):
        layer.set_weights([np.ones(3)])
    assert not layer.built


def test_count_params_before_build():
    with pytest.raises(ValueError, match=r"is not built yet"):
        SeparableConv2D(2, 3, name="lonely").count_params()


def test_initializer_returning_the_wrong_shape():
    layer = SeparableConv2D(2, 3, depthwise_initializer=lambda shape, dtype=None: np.ones(3))
    with pytest.raises(ValueError, match=r"`depthwise_kernel` returned shape \(3,\); expected"):
        layer.build((1, 5, 5, 1))
    assert not layer.built
