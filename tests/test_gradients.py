"""The gradient functions against the from-definition reference (tests/reference_grad.py)
and against finite differences of the forward functions.

Hypothesis walks the configuration space (strides, dilation, both together,
valid/same, depth multipliers, layouts, dtypes, activations, thread counts);
targeted tests pin ``wrt`` subsets, determinism, every ISA build and the
threading and tiling edges.
"""

import numpy as np
import pytest
import reference
import reference_grad
from cases import Case, cases
from compare import from_layout, to_layout, tolerance
from hypothesis import given
from hypothesis import strategies as st

import sepconv
from sepconv import activations
from sepconv._native import _tiling

FLOATS = [np.float32, np.float64]
LAYOUTS = ["channels_last", "channels_first"]
# Activations as the API takes them: name -> (argument, NHWC reference of dy -> da)
ACTIVATIONS = {
    "none": None,
    "relu": "relu",
    "tanh": activations.tanh,
    "softmax": activations.softmax,
}


def _upstream(case, shape, dtype):
    """A dy of ``shape`` drawn from [-1, 1] (seeded by the case)."""
    return np.random.default_rng(case.seed + 1).uniform(-1, 1, shape).astype(dtype)


def _reference_da(activation, pre, dy, layout="channels_last"):
    """The reference gradient of the pre-activation ``pre`` (NHWC, float64).

    Softmax works over the last axis of the array in ``layout``, as Keras's does.
    """
    if activation is None:
        return dy
    if activation == "relu":
        return np.where(pre > 0, dy, 0.0)
    if activation is activations.tanh:
        return dy * (1 - np.tanh(pre) ** 2)
    axis = 2 if layout == "channels_first" else 3
    y = np.exp(pre - pre.max(axis=axis, keepdims=True))
    y /= y.sum(axis=axis, keepdims=True)
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def _assert_grads(got, expected, dtype, reduction):
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name].dtype == dtype, name
        assert got[name].shape == value.shape, name
        tol = tolerance(dtype, reduction)
        scale = max(1.0, float(np.abs(value).max(initial=0)))
        np.testing.assert_allclose(
            got[name], value, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=name
        )


def _weight_reduction(case, out_hw):
    """Products summed into one gradient value (a bound): pixels times both steps."""
    return max(1, case.n * out_hw[0] * out_hw[1]) * case.reduction


def separable_expected(case, x, dk, pk, bias, dy, activation, layout="channels_last"):
    """Reference gradients (NHWC) of the separable convolution."""
    pre = case.expected(x, dk, pk, bias)
    da = _reference_da(activation, pre, dy.astype(np.float64), layout)
    return reference_grad.separable_grad(
        da, x, dk, pk, bias, case.strides, case.padding, case.dilation
    )


def run_separable(case, dtype, layout, activation, use_bias=True, wrt=None, n_threads=None):
    x, dk, pk, bias = case.arrays(dtype)
    bias = bias if use_bias else None
    out_hw = case.expected_depthwise(x[:1], dk).shape[1:3]
    dy = _upstream(case, (case.n, *out_hw, case.filters), dtype)
    kwargs = {} if wrt is None else {"wrt": wrt}
    got = sepconv.separable_conv2d_grad(
        to_layout(dy, layout),
        to_layout(x, layout),
        dk,
        pk,
        bias,
        data_format=layout,
        activation=activation,
        n_threads=n_threads,
        **case.geometry,
        **kwargs,
    )
    if "x" in got:
        got["x"] = np.ascontiguousarray(from_layout(got["x"], layout))
    return got, (x, dk, pk, bias, dy, out_hw)


@given(
    case=cases(),
    dtype=st.sampled_from(FLOATS),
    layout=st.sampled_from(LAYOUTS),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    use_bias=st.booleans(),
    n_threads=st.integers(1, 3),
)
def test_separable_grad_matches_reference(case, dtype, layout, activation, use_bias, n_threads):
    act = ACTIVATIONS[activation]
    got, (x, dk, pk, bias, dy, out_hw) = run_separable(
        case, dtype, layout, act, use_bias, n_threads=n_threads
    )
    expected = separable_expected(case, x, dk, pk, bias, dy, act, layout)
    expected["pointwise_kernel"] = expected["pointwise_kernel"].reshape(pk.shape)
    if bias is None:
        del expected["bias"]
    _assert_grads(got, expected, dtype, _weight_reduction(case, out_hw))


@given(
    case=cases(),
    dtype=st.sampled_from(FLOATS),
    layout=st.sampled_from(LAYOUTS),
    activation=st.sampled_from(["none", "relu", "tanh"]),
    use_bias=st.booleans(),
    n_threads=st.integers(1, 3),
)
def test_depthwise_grad_matches_reference(case, dtype, layout, activation, use_bias, n_threads):
    check_depthwise(case, dtype, layout, ACTIVATIONS[activation], use_bias, n_threads)


def check_depthwise(case, dtype, layout, act, use_bias, n_threads):
    """depthwise_conv2d_grad of ``case`` against the reference gradients."""
    x, dk, _, _ = case.arrays(dtype)
    bias = np.linspace(-0.5, 0.5, case.k).astype(dtype) if use_bias else None
    pre = case.expected_depthwise(x, dk) + (0 if bias is None else bias)
    dy = _upstream(case, pre.shape, dtype)
    got = sepconv.depthwise_conv2d_grad(
        to_layout(dy, layout),
        to_layout(x, layout),
        dk,
        bias,
        data_format=layout,
        activation=act,
        n_threads=n_threads,
        **case.geometry,
    )
    got["x"] = from_layout(got["x"], layout)
    da = _reference_da(act, pre, dy.astype(np.float64))
    dx, ddk = reference_grad.depthwise_grad(da, x, dk, case.strides, case.padding, case.dilation)
    expected = {"x": dx, "depthwise_kernel": ddk}
    if bias is not None:
        expected["bias"] = da.sum(axis=(0, 1, 2))
    _assert_grads(got, expected, dtype, _weight_reduction(case, pre.shape[1:3]))


@given(
    case=cases(max_kernel=1, max_stride=1, max_dilation=1),
    dtype=st.sampled_from(FLOATS),
    layout=st.sampled_from(LAYOUTS),
    activation=st.sampled_from(["none", "relu", "softmax"]),
    use_bias=st.booleans(),
    matrix=st.booleans(),
    n_threads=st.integers(1, 3),
)
def test_pointwise_grad_matches_reference(
    case, dtype, layout, activation, use_bias, matrix, n_threads
):
    act = ACTIVATIONS[activation]
    x, _, pk, bias = case.arrays(dtype)
    x = x[..., :1].repeat(case.k, axis=-1) * np.linspace(-1, 1, case.k).astype(dtype)
    bias = bias if use_bias else None
    pk_arg = pk[0, 0] if matrix else pk
    pre = x.astype(np.float64) @ pk[0, 0] + (0 if bias is None else bias)
    dy = _upstream(case, pre.shape, dtype)
    got = sepconv.pointwise_conv2d_grad(
        to_layout(dy, layout),
        to_layout(x, layout),
        pk_arg,
        bias,
        data_format=layout,
        activation=act,
        n_threads=n_threads,
    )
    got["x"] = from_layout(got["x"], layout)
    da = _reference_da(act, pre, dy.astype(np.float64), layout)
    dx, dpk, db = reference_grad.pointwise_grad(da, x, pk)
    expected = {"x": dx, "pointwise_kernel": dpk.reshape(pk_arg.shape)}
    if bias is not None:
        expected["bias"] = db
    _assert_grads(got, expected, dtype, max(1, x.size) * (case.k + case.filters))


# --------------------------------------------------------------------------
# Finite differences: the gradient is the derivative of the forward function


def _directional_check(loss, arrays, grads, seed):
    """Compare <grad, v> with the central difference of ``loss`` along a random v.

    Returns the worst relative error over the arrays.
    """
    rng = np.random.default_rng(seed)
    worst = 0.0
    h = 1e-6
    for name, value in arrays.items():
        v = rng.standard_normal(value.shape)
        plus = dict(arrays, **{name: value + h * v})
        minus = dict(arrays, **{name: value - h * v})
        numeric = (loss(**plus) - loss(**minus)) / (2 * h)
        analytic = float(np.sum(grads[name] * v))
        error = abs(numeric - analytic) / max(1.0, abs(analytic))
        worst = max(worst, error)
        assert error < 1e-6, (name, numeric, analytic)
    return worst


FD_ACTIVATIONS = [
    None,
    "relu",
    activations.tanh,
    activations.gelu,
    activations.softmax,
    activations.elu,
]


@given(
    case=cases(min_batch=1),
    layout=st.sampled_from(LAYOUTS),
    activation=st.sampled_from(FD_ACTIVATIONS),
    n_threads=st.integers(1, 2),
)
def test_separable_grad_finite_differences(case, layout, activation, n_threads):
    x, dk, pk, bias = case.arrays(np.float64)
    arrays = {
        "x": to_layout(x, layout),
        "depthwise_kernel": dk,
        "pointwise_kernel": pk,
        "bias": bias,
    }
    kwargs = dict(case.geometry, data_format=layout, activation=activation, n_threads=n_threads)
    out = sepconv.separable_conv2d(*arrays.values(), **kwargs)
    dy = np.random.default_rng(case.seed).uniform(-1, 1, out.shape)

    def loss(x, depthwise_kernel, pointwise_kernel, bias):
        return float(
            np.sum(
                sepconv.separable_conv2d(x, depthwise_kernel, pointwise_kernel, bias, **kwargs) * dy
            )
        )

    grads = sepconv.separable_conv2d_grad(dy, *arrays.values(), **kwargs)
    _directional_check(loss, arrays, grads, case.seed)


@given(
    case=cases(min_batch=1),
    layout=st.sampled_from(LAYOUTS),
    activation=st.sampled_from([None, "relu", activations.sigmoid]),
)
def test_depthwise_grad_finite_differences(case, layout, activation):
    x, dk, _, _ = case.arrays(np.float64)
    arrays = {
        "x": to_layout(x, layout),
        "depthwise_kernel": dk,
        # never exactly 0: where every tap reads padding the output is the
        # bias, and ReLU's kink at 0 has no finite-difference derivative
        "bias": np.linspace(-0.3, 0.3, case.k) + 0.0123,
    }
    kwargs = dict(case.geometry, data_format=layout, activation=activation)
    out = sepconv.depthwise_conv2d(*arrays.values(), **kwargs)
    dy = np.random.default_rng(case.seed).uniform(-1, 1, out.shape)

    def loss(x, depthwise_kernel, bias):
        return float(np.sum(sepconv.depthwise_conv2d(x, depthwise_kernel, bias, **kwargs) * dy))

    _directional_check(
        loss, arrays, sepconv.depthwise_conv2d_grad(dy, *arrays.values(), **kwargs), case.seed
    )


@given(
    case=cases(min_batch=1, max_kernel=1),
    layout=st.sampled_from(LAYOUTS),
    activation=st.sampled_from([None, "relu", activations.softplus]),
)
def test_pointwise_grad_finite_differences(case, layout, activation):
    x, _, pk, bias = case.arrays(np.float64)
    x = np.repeat(x, case.depth_multiplier, axis=-1)
    arrays = {"x": to_layout(x, layout), "pointwise_kernel": pk, "bias": bias}
    kwargs = dict(data_format=layout, activation=activation)
    out = sepconv.pointwise_conv2d(*arrays.values(), **kwargs)
    dy = np.random.default_rng(case.seed).uniform(-1, 1, out.shape)

    def loss(x, pointwise_kernel, bias):
        return float(np.sum(sepconv.pointwise_conv2d(x, pointwise_kernel, bias, **kwargs) * dy))

    _directional_check(
        loss, arrays, sepconv.pointwise_conv2d_grad(dy, *arrays.values(), **kwargs), case.seed
    )


# --------------------------------------------------------------------------
# wrt, determinism, ISA builds, tiling

WRT_SUBSETS = [
    ("x",),
    ("depthwise_kernel",),
    ("pointwise_kernel",),
    ("bias",),
    ("depthwise_kernel", "pointwise_kernel", "bias"),
    ("x", "bias"),
    (),
]
CASE = Case(
    n=3,
    hw=(13, 11),
    channels=5,
    depth_multiplier=2,
    filters=7,
    kernel=(3, 3),
    strides=(1, 2),
    dilation=(2, 1),
    padding="same",
    seed=7,
)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("wrt", WRT_SUBSETS)
def test_wrt_subset_gives_the_same_numbers(layout, activation, wrt):
    full, _ = run_separable(CASE, np.float32, layout, activation, n_threads=2)
    part, _ = run_separable(CASE, np.float32, layout, activation, wrt=wrt, n_threads=2)
    assert list(part) == [name for name in full if name in wrt]
    for name in wrt:
        np.testing.assert_array_equal(part[name], full[name], err_msg=name)


def test_wrt_as_a_single_name():
    got, _ = run_separable(CASE, np.float64, "channels_last", None, wrt="bias")
    assert list(got) == ["bias"]


def test_no_bias_gives_no_bias_gradient():
    got, _ = run_separable(CASE, np.float64, "channels_last", None, use_bias=False)
    assert "bias" not in got


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_bitwise_deterministic_at_fixed_threads(dtype, n_threads, monkeypatch):
    # small tiles: many tiles per thread, so the partial sums really add up
    monkeypatch.setattr(_tiling, "TILE_BYTES", 256)
    case = Case(
        n=4,
        hw=(17, 19),
        channels=9,
        depth_multiplier=1,
        filters=12,
        kernel=(3, 3),
        padding="same",
        seed=3,
    )
    first, _ = run_separable(case, dtype, "channels_last", "relu", n_threads=n_threads)
    for _ in range(3):
        again, _ = run_separable(case, dtype, "channels_last", "relu", n_threads=n_threads)
        for name in first:
            assert first[name].tobytes() == again[name].tobytes(), name


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize(
    "geometry",
    [
        dict(strides=(1, 1), dilation=(1, 1), padding="same"),
        dict(strides=(1, 1), dilation=(2, 3), padding="valid"),
        dict(strides=(2, 1), dilation=(1, 1), padding="same"),
    ],
    ids=["unit", "dilation", "strides"],
)
def test_depthwise_rows_layout(geometry, activation, dtype, monkeypatch):
    # channels_last, depth multiplier 1, more than 8 channels: the "rows"
    # layout (dy is dz; dx by the register kernels at unit strides, else
    # gathered); small tiles, so the halo spans tiles and threads
    monkeypatch.setattr(_tiling, "TILE_BYTES", 4096)
    case = Case(
        n=2,
        hw=(21, 27),
        channels=17,
        depth_multiplier=1,
        filters=1,
        kernel=(3, 3),
        seed=4,
        **geometry,
    )
    check_depthwise(case, dtype, "channels_last", activation, True, 2)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_isa_build(isa_level, layout):
    got, (x, dk, pk, bias, dy, out_hw) = run_separable(CASE, np.float32, layout, "relu")
    expected = separable_expected(CASE, x, dk, pk, bias, dy, "relu")
    expected["pointwise_kernel"] = expected["pointwise_kernel"].reshape(pk.shape)
    _assert_grads(got, expected, np.float32, _weight_reduction(CASE, out_hw))


@pytest.mark.parametrize("tile_bytes", [1, 4096, 1 << 30])
@pytest.mark.parametrize("strides", [(1, 1), (3, 2)])
def test_tiles_of_any_height(tile_bytes, strides, monkeypatch):
    # one row a tile (the halo then spans several tiles) up to a whole image a tile
    monkeypatch.setattr(_tiling, "TILE_BYTES", tile_bytes)
    case = Case(
        n=2,
        hw=(23, 9),
        channels=3,
        depth_multiplier=2,
        filters=4,
        kernel=(5, 2),
        strides=strides,
        dilation=(2, 1),
        padding="valid",
        seed=5,
    )
    got, (x, dk, pk, bias, dy, out_hw) = run_separable(
        case, np.float64, "channels_last", None, n_threads=3
    )
    expected = separable_expected(case, x, dk, pk, bias, dy, None)
    expected["pointwise_kernel"] = expected["pointwise_kernel"].reshape(pk.shape)
    _assert_grads(got, expected, np.float64, _weight_reduction(case, out_hw))


def test_empty_batch_gives_zero_gradients():
    case = Case(n=0, hw=(5, 5), channels=2, depth_multiplier=1, filters=3, kernel=(3, 3))
    got, (x, dk, pk, bias, _, _) = run_separable(case, np.float32, "channels_last", "relu")
    assert got["x"].shape == x.shape
    for name, like in [("depthwise_kernel", dk), ("pointwise_kernel", pk), ("bias", bias)]:
        np.testing.assert_array_equal(got[name], np.zeros_like(like))


def test_relu_derivative_at_zero_is_zero():
    # all-zero weights: every pre-activation is exactly 0
    x = np.ones((1, 4, 4, 2))
    dk = np.zeros((3, 3, 2, 1))
    pk = np.zeros((1, 1, 2, 3))
    dy = np.ones((1, 2, 2, 3))
    got = sepconv.separable_conv2d_grad(dy, x, dk, pk, np.zeros(3), activation="relu")
    for value in got.values():
        np.testing.assert_array_equal(value, 0)


def test_dtype_rules():
    x, dk, pk, bias = CASE.arrays(np.float32)
    dy = np.zeros((3, 13, 6, 7))
    assert all(
        g.dtype == np.float64
        for g in sepconv.separable_conv2d_grad(dy, x, dk, pk, bias, **CASE.geometry).values()
    )
    dy = np.zeros((3, 13, 6, 7), np.int32)
    assert all(
        g.dtype == np.float32
        for g in sepconv.separable_conv2d_grad(dy, x, dk, pk, bias, **CASE.geometry).values()
    )


def test_unchanged_inputs():
    x, dk, pk, bias = CASE.arrays(np.float32)
    copies = [a.copy() for a in (x, dk, pk, bias)]
    dy = np.ones((3, 13, 6, 7), np.float32)
    sepconv.separable_conv2d_grad(dy, x, dk, pk, bias, activation="relu", **CASE.geometry)
    for before, after in zip(copies, (x, dk, pk, bias), strict=True):
        np.testing.assert_array_equal(before, after)


def test_reference_grad_is_the_adjoint_of_reference():
    # the oracle itself: <forward(x), dy> is linear in x, so its gradient's dot with x is it
    case = Case(
        n=2,
        hw=(7, 8),
        channels=3,
        depth_multiplier=2,
        filters=4,
        kernel=(3, 2),
        strides=(2, 1),
        dilation=(1, 2),
        padding="same",
        seed=11,
    )
    x, dk, pk, bias = case.arrays()
    y = reference.separable(x, dk, pk, None, case.strides, case.padding, case.dilation)
    dy = _upstream(case, y.shape, np.float64)
    grads = reference_grad.separable_grad(
        dy, x, dk, pk, None, case.strides, case.padding, case.dilation
    )
    total = np.sum(y * dy)
    np.testing.assert_allclose(np.sum(grads["x"] * x), total, rtol=1e-12)
    np.testing.assert_allclose(np.sum(grads["depthwise_kernel"] * dk), total, rtol=1e-12)
    np.testing.assert_allclose(np.sum(grads["pointwise_kernel"] * pk[0, 0]), total, rtol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize(
    "geometry",
    [
        dict(strides=(1, 1), dilation=(1, 1), padding="same"),
        dict(strides=(2, 3), dilation=(1, 1), padding="valid"),
        dict(strides=(1, 1), dilation=(2, 3), padding="same"),
        dict(strides=(2, 2), dilation=(2, 1), padding="same"),
    ],
    ids=["unit", "strides", "dilation", "both"],
)
def test_rows_layout(geometry, activation, dtype, monkeypatch):
    # channels_last, depth multiplier 1, more than 8 channels: the "rows"
    # layout (register kernels for z, channel-vector gradients); small tiles
    monkeypatch.setattr(_tiling, "TILE_BYTES", 4096)
    case = Case(
        n=2,
        hw=(21, 27),
        channels=17,
        depth_multiplier=1,
        filters=6,
        kernel=(3, 3),
        seed=9,
        **geometry,
    )
    got, (x, dk, pk, bias, dy, out_hw) = run_separable(
        case, dtype, "channels_last", activation, n_threads=2
    )
    expected = separable_expected(case, x, dk, pk, bias, dy, activation)
    expected["pointwise_kernel"] = expected["pointwise_kernel"].reshape(pk.shape)
    _assert_grads(got, expected, dtype, _weight_reduction(case, out_hw))
