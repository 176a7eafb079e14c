"""Bad arguments to the functional API: the error type, and a message naming
the argument and the value; random shapes never crash the interpreter."""

import re

import numpy as np
import pytest
import reference
from compare import assert_close, from_layout
from hypothesis import event, given, settings
from hypothesis import strategies as st

import sepconv

X = np.zeros((2, 6, 5, 3), np.float32)
DK = np.zeros((3, 3, 3, 2), np.float32)
PK = np.zeros((1, 1, 6, 4), np.float32)
BIAS = np.zeros(4, np.float32)


def separable(**changes):
    args = {"x": X, "depthwise_kernel": DK, "pointwise_kernel": PK, "bias": BIAS, **changes}
    return sepconv.separable_conv2d(
        args.pop("x"),
        args.pop("depthwise_kernel"),
        args.pop("pointwise_kernel"),
        args.pop("bias"),
        **args,
    )


def depthwise(**changes):
    args = {"x": X, "depthwise_kernel": DK, **changes}
    return sepconv.depthwise_conv2d(args.pop("x"), args.pop("depthwise_kernel"), **args)


def pointwise(**changes):
    args = {"x": X, "pointwise_kernel": PK[:, :, :3], **changes}
    return sepconv.pointwise_conv2d(args.pop("x"), args.pop("pointwise_kernel"), **args)


FUNCTIONS = {"separable": separable, "depthwise": depthwise, "pointwise": pointwise}
GEOMETRY_FUNCTIONS = {"separable": separable, "depthwise": depthwise}


def _raises(error, *fragments):
    """pytest.raises matching every fragment, in order, literally."""
    return pytest.raises(error, match=".*".join(re.escape(f) for f in fragments))


# --------------------------------------------------------------------------
# Shapes


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("shape", [(6, 5, 3), (1, 2, 6, 5, 3), ()])
def test_x_rank(name, shape):
    with _raises(ValueError, "`x`", "4-D", str(shape)):
        FUNCTIONS[name](x=np.zeros(shape, np.float32))


@pytest.mark.parametrize("name", sorted(GEOMETRY_FUNCTIONS))
@pytest.mark.parametrize("shape", [(3, 3, 3), (3, 3, 3, 2, 1)])
def test_depthwise_kernel_rank(name, shape):
    with _raises(ValueError, "`depthwise_kernel`", "4-D", str(shape)):
        GEOMETRY_FUNCTIONS[name](depthwise_kernel=np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(6,), (1, 6, 4), (1, 1, 1, 6, 4)])
def test_pointwise_kernel_rank(shape):
    with _raises(ValueError, "`pointwise_kernel`", str(shape)):
        separable(pointwise_kernel=np.zeros(shape, np.float32))


def test_pointwise_kernel_not_1x1():
    with _raises(ValueError, "`pointwise_kernel`", "1x1", "(3, 3, 6, 4)"):
        separable(pointwise_kernel=np.zeros((3, 3, 6, 4), np.float32))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("shape", [(4, 1), (), (2, 2)])
def test_bias_rank(name, shape):
    with _raises(ValueError, "`bias`", str(shape)):
        FUNCTIONS[name](bias=np.zeros(shape, np.float32))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_bias_length(name):
    expected = {"separable": 4, "depthwise": 6, "pointwise": 4}[name]
    with _raises(ValueError, "`bias`", f"({expected},)", "(7,)"):
        FUNCTIONS[name](bias=np.zeros(7, np.float32))


@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
@pytest.mark.parametrize("name", sorted(GEOMETRY_FUNCTIONS))
def test_channel_mismatch(name, layout):
    x = np.zeros((2, 4, 6, 5) if layout == "channels_last" else (2, 5, 6, 4), np.float32)
    with _raises(ValueError, "`depthwise_kernel`", "3", "`x`", "5"):
        GEOMETRY_FUNCTIONS[name](x=x, data_format=layout)


def test_pointwise_in_channels_differ_from_depthwise_output():
    with _raises(ValueError, "`pointwise_kernel`", "5", "C * depth_multiplier = 6", "(5, 4)"):
        separable(pointwise_kernel=np.zeros((5, 4), np.float32))


def test_pointwise_in_channels_differ_from_x():
    with _raises(ValueError, "`pointwise_kernel`", "6", "3"):
        pointwise(pointwise_kernel=PK)


@pytest.mark.parametrize("name", sorted(GEOMETRY_FUNCTIONS))
@pytest.mark.parametrize("shape", [(0, 3, 3, 2), (3, 0, 3, 2), (3, 3, 3, 0)])
def test_empty_depthwise_kernel(name, shape):
    with _raises(ValueError, "`depthwise_kernel`", "positive", str(shape)):
        GEOMETRY_FUNCTIONS[name](depthwise_kernel=np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(6, 0), (1, 1, 6, 0)])
def test_no_filters(shape):
    with _raises(ValueError, "`pointwise_kernel`", "filter", str(shape)):
        separable(pointwise_kernel=np.zeros(shape, np.float32), bias=None)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_x_without_channels(name):
    x = np.zeros((2, 6, 5, 0), np.float32)
    with _raises(ValueError, "`x`", "channel", "(2, 6, 5, 0)"):
        FUNCTIONS[name](x=x)


@pytest.mark.parametrize("name", sorted(GEOMETRY_FUNCTIONS))
@pytest.mark.parametrize(
    "kernel,strides,dilation", [((7, 3), 1, 1), ((3, 3), 1, (3, 1)), ((3, 6), (2, 2), 1)]
)
def test_empty_output_under_valid(name, kernel, strides, dilation):
    dk = np.zeros((*kernel, 3, 2), np.float32)
    with _raises(ValueError, "empty", "(6, 5)", str(kernel), "strides=", "dilation_rate=", "valid"):
        GEOMETRY_FUNCTIONS[name](
            depthwise_kernel=dk, strides=strides, dilation_rate=dilation, padding="valid"
        )


# --------------------------------------------------------------------------
# Keyword arguments: each message names the argument and quotes the value


def _bad(argument, error, values):
    return [pytest.param(argument, v, error, id=f"{argument}={v!r}") for v in values]


GEOMETRY_KEYWORDS = (
    _bad(
        "strides",
        ValueError,
        [
            0,
            -1,
            (1, 0),
            (2, -3),
            1.5,
            (1, 2.0),
            True,
            (True, 1),
            np.bool_(True),
            "2",
            (1, 2, 3),
            (1,),
            None,
            [],
            2.0,
        ],
    )
    + _bad("dilation_rate", ValueError, [0, -2, (0, 1), 2.5, False, (1, 1, 1), "1", None])
    + _bad("padding", ValueError, ["causal", "full", "", "valid ", None, 0, ("same",)])
)
KEYWORDS = (
    _bad("data_format", ValueError, ["NHWC", "channels", "", 1])
    + _bad("n_threads", ValueError, [0, -100000])
    + _bad("n_threads", TypeError, [1.0, "2", True, np.bool_(False), [1]])
    + _bad("activation", ValueError, ["tanh", "", "relu6", 3, ("relu",)])
)


@pytest.mark.parametrize("name", sorted(GEOMETRY_FUNCTIONS))
@pytest.mark.parametrize("argument,value,error", GEOMETRY_KEYWORDS)
def test_bad_geometry_keyword(name, argument, value, error):
    with _raises(error, f"`{argument}`", f"{argument}={value!r}"):
        GEOMETRY_FUNCTIONS[name](**{argument: value})


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("argument,value,error", KEYWORDS)
def test_bad_keyword(name, argument, value, error):
    with _raises(error, f"`{argument}`", f"{argument}={value!r}"):
        FUNCTIONS[name](**{argument: value})


def test_padding_message_lists_the_options():
    with _raises(ValueError, "`padding` must be one of 'valid', 'same'", "padding='causal'"):
        separable(padding="causal")


# --------------------------------------------------------------------------
# Operand types

NOT_REAL = {
    "complex": np.zeros((2, 6, 5, 3), np.complex64),
    "object": np.zeros((2, 6, 5, 3), object),
    "str": np.full((2, 6, 5, 3), "a"),
    "bytes": np.full((2, 6, 5, 3), b"a"),
    "datetime": np.zeros((2, 6, 5, 3), "datetime64[s]"),
}


@pytest.mark.parametrize("kind", sorted(NOT_REAL))
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_x_not_real_numbers(name, kind):
    x = NOT_REAL[kind]
    with _raises(TypeError, "`x`", str(x.dtype)):
        FUNCTIONS[name](x=x)


@pytest.mark.parametrize(
    "operand,value",
    [
        ("depthwise_kernel", DK.astype(np.complex128)),
        ("pointwise_kernel", PK.astype(object)),
        ("bias", np.array(["a"] * 4)),
    ],
)
def test_kernels_not_real_numbers(operand, value):
    with _raises(TypeError, f"`{operand}`", str(value.dtype)):
        separable(**{operand: value})


@pytest.mark.parametrize("operand", ["x", "depthwise_kernel", "pointwise_kernel"])
def test_missing_operand(operand):
    with _raises(TypeError, f"`{operand}`", "None"):
        separable(**{operand: None})


def test_ragged_operand():
    with _raises(TypeError, "`depthwise_kernel`"):
        separable(depthwise_kernel=[[1.0, 2.0], [3.0]])


# --------------------------------------------------------------------------
# Nothing crashes, whatever the shapes

dims = st.integers(0, 4)
good_pairs = st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3))
bad_values = {
    "strides": st.sampled_from([0, -1, (1, 0), (2, -3), 1.5, True, (1, 2, 3)]),
    "dilation_rate": st.sampled_from([0, -2, (0, 1), 2.5, (1,)]),
    "padding": st.sampled_from(["causal", "full", None]),
    "data_format": st.sampled_from(["NCHW", None]),
    "n_threads": st.sampled_from([0, 1.5, "1"]),
}


@st.composite
def changed_shape(draw, shape):
    """``shape`` with one dimension changed, dropped or added."""
    shape = list(shape)
    i = draw(st.integers(0, len(shape) - 1))
    action = draw(st.sampled_from(["change", "drop", "add"]))
    if action == "change":
        shape[i] = draw(dims)
    elif action == "drop":
        del shape[i]
    else:
        shape.insert(i, draw(dims))
    return tuple(shape)


@st.composite
def arguments(draw):
    """Shapes of the operands and keyword arguments: consistent, or with one fault.

    Batch, height and width may be 0 in any case; a faulty shape may hold a 0
    anywhere.
    """
    layout = draw(st.sampled_from(["channels_last", "channels_first"]))
    n, h, w = draw(dims), draw(st.integers(0, 7)), draw(st.integers(0, 7))
    c, kh, kw, dm, f = (draw(st.integers(1, 4)) for _ in range(5))
    shapes = {
        "x": (n, c, h, w) if layout == "channels_first" else (n, h, w, c),
        "depthwise_kernel": (kh, kw, c, dm),
        "pointwise_kernel": draw(st.sampled_from([(c * dm, f), (1, 1, c * dm, f)])),
        "bias": draw(st.sampled_from([None, (f,)])),
    }
    kwargs = {
        "strides": draw(good_pairs),
        "dilation_rate": draw(good_pairs),
        "padding": draw(st.sampled_from(["same", "valid", "SAME"])),
        "data_format": layout,
        "n_threads": draw(st.sampled_from([None, -1, 1, 2])),
    }
    fault = draw(st.sampled_from([None, *shapes, *bad_values]))
    if fault in bad_values:
        kwargs[fault] = draw(bad_values[fault])
    elif fault is not None and shapes[fault] is not None:
        shapes[fault] = draw(changed_shape(shapes[fault]))
    return shapes, kwargs


@settings(max_examples=4 * settings().max_examples)  # a few ms each
@given(arguments())
def test_random_arguments_raise_or_compute(args):
    shapes, kwargs = args
    rng = np.random.default_rng(0)
    x, dk, pk, bias = (None if s is None else rng.uniform(-1, 1, s) for s in shapes.values())
    try:
        y = sepconv.separable_conv2d(x, dk, pk, bias, **kwargs)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        event(type(exc).__name__)
        return
    event("computed")

    # it computed: then the arguments were valid, and the result must be right
    def pair(v):
        return (v, v) if isinstance(v, int) else v

    strides, dilation = pair(kwargs["strides"]), pair(kwargs["dilation_rate"])
    padding = kwargs["padding"].lower()
    x_nhwc, y_nhwc = from_layout(x, kwargs["data_format"]), from_layout(y, kwargs["data_format"])
    out_hw = [
        reference.output_size(n, k, s, d, padding)[0]
        for n, k, s, d in zip(x_nhwc.shape[1:3], dk.shape[:2], strides, dilation, strict=True)
    ]
    assert y_nhwc.shape == (x.shape[0], *out_hw, pk.shape[-1])
    if y.size:
        expected = reference.separable(x_nhwc, dk, pk, bias, strides, padding, dilation)
        assert_close(y_nhwc, expected, np.float64, dk.size + pk.size + 1)
