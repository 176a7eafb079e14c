"""The Keras vocabulary modules: activations, initializers, regularizers, constraints.

Oracles: scalar formulas written with Python's math module, distribution
theory for the initializers, and hand-computed penalties.  Keras's own
numbers are in tests/test_layer_golden.py and tests/test_layer_keras_live.py.
"""

import math

import numpy as np
import pytest

from sepconv import activations, constraints, initializers, regularizers
from sepconv.random import set_random_seed

POINTS = [-7.5, -2.0, -1.0, -0.7, -0.25, 0.0, 0.3, 0.5, 1.0, 1.7, 6.5]


def _sigmoid(v):
    return 1 / (1 + math.exp(-v))


SCALAR = {
    "linear": lambda v: v,
    "relu": lambda v: max(v, 0.0),
    "relu6": lambda v: min(max(v, 0.0), 6.0),
    "leaky_relu": lambda v: v if v > 0 else float(np.float32(0.2)) * v,  # TF rounds the slope
    "elu": lambda v: v if v >= 0 else math.exp(v) - 1,
    "celu": lambda v: v if v >= 0 else math.exp(v) - 1,
    "selu": lambda v: (
        1.0507009873554805 * (v if v >= 0 else 1.6732632423543772 * (math.exp(v) - 1))
    ),
    # TensorFlow holds 1/sqrt(2) in float32, and Keras's gelu uses it.
    "gelu": lambda v: 0.5 * v * (1 + math.erf(v * float(np.float32(math.sqrt(0.5))))),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda v: min(max(v / 6 + 0.5, 0.0), 1.0),
    "sparse_sigmoid": lambda v: min(max((v + 1) / 2, 0.0), 1.0),
    "log_sigmoid": lambda v: math.log(_sigmoid(v)),
    "silu": lambda v: v * _sigmoid(v),
    "swish": lambda v: v * _sigmoid(v),
    "hard_silu": lambda v: v * min(max(v / 6 + 0.5, 0.0), 1.0),
    "hard_swish": lambda v: v * min(max(v / 6 + 0.5, 0.0), 1.0),
    "mish": lambda v: v * math.tanh(math.log1p(math.exp(v))),
    "softplus": lambda v: math.log1p(math.exp(v)),
    "softsign": lambda v: v / (1 + abs(v)),
    "squareplus": lambda v: (v + math.sqrt(v * v + 4)) / 2,
    "sparse_plus": lambda v: 0.0 if v <= -1 else (v if v >= 1 else (v + 1) ** 2 / 4),
    "tanh": math.tanh,
    "tanh_shrink": lambda v: v - math.tanh(v),
    "hard_tanh": lambda v: min(max(v, -1.0), 1.0),
    "soft_shrink": lambda v: v - 0.5 if v > 0.5 else (v + 0.5 if v < -0.5 else 0.0),
    "hard_shrink": lambda v: v if abs(v) > 0.5 else 0.0,
    "exponential": math.exp,
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(SCALAR))
def test_elementwise_activation_matches_its_formula(name, dtype):
    x = np.array(POINTS, dtype=dtype)
    y = activations.get(name)(x)
    assert y.dtype == np.dtype(dtype)
    expected = [SCALAR[name](float(v)) for v in x]
    tol = 2e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(negative_slope=0.1), [-0.2, -0.05, 0.0, 1.0, 4.0]),
        (dict(max_value=3.0), [0.0, 0.0, 0.0, 1.0, 3.0]),
        (dict(threshold=1.5), [0.0, 0.0, 0.0, 0.0, 4.0]),
        (dict(negative_slope=0.5, max_value=2.0, threshold=1.0), [-1.5, -0.75, -0.5, 0.0, 2.0]),
    ],
)
def test_relu_options(kwargs, expected):
    x = np.array([-2.0, -0.5, 0.0, 1.0, 4.0])
    np.testing.assert_allclose(activations.relu(x, **kwargs), expected)


def test_axis_activations():
    x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 0.0, 0.0]])
    e = np.exp([1.0, 2.0, 0.5, -1.0])
    np.testing.assert_allclose(activations.softmax(x)[0], e / e.sum())
    np.testing.assert_allclose(activations.log_softmax(x)[0], np.log(e / e.sum()))
    np.testing.assert_allclose(
        activations.softmax(x, axis=0)[:, 0], [math.e / (math.e + 1), 1 / (math.e + 1)]
    )
    # sparsemax of (1, 2, 0.5, -1): tau = 1 (only 2 is in the support), so (0, 1, 0, 0)
    np.testing.assert_allclose(activations.sparsemax(x)[0], [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(activations.sparsemax(x)[1], [0.25] * 4)
    np.testing.assert_allclose(activations.glu(x)[0], [1 * _sigmoid(0.5), 2 * _sigmoid(-1.0)])
    np.testing.assert_allclose(activations.threshold(x, 0.7, -9.0)[0], [1.0, 2.0, -9.0, -9.0])


def test_activation_get_serialize_deserialize():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get(np.tanh) is np.tanh
    assert activations.serialize(activations.get("hard_swish")) == "hard_silu"
    assert activations.serialize(activations.relu) == "relu"
    assert activations.deserialize("gelu") is activations.gelu
    assert activations.relu(np.array([-1, 2])).dtype == np.float32


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: activations.get("Relu"), r"Could not interpret activation identifier: 'Relu'"),
        (lambda: activations.get(3), r"Could not interpret activation identifier: 3"),
        (lambda: activations.deserialize({"class_name": "function", "config": "zz"}), r"'zz'"),
        (lambda: activations.serialize(lambda x: x), r"Cannot serialize activation"),
        (lambda: activations.glu(np.ones((2, 3))), r"glu needs an even size along axis -1"),
    ],
)
def test_activation_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------
# Initializers


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((4, 9), (4, 9)),
        ((3, 2, 5, 4), (3 * 2 * 5, 3 * 2 * 4)),  # depthwise kernel: kh*kw*C, kh*kw*dm
        ((1, 1, 12, 8), (12, 8)),
    ],
)
def test_compute_fans_the_keras_way(shape, fans):
    assert initializers.compute_fans(shape) == fans


# (name, shape, mean, variance, bound) with theory's numbers
DRAW_SHAPE = (3, 3, 40, 30)
FAN_IN, FAN_OUT = 9 * 40, 9 * 30
STATS = [
    ("glorot_uniform", 0, 2 / (FAN_IN + FAN_OUT), math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("glorot_normal", 0, 2 / (FAN_IN + FAN_OUT), 2 * math.sqrt(2 / (FAN_IN + FAN_OUT)) / 0.8796),
    ("he_uniform", 0, 2 / FAN_IN, math.sqrt(6 / FAN_IN)),
    ("he_normal", 0, 2 / FAN_IN, 2 * math.sqrt(2 / FAN_IN) / 0.8796),
    ("lecun_uniform", 0, 1 / FAN_IN, math.sqrt(3 / FAN_IN)),
    ("lecun_normal", 0, 1 / FAN_IN, 2 * math.sqrt(1 / FAN_IN) / 0.8796),
    ("random_uniform", 0, 0.1**2 / 12, 0.05),
    ("random_normal", 0, 0.05**2, None),
    ("truncated_normal", 0, 0.05**2 * 0.8796**2, 0.1),
]


@pytest.mark.parametrize("name, mean, variance, bound", STATS)
def test_initializer_statistics_follow_theory(name, mean, variance, bound):
    values = initializers.get(name)(DRAW_SHAPE)
    assert values.dtype == np.float32 and values.shape == DRAW_SHAPE
    std = math.sqrt(variance)
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(values.size)
    assert values.var() == pytest.approx(variance, rel=0.04)
    if bound is not None:
        assert np.abs(values).max() <= bound * (1 + 1e-6)
        assert np.abs(values).max() > 0.95 * bound


def test_variance_scaling_options_and_dtype():
    init = initializers.VarianceScaling(
        scale=3.0, mode="fan_out", distribution="untruncated_normal", seed=1
    )
    values = init((2000, 50), dtype="float64")
    assert values.dtype == np.float64
    assert values.var() == pytest.approx(3.0 / 50, rel=0.03)
    axes = initializers.VarianceScaling(
        mode="fan_in", distribution="uniform", input_axes=[0], output_axes=[1, 2]
    )
    assert np.abs(axes((6, 5, 4))).max() <= math.sqrt(3 / 6)


def test_seeds():
    a = initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(a((4, 5)), a((4, 5)))
    np.testing.assert_array_equal(a((4, 5)), initializers.GlorotUniform(seed=3)((4, 5)))
    assert not np.array_equal(
        initializers.GlorotUniform()((4, 5)), initializers.GlorotUniform()((4, 5))
    )
    set_random_seed(5)
    first = initializers.RandomNormal()((3,))
    set_random_seed(5)
    np.testing.assert_array_equal(first, initializers.RandomNormal()((3,)))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (2, 3, 5)])
def test_orthogonal(shape):
    q = initializers.Orthogonal(gain=2.0, seed=0)(shape, dtype="float64").reshape(-1, shape[-1])
    small = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(small, 4 * np.eye(small.shape[0]), atol=1e-12)


def test_constant_initializers():
    np.testing.assert_array_equal(initializers.get("zeros")((2, 2)), 0)
    np.testing.assert_array_equal(initializers.get("one")((2,)), 1)
    np.testing.assert_array_equal(initializers.Constant(0.25)((3,)), 0.25)
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)((2, 3)), 3 * np.eye(2, 3))


def test_initializer_serialization():
    init = initializers.RandomUniform(-1, 2, seed=4)
    config = initializers.serialize(init)
    assert config == {
        "module": "keras.initializers",
        "class_name": "RandomUniform",
        "config": {"seed": 4, "minval": -1, "maxval": 2},
        "registered_name": None,
    }
    assert initializers.deserialize(config) == init
    assert initializers.get(
        {"class_name": "HeNormal", "config": {"seed": 2}}
    ) == initializers.HeNormal(seed=2)
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get(initializers.Zeros), initializers.Zeros)
    assert initializers.get(None) is None


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: initializers.get("glorot"), r"initializer identifier: 'glorot'"),
        (lambda: initializers.get(1.5), r"initializer identifier: 1.5"),
        (
            lambda: initializers.VarianceScaling(scale=0),
            r"`scale` must be a positive float; received scale=0",
        ),
        (lambda: initializers.VarianceScaling(mode="avg"), r"received mode='avg'"),
        (lambda: initializers.VarianceScaling(distribution="cauchy"), r"distribution='cauchy'"),
        (
            lambda: initializers.RandomNormal(seed="x"),
            r"`seed` must be an integer; received seed='x'",
        ),
        (lambda: initializers.Identity()((2, 2, 2)), r"2-D shapes; received shape=\(2, 2, 2\)"),
        (lambda: initializers.Orthogonal()((4,)), r"rank 2 or more; received shape=\(4,\)"),
        (lambda: initializers.Zeros()((2,), dtype="int32"), r"`dtype`.*received dtype='int32'"),
        (lambda: initializers.deserialize({"class_name": "Zeros", "config": []}), r"'class_name'"),
    ],
)
def test_initializer_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_set_random_seed_rejects_non_integers():
    with pytest.raises(ValueError, match=r"`seed` must be an integer; received seed=1.5"):
        set_random_seed(1.5)


# --------------------------------------------------------------------------
# Regularizers

W = np.array([[1.0, -2.0], [0.5, 0.0]])


def test_regularizer_penalties():
    f32 = float(np.float32(0.01))
    assert regularizers.L1()(W) == pytest.approx(f32 * 3.5, rel=1e-12)
    assert regularizers.get("l2")(W) == pytest.approx(0.01 * 5.25, rel=1e-7)
    assert regularizers.get("l1_l2")(W) == 0.0
    assert regularizers.L1L2(l1=0.5, l2=0.25)(W) == pytest.approx(0.5 * 3.5 + 0.25 * 5.25)
    assert regularizers.L2()(W.astype(np.float32)).dtype == np.float32


def test_orthogonal_regularizer():
    # rows (1, 1)/sqrt2 and (1, 0): cosine 1/sqrt2; one pair; 0.5 * 2 * cos / 1
    w = np.array([[1.0, 1.0], [3.0, 0.0]])
    assert regularizers.OrthogonalRegularizer(1.0)(w) == pytest.approx(1 / math.sqrt(2))
    assert regularizers.OrthogonalRegularizer(1.0)(np.eye(3)) == 0.0
    # columns of w: (1, 3) and (1, 0): cosine 1/sqrt10
    cols = regularizers.OrthogonalRegularizer(1.0, mode="columns")(w)
    assert cols == pytest.approx(1 / math.sqrt(10))


def test_regularizer_serialization():
    reg = regularizers.L1L2(0.1, 0.2)
    assert regularizers.serialize(reg) == {
        "module": "keras.regularizers",
        "class_name": "L1L2",
        "config": {"l1": 0.1, "l2": 0.2},
        "registered_name": None,
    }
    assert regularizers.deserialize({"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}) == reg
    assert regularizers.get("orthogonal_regularizer") == regularizers.OrthogonalRegularizer()
    assert regularizers.get("l1l2") == regularizers.l1_l2()
    assert regularizers.serialize(None) is None


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: regularizers.get("l3"), r"regularizer identifier: 'l3'"),
        (
            lambda: regularizers.L1(-0.1),
            r"`l1` must be a non-negative finite float; received l1=-0.1",
        ),
        (lambda: regularizers.L2(float("nan")), r"received l2=nan"),
        (lambda: regularizers.OrthogonalRegularizer(mode="diag"), r"received mode='diag'"),
        (lambda: regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2))), r"rank-2.*\(2, 2, 2\)"),
        (lambda: regularizers.serialize(lambda w: 0.0), r"Cannot serialize regularizer"),
    ],
)
def test_regularizer_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------
# Constraints


def test_constraints():
    w = np.array([[3.0, 0.1], [4.0, -0.1]])  # column norms 5 and sqrt(0.02)
    n2 = math.sqrt(0.02)
    np.testing.assert_allclose(constraints.MaxNorm(2.0)(w)[:, 0], [1.2, 1.6], rtol=1e-6)
    np.testing.assert_allclose(constraints.MaxNorm(2.0)(w)[:, 1], w[:, 1], rtol=1e-5)
    np.testing.assert_allclose(constraints.get("unit_norm")(w), w / np.array([5.0, n2]), rtol=1e-5)
    mm = constraints.MinMaxNorm(min_value=1.0, max_value=2.0, rate=0.5)(w)
    np.testing.assert_allclose(mm[:, 0], w[:, 0] * (0.5 * 2 + 0.5 * 5) / 5, rtol=1e-6)
    np.testing.assert_allclose(mm[:, 1], w[:, 1] * (0.5 * 1 + 0.5 * n2) / n2, rtol=1e-5)
    np.testing.assert_array_equal(constraints.get("NonNeg")(w), np.maximum(w, 0))
    rows = constraints.UnitNorm(axis=[1])(w)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1, rtol=1e-5)
    assert constraints.MaxNorm()(w.astype(np.float32)).dtype == np.float32


def test_constraint_serialization():
    c = constraints.MinMaxNorm(0.1, 0.9, 0.5, axis=[0, 1])
    config = constraints.serialize(c)
    assert config["class_name"] == "MinMaxNorm" and config["module"] == "keras.constraints"
    assert constraints.deserialize(config) == c
    assert constraints.get(
        {"class_name": "UnitNorm", "config": {"axis": 1}}
    ) == constraints.unit_norm(1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: constraints.get("max"), r"constraint identifier: 'max'; known names: max_norm"),
        (lambda: constraints.get([1]), r"constraint identifier: \[1\]"),
    ],
)
def test_constraint_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unknown_config_key_is_a_type_error():
    with pytest.raises(TypeError, match="max_val"):
        constraints.deserialize({"class_name": "MaxNorm", "config": {"max_val": 1}})
