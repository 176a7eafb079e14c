"""Make the training-parity golden files in tests/data/training/.

Run from the repository root with a Python that has Keras 3 (TensorFlow
backend):

    python tests/data/make_training_golden.py

For every case a single Keras ``SeparableConv2D`` (regularizers, an activity
regularizer, MaxNorm constraints) is trained for a few steps on a mean
squared error loss plus ``sum(layer.losses)``, with ``tf.GradientTape`` and
a Keras optimizer (SGD with Nesterov momentum, Adam with amsgrad, ...).  The
script stores the input, the target, the initial and the final weights and
the loss at each step; cases.json states the versions.
tests/test_training_golden.py trains sepconv from the same start without
Keras, and test_training_keras_live.py repeats this script's training live.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "training")

_REGULARIZED = dict(
    depthwise_regularizer={"class_name": "L2", "config": {"l2": 0.01}},
    pointwise_regularizer={"class_name": "L1", "config": {"l1": 0.001}},
    bias_regularizer={"class_name": "L1L2", "config": {"l1": 0.001, "l2": 0.002}},
    activity_regularizer={"class_name": "L2", "config": {"l2": 0.001}},
    depthwise_constraint={"class_name": "MaxNorm", "config": {"max_value": 0.6, "axis": [0, 1, 2]}},
    pointwise_constraint={"class_name": "MaxNorm", "config": {"max_value": 0.8}},
    bias_initializer={"class_name": "RandomNormal", "config": {"stddev": 0.1}},
)

# name: (input shape, dtype, layer keywords, optimizer config, steps)
CASES = {
    "sgd_nesterov_relu_f32": (
        (4, 9, 8, 3),
        "float32",
        dict(
            filters=4,
            kernel_size=3,
            padding="same",
            depth_multiplier=2,
            activation="relu",
            **_REGULARIZED,
        ),
        {"class_name": "SGD", "config": {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}},
        12,
    ),
    "adam_amsgrad_tanh_f64": (
        (3, 10, 9, 2),
        "float64",
        dict(
            filters=3,
            kernel_size=(3, 2),
            strides=2,
            padding="same",
            depth_multiplier=3,
            activation="tanh",
            **_REGULARIZED,
        ),
        {"class_name": "Adam", "config": {"learning_rate": 0.02, "amsgrad": True}},
        12,
    ),
    "sgd_nesterov_stride_dilation_f64": (
        (2, 13, 11, 3),
        "float64",
        dict(
            filters=5,
            kernel_size=3,
            strides=(2, 1),
            dilation_rate=(1, 2),
            activation="relu",
            **_REGULARIZED,
        ),
        {"class_name": "SGD", "config": {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}},
        12,
    ),
    "adam_amsgrad_relu_f32": (
        (4, 8, 8, 4),
        "float32",
        dict(filters=6, kernel_size=3, activation="relu", **_REGULARIZED),
        {"class_name": "Adam", "config": {"learning_rate": 0.01, "amsgrad": True}},
        12,
    ),
}


def case_data(name):
    """The input, target and initial weights of a case (seeded by its name)."""
    import keras

    shape, dtype, kwargs, _, _ = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    keras.utils.set_random_seed(sum(map(ord, name)))
    layer = keras.layers.SeparableConv2D(dtype=dtype, **kwargs)
    x = rng.standard_normal(shape).astype(dtype)
    y = np.asarray(layer(x))
    target = rng.standard_normal(y.shape).astype(dtype)
    return x, target, layer.get_weights()


def keras_train(name, x, target, weights):
    """Train the case's Keras layer from ``weights``; return final weights and losses."""
    import keras
    import tensorflow as tf

    shape, dtype, kwargs, optimizer, steps = CASES[name]
    layer = keras.layers.SeparableConv2D(dtype=dtype, **kwargs)
    layer.build(shape)
    layer.set_weights(weights)
    opt = keras.optimizers.get(optimizer)
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            y = layer(x, training=True)
            loss = tf.reduce_mean(tf.square(y - target)) + tf.add_n(layer.losses)
        grads = tape.gradient(loss, layer.trainable_weights)
        opt.apply(grads, layer.trainable_weights)  # then the variables' constraints
        losses.append(float(loss))
    return layer.get_weights(), losses


def main():
    import keras
    import tensorflow as tf

    os.makedirs(HERE, exist_ok=True)
    arrays, cases = {}, {}
    for name, (_, dtype, kwargs, optimizer, steps) in CASES.items():
        x, target, weights = case_data(name)
        final, losses = keras_train(name, x, target, weights)
        arrays.update({f"{name}/x": x, f"{name}/target": target})
        arrays.update({f"{name}/w{i}": w for i, w in enumerate(weights)})
        arrays.update({f"{name}/final{i}": w for i, w in enumerate(final)})
        layer = keras.layers.SeparableConv2D(dtype=dtype, **kwargs)
        layer.build(x.shape)
        cases[name] = {
            "layer": layer.get_config(),
            "optimizer": optimizer,
            "steps": steps,
            "losses": losses,
        }
    versions = {module.__name__: module.__version__ for module in (keras, tf, np)}
    meta = {
        "versions": dict(versions, python=sys.version.split()[0], backend=keras.backend.backend()),
        "cases": cases,
    }
    with open(os.path.join(HERE, "cases.json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
    np.savez_compressed(os.path.join(HERE, "arrays.npz"), **arrays)


if __name__ == "__main__":
    main()
