"""Live parity with Keras 3 where it is installed (skipped otherwise).

Random layer configs go Keras layer -> get_config -> sepconv from_config ->
set_weights(Keras's weights) and must give Keras's output and losses; our
configs must load in Keras; initializers must draw with Keras's statistics.
"""

import json
import math
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
if not keras.__version__.startswith("3."):
    pytest.skip("needs Keras 3", allow_module_level=True)

from sepconv import activations, initializers  # noqa: E402
from sepconv.layers import SeparableConv2D  # noqa: E402

N_CONFIGS = 60
ACTIVATIONS = [
    None,
    "relu",
    "linear",
    "tanh",
    "sigmoid",
    "elu",
    "selu",
    "gelu",
    "swish",
    "softmax",
    "leaky_relu",
    "hard_sigmoid",
    "mish",
    "softplus",
    "relu6",
]
REGULARIZERS = [None, "l1", "l2", {"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.03}}]
TOLERANCE = {"float32": 5e-6, "float64": 1e-13}


def _random_config(rng):
    """Constructor keywords and an input shape, drawn so "valid" never gives an empty output."""
    kernel = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2)) if rng.random() < 0.5 else 1
    # TensorFlow's depthwise kernel refuses unequal strides; tests/test_layer.py has them.
    strides = int(rng.integers(1, 4)) if rng.random() < 0.6 else 1
    reach = [d * (k - 1) + 1 for k, d in zip(kernel, np.broadcast_to(dilation, 2), strict=True)]
    hw = [int(r + rng.integers(0, 7)) for r in reach]
    channels = int(rng.integers(1, 5))
    kwargs = dict(
        filters=int(rng.integers(1, 6)),
        kernel_size=kernel,
        strides=strides,
        padding=str(rng.choice(["valid", "same"])),
        dilation_rate=dilation,
        depth_multiplier=int(rng.integers(1, 4)),
        use_bias=bool(rng.random() < 0.7),
        activation=ACTIVATIONS[rng.integers(len(ACTIVATIONS))],
        bias_initializer="random_normal",
        depthwise_regularizer=REGULARIZERS[rng.integers(len(REGULARIZERS))],
        activity_regularizer=REGULARIZERS[rng.integers(len(REGULARIZERS))],
        dtype=str(rng.choice(["float32", "float64"])),
        data_format="channels_last",
    )
    return kwargs, (int(rng.integers(1, 4)), *hw, channels)


def _relative_error(actual, expected):
    scale = max(np.abs(expected).max(), np.finfo(expected.dtype).tiny)
    return float(np.abs(actual - expected).max() / scale)


def test_random_configs_match_keras():
    rng = np.random.default_rng(2024)
    worst = {"float32": 0.0, "float64": 0.0}
    for _ in range(N_CONFIGS):
        kwargs, shape = _random_config(rng)
        theirs = keras.layers.SeparableConv2D(**kwargs)
        x = rng.standard_normal(shape).astype(kwargs["dtype"])
        expected = np.asarray(theirs(x))
        ours = SeparableConv2D.from_config(theirs.get_config())
        ours.set_weights(theirs.get_weights())
        actual = ours(x)
        err = _relative_error(actual, expected)
        worst[kwargs["dtype"]] = max(worst[kwargs["dtype"]], err)
        assert actual.shape == expected.shape and actual.dtype == expected.dtype, kwargs
        assert err < TOLERANCE[kwargs["dtype"]], (kwargs["activation"], kwargs, err)
        np.testing.assert_allclose(
            [float(v) for v in ours.losses], [float(v) for v in theirs.losses], rtol=1e-5, atol=1e-9
        )
    print(
        f"\nKeras {keras.__version__}: {N_CONFIGS} random configs, worst relative error "
        f"float32 {worst['float32']:.3g}, float64 {worst['float64']:.3g}"
    )


OUR_CONFIGS = [
    dict(filters=2, kernel_size=3),
    dict(
        filters=3,
        kernel_size=(2, 3),
        strides=(2, 1),
        padding="same",
        dilation_rate=(1, 2),
        depth_multiplier=2,
        activation="hard_silu",
        use_bias=False,
        dtype="float64",
        trainable=False,
        name="ours",
        data_format="channels_first",
        depthwise_initializer=initializers.VarianceScaling(0.5, "fan_avg", "uniform", seed=1),
        pointwise_initializer="orthogonal",
        bias_initializer="ones",
        depthwise_regularizer="l1",
        pointwise_regularizer="orthogonal_regularizer",
        bias_regularizer="l1l2",
        activity_regularizer="l2",
        depthwise_constraint="max_norm",
        pointwise_constraint="min_max_norm",
        bias_constraint="non_neg",
    ),
    dict(
        filters=1,
        kernel_size=1,
        activation="log_softmax",
        bias_constraint="unit_norm",
        depthwise_initializer=initializers.TruncatedNormal(0.1, 0.2, seed=9),
        pointwise_initializer=initializers.Constant(0.3),
    ),
]


@pytest.mark.parametrize("kwargs", OUR_CONFIGS)
def test_our_config_loads_in_keras(kwargs):
    config = SeparableConv2D(**kwargs).get_config()
    theirs = keras.layers.SeparableConv2D.from_config(config)
    assert json.loads(json.dumps(theirs.get_config())) == json.loads(json.dumps(config))


INITIALIZERS = [
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "random_uniform",
    "random_normal",
    "truncated_normal",
    "orthogonal",
    "variance_scaling",
]


@pytest.mark.parametrize("name", INITIALIZERS)
def test_initializer_statistics_match_keras(name):
    shape = (3, 3, 48, 32)
    theirs = np.asarray(
        keras.initializers.get({"class_name": name, "config": {"seed": 1}})(shape, dtype="float64")
    )
    ours = initializers.get({"class_name": name, "config": {"seed": 1}})(shape, dtype="float64")
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    std = theirs.std()
    assert abs(ours.mean() - theirs.mean()) < 6 * std / math.sqrt(ours.size)
    assert ours.var() == pytest.approx(theirs.var(), rel=0.05)
    assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=0.1)


@pytest.mark.parametrize(
    "identifier",
    [
        "zeros",
        "ones",
        "identity",
        {"class_name": "Constant", "config": {"value": 0.3}},
        {"class_name": "Identity", "config": {"gain": 2.5}},
    ],
)
def test_deterministic_initializers_match_keras(identifier):
    shape = (4, 6)
    np.testing.assert_array_equal(
        initializers.get(identifier)(shape), np.asarray(keras.initializers.get(identifier)(shape))
    )


# threshold has no defaults for its arguments; it gets some here.
ACTIVATION_CALLS = [(name, {}) for name in sorted(activations._BUILTINS) if name != "threshold"]
ACTIVATION_CALLS += [
    ("threshold", {"threshold": 0.5, "default_value": -1.0}),
    ("relu", {"negative_slope": 0.1, "max_value": 2.0, "threshold": 0.3}),
    ("gelu", {"approximate": True}),
    ("elu", {"alpha": 0.5}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, kwargs", ACTIVATION_CALLS)
def test_activations_match_keras(name, kwargs, dtype):
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 6)).astype(dtype) * 3
    tol = {"float32": dict(rtol=3e-6, atol=1e-6), "float64": dict(rtol=1e-13, atol=1e-14)}
    ours = activations.get(name)(x, **kwargs)
    assert ours.dtype == x.dtype
    np.testing.assert_allclose(
        ours, np.asarray(keras.activations.get(name)(x, **kwargs)), **tol[dtype]
    )
