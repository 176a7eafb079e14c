"""Make the Keras model files of tests/data/keras_files/ that tests/test_saving.py reads.

Run from the repository root with a Python that has Keras 3 (TensorFlow
backend) and h5py:

    python tests/data/make_keras_files.py

Made with Keras 3.15 on TensorFlow (tensorflow-cpu); the versions are written
into expected.json.  Two models, each with several SeparableConv2D layers:

- ``sequential``: three SeparableConv2D layers (depth multiplier 2 with bias,
  no bias, one channels_first) around a BatchNormalization;
- ``functional``: a SeparableConv2D (depth multiplier 3), a nested Sequential
  holding two more (one without bias) and a BatchNormalization, a channels_first
  one and a Conv2D.

Files written by Keras 3 itself: ``<model>.keras``, ``<model>.weights.h5``
and ``<model>_legacy.h5`` (Keras 3's legacy writer).  Files in tf.keras 2.x's
layout, which no installable Keras writes any more, are written here with h5py
as tf.keras 2.x's ``hdf5_format.py`` did, and then read back by Keras 3's own
``load_weights`` (which reads that layout) to prove them right:

- ``functional_tfkeras2.h5``: a full model, ``model_config`` in tf.keras
  2.x's dialect, string attributes as fixed-length bytes (h5py 2);
- ``sequential_tfkeras2_weights.h5``: ``save_weights`` at the root, string
  attributes as variable-length str (h5py 3), ``layer_names`` split into
  ``layer_names0``/``layer_names1`` as Keras does for long attributes.

expected.npz holds, for each SeparableConv2D, Keras's weights and its output
on a random input; expected.json the layer names in model order and the
skipped layers, read from the Keras model objects.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_files")
RNG = np.random.default_rng(14)


def sequential_model():
    return keras.Sequential(
        [
            keras.Input((9, 8, 3), name="seq_input"),
            keras.layers.SeparableConv2D(
                4,
                3,
                padding="same",
                depth_multiplier=2,
                activation="relu",
                bias_initializer="random_normal",
                name="seq_sep1",
            ),
            keras.layers.BatchNormalization(name="seq_bn"),
            keras.layers.SeparableConv2D(5, (2, 3), use_bias=False, name="seq_sep2"),
            # (N, 8, 6, 5) read as channels_first: 8 channels of 6x5.
            keras.layers.SeparableConv2D(
                3,
                2,
                data_format="channels_first",
                depth_multiplier=2,
                bias_initializer="random_normal",
                name="seq_sep3_cf",
            ),
        ],
        name="seq",
    )


def functional_model():
    inner = keras.Sequential(
        [
            keras.Input((8, 8, 6)),
            keras.layers.SeparableConv2D(
                4,
                3,
                padding="same",
                depth_multiplier=2,
                bias_initializer="random_normal",
                name="inner_sep1",
            ),
            keras.layers.BatchNormalization(name="inner_bn"),
            keras.layers.SeparableConv2D(
                3, 1, use_bias=False, activation="tanh", name="inner_sep2"
            ),
        ],
        name="inner",
    )
    inputs = keras.Input((10, 10, 4), name="func_input")
    x = keras.layers.SeparableConv2D(
        6, 3, depth_multiplier=3, bias_initializer="random_normal", name="func_sep1"
    )(inputs)
    a = keras.layers.Conv2D(2, 1, name="func_conv")(inner(x))
    b = keras.layers.SeparableConv2D(
        2,
        (3, 2),
        strides=2,
        data_format="channels_first",
        bias_initializer="random_normal",
        name="func_sep_cf",
    )(x)
    return keras.Model(inputs, [a, b], name="functional_model")


def randomize(model):
    """Random values for every weight (BatchNormalization's statistics too)."""
    for weight in model.weights:
        weight.assign(RNG.standard_normal(weight.shape).astype("float32") * 0.5 + 0.1)


def leaf_layers(model):
    """The leaf layers of ``model`` in config order (a Sequential's InputLayer included)."""
    layers = model._layers if isinstance(model, keras.Sequential) else model.layers
    for layer in layers:
        if isinstance(layer, keras.Model):
            yield from leaf_layers(layer)
        else:
            yield layer


def expected_of(model, arrays):
    """Names in model order and skipped layers; each SeparableConv2D's weights and output."""
    loaded, skipped = [], []
    for layer in leaf_layers(model):
        if not isinstance(layer, keras.layers.SeparableConv2D):
            skipped.append([layer.name, type(layer).__name__])
            continue
        loaded.append(layer.name)
        x = RNG.standard_normal((2, *layer.input.shape[1:])).astype("float32")
        arrays[f"{layer.name}/x"] = x
        arrays[f"{layer.name}/y"] = keras.ops.convert_to_numpy(layer(x))
        for i, w in enumerate(layer.get_weights()):
            arrays[f"{layer.name}/w{i}"] = w
    return {"loaded": loaded, "skipped": skipped}


# ----------------------------------------------------------------------
# tf.keras 2.x's layout, written with h5py


def tf2_object(value):
    """A Keras 3 serialized object as tf.keras 2.x wrote it: {"class_name", "config"}."""
    if isinstance(value, dict) and "class_name" in value:
        if value["class_name"] in ("DTypePolicy", "FloatDTypePolicy"):
            return value["config"]["name"]
        return {"class_name": value["class_name"], "config": tf2_object(value["config"])}
    if isinstance(value, dict):
        return {k: tf2_object(v) for k, v in value.items()}
    return value


def tf2_layer_config(layer_dict):
    """One entry of a model's "layers" list in tf.keras 2.x's dialect."""
    class_name, config = layer_dict["class_name"], tf2_object(layer_dict["config"])
    if class_name == "InputLayer":
        config = {
            "batch_input_shape": config["batch_shape"],
            "dtype": config["dtype"],
            "sparse": False,
            "ragged": False,
            "name": config["name"],
        }
    if class_name == "SeparableConv2D":
        # The keys tf.keras 2.x leaked from its Conv base class.
        config.update(
            groups=1,
            kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}},
            kernel_regularizer=None,
            kernel_constraint=None,
        )
    if class_name in ("Sequential", "Functional"):
        config = dict(config, layers=[tf2_layer_config(d) for d in config["layers"]])
    entry = {"class_name": class_name, "config": config}
    if "inbound_nodes" in layer_dict:
        entry["name"] = layer_dict["name"]
        entry["inbound_nodes"] = [tf2_node(node) for node in layer_dict["inbound_nodes"]]
    return entry


def tf2_node(node):
    tensors = node["args"][0] if isinstance(node["args"][0], list) else node["args"][:1]
    return [[*t["config"]["keras_history"], {}] for t in tensors]


def tf2_weight_names(layer):
    """tf.keras 2.x's names of a layer's weights, trainable ones first, as it saved them."""
    weights = layer.trainable_weights + layer.non_trainable_weights
    # tf.keras 2.x named a variable "<layer>/<weight>:0"; Keras 3's path may add the model.
    names = ["/".join(w.path.split("/")[-2:]) + ":0" for w in weights]
    return [n.encode() for n in names], [w.numpy() for w in weights]


def write_tf2_weights(root, model, as_bytes):
    """tf.keras 2.x's ``save_weights_to_hdf5_group`` into ``root``."""
    text = (lambda s: s.encode()) if as_bytes else (lambda s: s)
    names = [text(layer.name) for layer in model.layers]
    if as_bytes:
        root.attrs["layer_names"] = np.array(names)
    else:
        # Keras splits an attribute over 64 KB into numbered parts; split this one too.
        half = len(names) // 2
        root.attrs["layer_names0"] = np.array(names[:half], dtype=h5py.string_dtype())
        root.attrs["layer_names1"] = np.array(names[half:], dtype=h5py.string_dtype())
    root.attrs["backend"] = text("tensorflow")
    root.attrs["keras_version"] = text("2.14.0")
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        group = root.create_group(layer.name)
        weight_names, values = tf2_weight_names(layer)
        if as_bytes:
            group.attrs["weight_names"] = np.array(weight_names) if weight_names else np.array([])
        else:
            group.attrs["weight_names"] = np.array(
                [n.decode() for n in weight_names], dtype=h5py.string_dtype()
            )
        for name, value in zip(weight_names, values, strict=True):
            group.create_dataset(name.decode(), data=value)


def write_tf2_full_model(model, path):
    config = {
        "class_name": "Functional",
        "config": dict(
            model.get_config(), layers=[tf2_layer_config(d) for d in model.get_config()["layers"]]
        ),
    }
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.14.0"
        f.attrs["model_config"] = json.dumps(config).encode()
        write_tf2_weights(f.create_group("model_weights"), model, as_bytes=True)


def check_with_keras(make_model, path, original):
    """Keras 3's load_weights reads ``path`` into a fresh model: the weights must be ours."""
    fresh = make_model()
    fresh.load_weights(path)
    for a, b in zip(fresh.weights, original.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{path}: {b.path}")


def write_one_layer(arrays):
    """The Sequential that SeparableConv2D.load_weights reads: one layer after the Input."""
    layer = keras.layers.SeparableConv2D(
        4, 3, depth_multiplier=2, padding="same", bias_initializer="random_normal", name="one"
    )
    model = keras.Sequential([keras.Input((6, 6, 3)), layer])
    randomize(model)
    model.save_weights(os.path.join(HERE, "one_layer.weights.h5"))
    model.save(os.path.join(HERE, "one_layer.keras"))
    x = RNG.standard_normal((2, 6, 6, 3)).astype("float32")
    arrays["one_layer/x"] = x
    arrays["one_layer/y"] = keras.ops.convert_to_numpy(model(x))
    return {"config": json.dumps(layer.get_config())}


def main():
    os.makedirs(HERE, exist_ok=True)
    arrays, expected = (
        {},
        {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "h5py": h5py.__version__,
            "numpy": np.__version__,
        },
    )
    for name, make_model in (("sequential", sequential_model), ("functional", functional_model)):
        model = make_model()
        randomize(model)
        expected[name] = expected_of(model, arrays)
        model.save(os.path.join(HERE, f"{name}.keras"))
        model.save_weights(os.path.join(HERE, f"{name}.weights.h5"))
        model.save(os.path.join(HERE, f"{name}_legacy.h5"))
        if name == "functional":
            write_tf2_full_model(model, os.path.join(HERE, "functional_tfkeras2.h5"))
            check_with_keras(make_model, os.path.join(HERE, "functional_tfkeras2.h5"), model)
        else:
            path = os.path.join(HERE, "sequential_tfkeras2_weights.h5")
            with h5py.File(path, "w") as f:
                write_tf2_weights(f, model, as_bytes=False)
            check_with_keras(make_model, path, model)
    expected["one_layer"] = write_one_layer(arrays)
    np.savez_compressed(os.path.join(HERE, "expected.npz"), **arrays)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print("wrote", sorted(os.listdir(HERE)), file=sys.stderr)


if __name__ == "__main__":
    main()
