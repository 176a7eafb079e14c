"""SeparableConv2D configs: round trips, Keras 3 and tf.keras 2.x formats, errors.

Configs written by Keras 3 itself are checked in tests/test_layer_golden.py
(made by Keras) and tests/test_layer_keras_live.py (Keras installed).
"""

import json

import numpy as np
import pytest

from sepconv import activations, constraints, initializers, regularizers
from sepconv.layers import SeparableConv2D

SPEC_KEYS = {
    "name",
    "trainable",
    "dtype",
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "depth_multiplier",
    "activation",
    "use_bias",
    "depthwise_initializer",
    "pointwise_initializer",
    "bias_initializer",
    "depthwise_regularizer",
    "pointwise_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "depthwise_constraint",
    "pointwise_constraint",
    "bias_constraint",
}

# A SeparableConv2D config as tf.keras 2.9 writes it (``layer.get_config()``):
# objects as {"class_name", "config"}, dtype a string, and the Conv base
# class's keys groups / kernel_* leaked in, plus batch_input_shape of a first
# Sequential layer.
TF_KERAS_2_CONFIG = {
    "name": "separable_conv2d_3",
    "trainable": True,
    "batch_input_shape": [None, 9, 9, 4],
    "dtype": "float64",
    "filters": 6,
    "kernel_size": [3, 3],
    "strides": [2, 2],
    "padding": "same",
    "data_format": "channels_last",
    "dilation_rate": [1, 1],
    "groups": 1,
    "activation": "relu",
    "use_bias": True,
    "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
    "bias_initializer": {"class_name": "Zeros", "config": {}},
    "kernel_regularizer": None,
    "bias_regularizer": {"class_name": "L2", "config": {"l2": 0.001}},
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
    "depth_multiplier": 2,
    "depthwise_initializer": {
        "class_name": "RandomNormal",
        "config": {"mean": 0.0, "stddev": 0.1, "seed": 5},
    },
    "pointwise_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
    "depthwise_regularizer": {"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.0}},
    "pointwise_regularizer": None,
    "depthwise_constraint": {"class_name": "MaxNorm", "config": {"max_value": 2, "axis": 0}},
    "pointwise_constraint": None,
}

ROUND_TRIP = [
    dict(filters=2, kernel_size=3),
    dict(
        filters=4,
        kernel_size=(3, 1),
        strides=(2, 1),
        padding="same",
        data_format="channels_first",
        dilation_rate=(1, 2),
        depth_multiplier=3,
        activation="gelu",
        use_bias=False,
        dtype="float64",
        trainable=False,
        name="custom",
        depthwise_initializer=initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=3),
        pointwise_initializer="orthogonal",
        bias_initializer=initializers.Constant(0.5),
        depthwise_regularizer=regularizers.L1L2(0.1, 0.2),
        pointwise_regularizer=regularizers.OrthogonalRegularizer(0.2, "columns"),
        bias_regularizer="l2",
        activity_regularizer="l1",
        depthwise_constraint=constraints.MinMaxNorm(0.1, 0.9, 0.5, axis=[0, 1]),
        pointwise_constraint="unit_norm",
        bias_constraint="non_neg",
    ),
    dict(
        filters=1,
        kernel_size=1,
        activation="swish",
        depthwise_initializer="he_uniform",
        pointwise_initializer="lecun_normal",
    ),
]


@pytest.mark.parametrize("kwargs", ROUND_TRIP)
def test_round_trip_gives_an_equal_config(kwargs):
    config = SeparableConv2D(**kwargs).get_config()
    again = SeparableConv2D.from_config(config).get_config()
    assert again == config
    assert json.loads(json.dumps(again)) == json.loads(json.dumps(config))


def test_config_keys_and_types():
    config = SeparableConv2D(3, 2, n_threads=1).get_config()
    assert set(config) == SPEC_KEYS
    assert config["kernel_size"] == (2, 2) and isinstance(config["strides"], tuple)
    assert config["dtype"] == {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": "float32"},
        "registered_name": None,
    }
    assert config["depthwise_initializer"] == {
        "module": "keras.initializers",
        "class_name": "GlorotUniform",
        "config": {"seed": None, "input_axes": None, "output_axes": None},
        "registered_name": None,
    }
    assert config["activation"] == "linear" and config["depthwise_regularizer"] is None


def test_tf_keras_2_config_loads_and_drops_leaked_keys():
    layer = SeparableConv2D.from_config(TF_KERAS_2_CONFIG)
    assert (layer.name, layer.dtype, layer.filters, layer.strides) == (
        "separable_conv2d_3",
        "float64",
        6,
        (2, 2),
    )
    assert layer.built and layer.depthwise_kernel.shape == (3, 3, 4, 2)
    assert layer.activation is activations.relu
    assert layer.depthwise_initializer == initializers.RandomNormal(0.0, 0.1, seed=5)
    assert layer.bias_regularizer == regularizers.L2(0.001)
    assert layer.depthwise_constraint == constraints.MaxNorm(2, 0)
    config = layer.get_config()
    assert set(config) == SPEC_KEYS
    assert config["dtype"]["config"]["name"] == "float64"


def test_keras_3_object_dicts_load():
    config = SeparableConv2D(2, 2).get_config()
    config["activation"] = {
        "module": "keras.activations",
        "class_name": "function",
        "config": "hard_silu",
        "registered_name": "hard_silu",
    }
    config["dtype"] = {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": "float64"},
        "registered_name": None,
    }
    config["kernel_size"] = [2, 3]
    layer = SeparableConv2D.from_config(config)
    assert layer.activation is activations.hard_silu
    assert layer.dtype == "float64" and layer.kernel_size == (2, 3)


def test_named_custom_activation_serializes_as_a_function_dict():
    def scaled(x):
        return 2 * x

    config = SeparableConv2D(2, 2, activation=scaled).get_config()
    assert config["activation"] == {
        "module": __name__,
        "class_name": "function",
        "config": "scaled",
        "registered_name": "scaled",
    }
    assert activations.deserialize(config["activation"], {"scaled": scaled}) is scaled


def test_unknown_config_key_raises_type_error():
    config = SeparableConv2D(2, 2).get_config()
    config["kernel_sizes"] = 3
    with pytest.raises(TypeError, match="kernel_sizes"):
        SeparableConv2D.from_config(config)


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("activation", "nope", r"`activation`: Could not interpret activation identifier: 'nope'"),
        (
            "depthwise_initializer",
            {"class_name": "Glorot", "config": {}},
            r"`depthwise_initializer`.*'Glorot'",
        ),
        ("bias_regularizer", {"config": {"l2": 0.1}}, r"`bias_regularizer`.*'class_name'"),
        (
            "bias_constraint",
            {"class_name": "MaxNorm", "config": {"max_val": 1}},
            r"`bias_constraint`.*max_val",
        ),
        (
            "dtype",
            {"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}},
            r"`dtype` must be 'float32' or 'float64'",
        ),
    ],
)
def test_bad_config_values_raise_value_error(key, value, match):
    config = SeparableConv2D(2, 2).get_config()
    config[key] = value
    with pytest.raises(ValueError, match=match):
        SeparableConv2D.from_config(config)


def test_lambda_activation_cannot_be_serialized():
    with pytest.raises(ValueError, match=r"Cannot serialize activation <function"):
        SeparableConv2D(2, 2, activation=lambda x: x).get_config()


def test_custom_initializer_function_has_no_config():
    layer = SeparableConv2D(2, 2, bias_initializer=lambda shape, dtype=None: np.zeros(shape))
    with pytest.raises(ValueError, match=r"Cannot serialize initializer"):
        layer.get_config()
