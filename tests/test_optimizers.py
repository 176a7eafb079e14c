"""sepconv.optimizers: Keras 3's update rules worked by hand, configs, constraints, errors.

The training parity with Keras itself is in test_training_golden.py.
"""

import math

import numpy as np
import pytest

import sepconv
from sepconv import constraints, optimizers

F32_LR = float(np.float32(0.1))  # Keras holds the learning rate in float32
F32_MOMENTUM = float(np.float32(0.9))  # and casts Python floats through float32


def _steps(optimizer, w, grads):
    for g in grads:
        optimizer.apply([np.array(g)], [w])
    return w


def test_sgd_plain():
    w = _steps(optimizers.SGD(0.1), np.array([1.0, -2.0]), [[0.5, 1.0], [0.5, 1.0]])
    np.testing.assert_allclose(w, [1.0 - 2 * F32_LR * 0.5, -2.0 - 2 * F32_LR])


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_by_hand(nesterov):
    g1, g2 = 0.5, -0.25
    w = _steps(optimizers.SGD(0.1, momentum=0.9, nesterov=nesterov), np.array([1.0]), [[g1], [g2]])
    m1 = -F32_LR * g1
    m2 = F32_MOMENTUM * m1 - F32_LR * g2
    if nesterov:
        expected = 1.0 + (F32_MOMENTUM * m1 - F32_LR * g1) + (F32_MOMENTUM * m2 - F32_LR * g2)
    else:
        expected = 1.0 + m1 + m2
    np.testing.assert_allclose(w, [expected], rtol=1e-15)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_by_hand(amsgrad):
    lr = float(np.float32(0.01))
    b1, b2, eps = 0.9, 0.999, 1e-7
    p1, p2 = float(np.float32(b1)), float(np.float32(b2))  # the powers' bases, as Keras
    grads = [2.0, 0.0, 0.3]  # v shrinks at the second step: amsgrad keeps the first
    w, m, v, vmax = 1.0, 0.0, 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        # Adam's bias corrections, folded into the step size as Keras does
        step = lr * math.sqrt(1 - p2**t) / (1 - p1**t)
        w -= step * m / (math.sqrt(vmax if amsgrad else v) + eps)
    got = _steps(optimizers.Adam(0.01, amsgrad=amsgrad), np.array([1.0]), [[g] for g in grads])
    np.testing.assert_allclose(got, [w], rtol=1e-13)


def test_amsgrad_changes_the_result():
    grads = [[2.0], [0.0], [0.0]]
    plain = _steps(optimizers.Adam(0.01), np.array([1.0]), grads)
    ams = _steps(optimizers.Adam(0.01, amsgrad=True), np.array([1.0]), grads)
    assert plain[0] != ams[0]


def test_float32_arrays_stay_float32_in_place():
    w = np.ones(3, np.float32)
    before = w
    optimizers.Adam().apply([np.ones(3)], [w])
    assert w is before and w.dtype == np.float32 and np.all(w < 1)


def test_none_gradient_skips_its_array():
    a, b = np.ones(2), np.ones(2)
    optimizers.SGD(0.1).apply([None, np.ones(2)], [a, b])
    np.testing.assert_array_equal(a, 1)
    assert np.all(b < 1)


def test_weight_decay_then_update():
    w = _steps(optimizers.SGD(0.1, weight_decay=0.5), np.array([2.0]), [[1.0]])  # 0.5 exact
    np.testing.assert_allclose(w, [2.0 - 2.0 * 0.5 * F32_LR - F32_LR * 1.0])


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"clipnorm": 1.0}, [0.6, 0.8]),
        ({"clipvalue": 1.0}, [1.0, 1.0]),
        ({"global_clipnorm": 1.0}, [0.6, 0.8]),
    ],
)
def test_clipping(kwargs, expected):
    w = _steps(optimizers.SGD(1.0, **kwargs), np.zeros(2), [[3.0, 4.0]])
    np.testing.assert_allclose(-w, expected, rtol=1e-7)


def test_apply_to_a_layer_updates_then_constrains():
    layer = sepconv.SeparableConv2D(
        2, 3, depthwise_constraint=constraints.MaxNorm(0.01), dtype="float64"
    )
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 3))
    layer(x, training=True)
    layer.backward(np.ones((2, 3, 3, 2)))
    before = layer.get_weights()
    optimizers.SGD(0.1).apply(layer.gradients, layer)
    norms = np.sqrt(np.sum(layer.depthwise_kernel**2, axis=0))  # MaxNorm's axis=0
    assert np.all(norms <= 0.01 + 1e-12)
    np.testing.assert_allclose(layer.pointwise_kernel, before[1] - F32_LR * layer.gradients[1])


def test_config_round_trip_and_keras_names():
    opt = optimizers.Adam(learning_rate=0.01, beta_1=0.8, amsgrad=True, clipnorm=2.0)
    config = opt.get_config()
    assert config["learning_rate"] == float(np.float32(0.01))
    assert set(config) == {
        "name",
        "learning_rate",
        "weight_decay",
        "clipnorm",
        "global_clipnorm",
        "clipvalue",
        "use_ema",
        "ema_momentum",
        "ema_overwrite_frequency",
        "loss_scale_factor",
        "gradient_accumulation_steps",
        "beta_1",
        "beta_2",
        "epsilon",
        "amsgrad",
    }
    again = optimizers.Adam.from_config(config)
    assert again.get_config() == config
    sgd = optimizers.deserialize(optimizers.serialize(optimizers.SGD(momentum=0.5, nesterov=True)))
    assert isinstance(sgd, optimizers.SGD) and sgd.nesterov and sgd.momentum == 0.5


def test_defaults_are_keras():
    sgd, adam = optimizers.SGD(), optimizers.Adam()
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov, sgd.name) == (0.01, 0.0, False, "SGD")
    assert (
        adam.learning_rate,
        adam.beta_1,
        adam.beta_2,
        adam.epsilon,
        adam.amsgrad,
        adam.name,
    ) == (0.001, 0.9, 0.999, 1e-7, False, "adam")


def test_get():
    assert isinstance(optimizers.get("sgd"), optimizers.SGD)
    assert isinstance(optimizers.get("Adam"), optimizers.Adam)
    with pytest.raises(ValueError, match="optimizer identifier.*'rmsprop'"):
        optimizers.get("rmsprop")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"momentum": 1.5}, "`momentum`.*momentum=1.5"),
        ({"learning_rate": "fast"}, "`learning_rate`.*'fast'"),
        ({"learning_rate": lambda step: 0.1}, "`learning_rate`"),
        ({"clipnorm": 1.0, "clipvalue": 1.0}, "Only one of.*clipnorm=1.0.*clipvalue=1.0"),
        ({"use_ema": True}, "use_ema"),
        ({"gradient_accumulation_steps": 2}, "gradient_accumulation_steps"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optimizers.SGD(**kwargs)


def test_unknown_keyword():
    with pytest.raises(TypeError, match="decay_rate"):
        optimizers.Adam(decay_rate=0.1)


def test_mismatched_gradients_and_arrays():
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match="`gradients` has 1 entries but there are 2"):
        opt.apply([np.ones(2)], [np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match=r"`gradients\[0\]` has shape \(3,\).*\(2,\)"):
        opt.apply([np.ones(3)], [np.ones(2)])
    with pytest.raises(TypeError, match=r"`arrays\[0\]`.*writable float"):
        opt.apply([np.ones(2)], [np.ones(2, int)])
    frozen = np.ones(2)
    frozen.flags.writeable = False
    with pytest.raises(TypeError, match=r"`arrays\[0\]`"):
        opt.apply([np.ones(2)], [frozen])


def test_arrays_must_stay_the_same():
    opt = optimizers.Adam()
    opt.apply([np.ones(2)], [np.ones(2)])
    with pytest.raises(ValueError, match="was built for arrays"):
        opt.apply([np.ones(3)], [np.ones(3)])
