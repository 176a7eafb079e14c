"""Bad arguments to the gradient functions: the forward functions' errors, word for
word, plus the errors of ``dy``, ``wrt`` and activations without a derivative."""

import re

import numpy as np
import pytest

import sepconv
from sepconv import activations

X = np.zeros((2, 6, 5, 3), np.float32)
DK = np.zeros((3, 3, 3, 2), np.float32)
PK = np.zeros((1, 1, 6, 4), np.float32)
BIAS = np.zeros(4, np.float32)
# the forward output shapes of the good arguments (valid padding, unit steps)
DY = {
    "separable": np.zeros((2, 4, 3, 4), np.float32),
    "depthwise": np.zeros((2, 4, 3, 6), np.float32),
    "pointwise": np.zeros((2, 6, 5, 4), np.float32),
}

FORWARD = {
    "separable": sepconv.separable_conv2d,
    "depthwise": sepconv.depthwise_conv2d,
    "pointwise": sepconv.pointwise_conv2d,
}
GRAD = {
    "separable": sepconv.separable_conv2d_grad,
    "depthwise": sepconv.depthwise_conv2d_grad,
    "pointwise": sepconv.pointwise_conv2d_grad,
}
OPERANDS = {
    "separable": {"x": X, "depthwise_kernel": DK, "pointwise_kernel": PK, "bias": BIAS},
    "depthwise": {"x": X, "depthwise_kernel": DK},
    "pointwise": {"x": X, "pointwise_kernel": PK[:, :, :3], "bias": BIAS},
}


def _call(function, name, changes, *dy):
    """``function(*dy, *operands, **keywords)``: the good arguments with ``changes``."""
    args = {**OPERANDS[name], **changes}
    operands = [args.pop(key) for key in list(OPERANDS[name]) if key in args]
    return function(*dy, *operands, **args)


def _raises(error, *fragments):
    return pytest.raises(error, match=".*".join(re.escape(f) for f in fragments))


# Bad arguments of the forward functions; the gradient must fail the same way.
BAD = [
    ("all", {"x": np.zeros((6, 5, 3), np.float32)}),
    ("all", {"x": np.zeros((2, 6, 5, 3), np.complex64)}),
    ("all", {"x": None}),
    ("all", {"x": np.zeros((2, 6, 5, 0), np.float32)}),
    ("all", {"data_format": "NHWC"}),
    ("all", {"n_threads": 0}),
    ("all", {"n_threads": 1.5}),
    ("all", {"activation": "swish"}),
    ("all", {"activation": 3}),
    ("geometry", {"depthwise_kernel": np.zeros((3, 3, 3), np.float32)}),
    ("geometry", {"depthwise_kernel": np.zeros((3, 3, 5, 1), np.float32)}),
    ("geometry", {"depthwise_kernel": np.zeros((0, 3, 3, 1), np.float32)}),
    ("geometry", {"strides": 0}),
    ("geometry", {"strides": (1, 2, 3)}),
    ("geometry", {"dilation_rate": "2"}),
    ("geometry", {"padding": "causal"}),
    ("geometry", {"depthwise_kernel": np.zeros((7, 3, 3, 2), np.float32)}),
    ("separable", {"pointwise_kernel": np.zeros((3, 3, 6, 4), np.float32)}),
    ("separable", {"pointwise_kernel": np.zeros((5, 4), np.float32)}),
    ("separable", {"bias": np.zeros(7, np.float32)}),
    ("separable", {"bias": np.zeros(4, np.complex128)}),
    ("pointwise", {"pointwise_kernel": np.zeros((6, 4), np.float32)}),
    ("pointwise", {"pointwise_kernel": np.zeros((3, 0), np.float32)}),
]


def _applies(scope, name):
    return (
        scope == "all"
        or scope == name
        or (scope == "geometry" and name in ("separable", "depthwise"))
    )


@pytest.mark.parametrize(
    "name, changes",
    [
        pytest.param(name, changes, id=f"{name}-{i}")
        for i, (scope, changes) in enumerate(BAD)
        for name in sorted(GRAD)
        if _applies(scope, name)
    ],
)
def test_same_errors_as_the_forward_function(name, changes):
    with pytest.raises((ValueError, TypeError)) as forward:
        _call(FORWARD[name], name, changes)
    with pytest.raises(type(forward.value)) as backward:
        _call(GRAD[name], name, changes, DY[name])
    assert str(backward.value) == str(forward.value)


@pytest.mark.parametrize("name", sorted(GRAD))
def test_dy_of_the_wrong_shape(name):
    dy = DY[name][:, :-1]
    with _raises(ValueError, "`dy`", str(DY[name].shape), f"dy.shape={dy.shape}"):
        _call(GRAD[name], name, {}, dy)


@pytest.mark.parametrize("name", sorted(GRAD))
def test_dy_in_the_other_layout(name):
    dy = np.ascontiguousarray(DY[name].transpose(0, 3, 1, 2))
    with _raises(ValueError, "`dy`", f"dy.shape={dy.shape}"):
        _call(GRAD[name], name, {}, dy)


@pytest.mark.parametrize("name", sorted(GRAD))
@pytest.mark.parametrize("dtype", [np.complex64, object, "U1"])
def test_dy_not_real_numbers(name, dtype):
    dy = DY[name].astype(dtype)
    with _raises(TypeError, "`dy`", str(dy.dtype)):
        _call(GRAD[name], name, {}, dy)


@pytest.mark.parametrize("name", sorted(GRAD))
def test_dy_none(name):
    with _raises(TypeError, "`dy`", "None"):
        _call(GRAD[name], name, {}, None)


@pytest.mark.parametrize("name", sorted(GRAD))
@pytest.mark.parametrize("wrt", [("x", "kernel"), ("X",), "filters", 3, (None,), ("bias", 1)])
def test_bad_wrt(name, wrt):
    with _raises(ValueError, "`wrt`", f"wrt={wrt!r}"):
        _call(GRAD[name], name, {"wrt": wrt}, DY[name])


def test_wrt_names_of_another_function():
    with _raises(ValueError, "`wrt`", "'pointwise_kernel'"):
        _call(GRAD["depthwise"], "depthwise", {"wrt": ("pointwise_kernel",)}, DY["depthwise"])


@pytest.mark.parametrize(
    "activation", [activations.sparsemax, activations.glu, np.tanh, lambda v: v]
)
def test_activation_without_derivative(activation):
    with _raises(ValueError, "no derivative", "activation"):
        _call(GRAD["separable"], "separable", {"activation": activation}, DY["separable"])
