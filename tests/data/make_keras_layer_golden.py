"""Make the Keras SeparableConv2D golden files in tests/data/keras_layer/.

Run from the repository root with a Python that has Keras 3 (TensorFlow
backend):

    /work/venvs/dev/bin/python tests/data/make_keras_layer_golden.py

Made with Keras 3.15.1 on TensorFlow 2.21 (tensorflow-cpu), NumPy 2.x; the
exact versions are written into cases.json.  For every case the script
stores the input, Keras's weights, output, losses, the weights after Keras's
constraints, and Keras's ``get_config()``.  tests/test_layer_golden.py reads
these files without Keras.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_layer")

# name: (input shape, dtype, constructor keywords)
CASES = {
    "valid_relu": ((2, 7, 6, 3), "float32", dict(filters=4, kernel_size=3, activation="relu")),
    "same_stride2_dm2": (
        (2, 7, 8, 3),
        "float32",
        dict(filters=5, kernel_size=(3, 2), strides=2, padding="same", depth_multiplier=2),
    ),
    "same_stride_dilation": (
        (1, 9, 10, 2),
        "float32",
        dict(filters=3, kernel_size=3, strides=(2, 3), padding="same", dilation_rate=2),
    ),
    "valid_stride_dilation": (
        (2, 11, 9, 2),
        "float64",
        dict(filters=2, kernel_size=(2, 3), strides=2, dilation_rate=(3, 2), activation="tanh"),
    ),
    "valid_dilation_dm3_f64": (
        (2, 8, 9, 2),
        "float64",
        dict(
            filters=3,
            kernel_size=(3, 2),
            dilation_rate=(2, 3),
            depth_multiplier=3,
            activation="elu",
        ),
    ),
    "same_even_kernel_nobias": (
        (2, 6, 5, 4),
        "float32",
        dict(filters=2, kernel_size=4, padding="same", use_bias=False, activation="sigmoid"),
    ),
    "nobias_f64_swish": (
        (1, 6, 6, 3),
        "float64",
        dict(filters=3, kernel_size=2, use_bias=False, activation="swish"),
    ),
    "softmax": ((2, 5, 5, 3), "float32", dict(filters=4, kernel_size=2, activation="softmax")),
    "log_softmax_f64": (
        (2, 5, 5, 3),
        "float64",
        dict(filters=4, kernel_size=2, activation="log_softmax"),
    ),
    "gelu": ((2, 5, 5, 2), "float32", dict(filters=3, kernel_size=2, activation="gelu")),
    "selu_f64": ((2, 5, 5, 2), "float64", dict(filters=3, kernel_size=2, activation="selu")),
    "misc_activations": ((1, 5, 5, 2), "float32", dict(filters=3, kernel_size=2)),
    "losses_f32": (
        (3, 6, 6, 3),
        "float32",
        dict(
            filters=4,
            kernel_size=3,
            depth_multiplier=2,
            depthwise_regularizer={"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.02}},
            pointwise_regularizer="l2",
            bias_regularizer="l1",
            bias_initializer={
                "class_name": "RandomUniform",
                "config": {"minval": -0.5, "maxval": 0.5},
            },
            activity_regularizer="l1",
            depthwise_constraint={
                "class_name": "MaxNorm",
                "config": {"max_value": 0.3, "axis": [0, 1, 2]},
            },
            pointwise_constraint="unit_norm",
            bias_constraint="non_neg",
        ),
    ),
    "losses_f64": (
        (2, 6, 5, 2),
        "float64",
        dict(
            filters=3,
            kernel_size=2,
            depthwise_regularizer="l1",
            pointwise_regularizer="l1l2",
            bias_regularizer="l2",
            activity_regularizer="l2",
            bias_initializer="random_normal",
            depthwise_constraint={
                "class_name": "MinMaxNorm",
                "config": {"min_value": 0.2, "max_value": 0.4, "rate": 0.7, "axis": 0},
            },
            pointwise_constraint="max_norm",
            bias_constraint={"class_name": "MaxNorm", "config": {"max_value": 0.1}},
        ),
    ),
    "orthogonal_init": (
        (1, 5, 5, 3),
        "float32",
        dict(
            filters=4,
            kernel_size=2,
            depthwise_initializer="he_normal",
            pointwise_initializer={"class_name": "Orthogonal", "config": {"gain": 1.5, "seed": 7}},
            bias_initializer={"class_name": "Constant", "config": {"value": 0.25}},
        ),
    ),
}

# Activations applied by Keras to the "misc_activations" pre-activation output.
MISC_ACTIVATIONS = [
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "celu",
    "softplus",
    "softsign",
    "squareplus",
    "soft_shrink",
    "sparse_plus",
    "silu",
    "tanh_shrink",
    "hard_tanh",
    "hard_shrink",
    "sigmoid",
    "sparse_sigmoid",
    "exponential",
    "hard_sigmoid",
    "hard_silu",
    "mish",
    "log_sigmoid",
    "sparsemax",
    "tanh",
    "selu",
    "gelu",
]


def _case(name, input_shape, dtype, kwargs, rng):
    layer = keras.layers.SeparableConv2D(name=name, dtype=dtype, **kwargs)
    x = rng.standard_normal(input_shape).astype(dtype)
    y = np.asarray(layer(x))
    weights = layer.get_weights()
    arrays = {"x": x, "y": y}
    arrays.update({f"w{i}": w for i, w in enumerate(weights)})
    losses = [float(v) for v in layer.losses]
    for variable, key in zip(layer.weights, ("c0", "c1", "c2"), strict=True):
        if variable.constraint is not None:
            arrays[key] = np.asarray(variable.constraint(variable.value))
    if name == "misc_activations":
        for act in MISC_ACTIVATIONS:
            arrays[f"act_{act}"] = np.asarray(keras.activations.get(act)(y))
    meta = {"config": layer.get_config(), "losses": losses}
    return arrays, meta


def main():
    os.makedirs(HERE, exist_ok=True)
    rng = np.random.default_rng(20240605)
    keras.utils.set_random_seed(1234)
    cases, arrays = {}, {}
    for name, (shape, dtype, kwargs) in CASES.items():
        case_arrays, cases[name] = _case(name, shape, dtype, kwargs, rng)
        arrays.update({f"{name}/{k}": v for k, v in case_arrays.items()})
    import tensorflow as tf

    meta = {
        "versions": {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
            "backend": keras.backend.backend(),
        },
        "misc_activations": MISC_ACTIVATIONS,
        "cases": cases,
    }
    with open(os.path.join(HERE, "cases.json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
    np.savez_compressed(os.path.join(HERE, "arrays.npz"), **arrays)


if __name__ == "__main__":
    main()
