"""Keras files with Keras 3 alive (skipped without it): Xception both ways, our files in Keras.

- ``keras.applications.Xception(weights=None)`` saved as ``.keras`` and as
  legacy ``.h5``: every SeparableConv2D is loaded by sepconv and gives
  Keras's output on its real input (taken from a Keras model whose outputs
  are those layers' inputs).
- ``SeparableConv2D.save_weights`` files are read by Keras 3's
  ``load_weights`` into the matching Sequential, which gives our outputs;
  ``save_keras_model`` archives by ``keras.models.load_model``.
"""

import os

import numpy as np
import pytest

pytest.importorskip("h5py")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
if not keras.__version__.startswith("3."):
    pytest.skip("needs Keras 3", allow_module_level=True)

import sepconv  # noqa: E402

# Xception's smallest input; one image keeps the forward pass short on two cores.
XCEPTION_INPUT = (1, 71, 71, 3)


@pytest.fixture(scope="module")
def xception_inputs():
    """Xception, and each SeparableConv2D's name with its input and Keras's output."""
    keras.utils.set_random_seed(14)
    model = keras.applications.Xception(weights=None, input_shape=XCEPTION_INPUT[1:])
    separable = [layer for layer in model.layers if isinstance(layer, keras.layers.SeparableConv2D)]
    probe = keras.Model(model.input, [layer.input for layer in separable])
    image = np.random.default_rng(14).standard_normal(XCEPTION_INPUT).astype("float32")
    inputs = [keras.ops.convert_to_numpy(x) for x in probe(image)]
    cases = [
        (layer.name, x, keras.ops.convert_to_numpy(layer(x)), layer.get_weights())
        for layer, x in zip(separable, inputs, strict=True)
    ]
    return model, cases


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_xception_every_separable_layer(xception_inputs, suffix, tmp_path):
    model, cases = xception_inputs
    path = tmp_path / f"xception{suffix}"
    model.save(path)
    layers = sepconv.load_keras_layers(path)
    assert list(layers) == [name for name, *_ in cases]
    assert {cls for _, cls in layers.skipped} >= {"Conv2D", "BatchNormalization", "Add"}
    for name, x, expected, weights in cases:
        for got, want in zip(layers[name].weights, weights, strict=True):
            np.testing.assert_array_equal(got, want)
        got = layers[name](x)
        scale = np.abs(expected).max()
        assert np.abs(got - expected).max() <= 1e-5 * scale, name


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        (dict(filters=4, kernel_size=3, depth_multiplier=2, padding="same"), (2, 7, 6, 3)),
        (
            dict(filters=3, kernel_size=(2, 3), use_bias=False, activation="relu", strides=2),
            (1, 8, 9, 2),
        ),
        (
            dict(
                filters=2,
                kernel_size=2,
                data_format="channels_first",
                dtype="float64",
                bias_initializer="random_normal",
            ),
            (2, 3, 5, 6),
        ),
    ],
)
def test_our_file_in_keras(kwargs, shape, tmp_path):
    ours = sepconv.SeparableConv2D(**kwargs, name="mine")
    x = np.random.default_rng(3).standard_normal(shape).astype(ours.dtype)
    expected = ours(x)
    path = tmp_path / "mine.weights.h5"
    ours.save_weights(path)
    theirs = keras.Sequential(
        [
            keras.Input(shape[1:], dtype=ours.dtype),
            keras.layers.SeparableConv2D(**ours.get_config()),
        ]
    )
    theirs.load_weights(path)
    got = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(
        got,
        expected,
        rtol=1e-5 if ours.dtype == "float32" else 1e-12,
        atol=1e-6 if ours.dtype == "float32" else 1e-13,
    )


def test_keras_file_in_ours(tmp_path):
    theirs = keras.Sequential(
        [
            keras.Input((6, 5, 4)),
            keras.layers.SeparableConv2D(
                3, 2, depth_multiplier=3, bias_initializer="random_normal"
            ),
        ]
    )
    path = tmp_path / "theirs.weights.h5"
    theirs.save_weights(path)
    ours = sepconv.SeparableConv2D.from_config(theirs.layers[0].get_config())
    ours.load_weights(path)
    x = np.random.default_rng(4).standard_normal((2, 6, 5, 4)).astype("float32")
    np.testing.assert_allclose(ours(x), keras.ops.convert_to_numpy(theirs(x)), rtol=1e-5, atol=1e-6)


# Keras 3.15.1 on TensorFlow's CPU kernels gets channels_first with strides wrong
# for some shapes (an input of 6x5, kernel 2, strides 2 differs from the same data
# in channels_last by 0.03, where sepconv agrees with channels_last), so the
# channels_first chain keeps strides 1.
@pytest.mark.parametrize(
    "dtype, data_format, strides",
    [("float32", "channels_last", 2), ("float64", "channels_first", 1)],
)
def test_our_archive_in_keras(dtype, data_format, strides, tmp_path):
    common = dict(dtype=dtype, data_format=data_format, bias_initializer="random_normal")
    ours = [
        sepconv.SeparableConv2D(
            4, 3, depth_multiplier=2, padding="same", activation="relu", name="a", **common
        ),
        sepconv.SeparableConv2D(3, 2, use_bias=False, name="b", **common),
        sepconv.SeparableConv2D(2, 2, strides=strides, name="c", **common),
    ]
    shape = (7, 6, 3) if data_format == "channels_last" else (3, 7, 6)
    x = np.random.default_rng(5).standard_normal((2, *shape)).astype(dtype)
    expected = ours[2](ours[1](ours[0](x)))
    path = tmp_path / "ours.keras"
    sepconv.save_keras_model(ours, path, shape)
    theirs = keras.models.load_model(path)
    assert [layer.name for layer in theirs.layers] == ["a", "b", "c"]
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(theirs(x)), expected, rtol=tolerance, atol=tolerance
    )
