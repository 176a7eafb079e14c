"""sepconv.load_keras_layers and the layer's save_weights/load_weights against Keras-made files.

The files in tests/data/keras_files/ were written by Keras 3.15 (and, in
tf.keras 2.x's layout, by h5py, checked by Keras 3's loader) with
tests/data/make_keras_files.py; expected.npz holds Keras's weights and
outputs, expected.json the layer names Keras reports.  No Keras is needed here.
"""

import json
import os
import pathlib
import zipfile

import numpy as np
import pytest

pytest.importorskip("h5py")

import sepconv  # noqa: E402
from sepconv import load_keras_layers  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras_files")
with open(os.path.join(DATA, "expected.json")) as _file:
    EXPECTED = json.load(_file)
ARRAYS = dict(np.load(os.path.join(DATA, "expected.npz")))


def _archive_config(model):
    with zipfile.ZipFile(os.path.join(DATA, f"{model}.keras")) as archive:
        return archive.read("config.json").decode()


# (file, model, how the config is given: None, "path", "dict" or "text")
FILES = [
    ("sequential.keras", "sequential", None),
    ("sequential.weights.h5", "sequential", "path"),
    ("sequential_legacy.h5", "sequential", None),
    ("sequential_tfkeras2_weights.h5", "sequential", "path"),
    ("functional.keras", "functional", None),
    ("functional.weights.h5", "functional", "dict"),
    ("functional_legacy.h5", "functional", None),
    ("functional_tfkeras2.h5", "functional", None),
    ("functional_tfkeras2.h5", "functional", "text"),
]


def _config(model, how):
    if how == "path":
        return os.path.join(DATA, f"{model}.keras")
    if how == "dict":
        return json.loads(_archive_config(model))
    return None if how is None else _archive_config(model)


@pytest.mark.parametrize("filename, model, how", FILES)
def test_layers_match_keras(filename, model, how):
    layers = load_keras_layers(os.path.join(DATA, filename), config=_config(model, how))
    assert isinstance(layers, dict)
    assert list(layers) == EXPECTED[model]["loaded"]
    assert layers.skipped == [tuple(s) for s in EXPECTED[model]["skipped"]]
    for name, layer in layers.items():
        assert isinstance(layer, sepconv.SeparableConv2D) and layer.built
        expected_weights = [ARRAYS[f"{name}/w{i}"] for i in range(3) if f"{name}/w{i}" in ARRAYS]
        assert len(layer.weights) == len(expected_weights)
        for got, want in zip(layer.weights, expected_weights, strict=True):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(
            layer(ARRAYS[f"{name}/x"]), ARRAYS[f"{name}/y"], rtol=1e-5, atol=1e-5
        )


def test_configs_are_read():
    layers = load_keras_layers(os.path.join(DATA, "functional_tfkeras2.h5"))
    assert layers["func_sep_cf"].data_format == "channels_first"
    assert layers["func_sep_cf"].strides == (2, 2)
    assert layers["func_sep1"].depth_multiplier == 3
    assert layers["inner_sep2"].use_bias is False
    assert layers["inner_sep2"].activation is sepconv.activations.tanh


def test_archive_and_legacy_file_give_the_same_configs():
    a = load_keras_layers(pathlib.Path(DATA) / "sequential.keras")
    b = load_keras_layers(os.path.join(DATA, "sequential_legacy.h5"))
    assert [layer.get_config() for layer in a.values()] == [
        layer.get_config() for layer in b.values()
    ]


def test_tf_keras_2_13_container_name(tmp_path):
    # tf.keras 2.13-2.15 .keras files name a model's layers "_layer_checkpoint_dependencies".
    import h5py

    path = str(tmp_path / "old.weights.h5")
    with (
        h5py.File(os.path.join(DATA, "functional.weights.h5")) as source,
        h5py.File(path, "w") as copy,
    ):
        source.copy("layers", copy, name="_layer_checkpoint_dependencies")
        copy.move(
            "_layer_checkpoint_dependencies/sequential/layers",
            "_layer_checkpoint_dependencies/sequential/_layer_checkpoint_dependencies",
        )
    layers = load_keras_layers(path, config=os.path.join(DATA, "functional.keras"))
    assert list(layers) == EXPECTED["functional"]["loaded"]
    np.testing.assert_array_equal(layers["inner_sep2"].weights[1], ARRAYS["inner_sep2/w1"])


@pytest.mark.parametrize("filename", ["sequential.weights.h5", "sequential_legacy.h5"])
def test_alias_class_name(filename):
    # The alias is the same class, so Keras 3's group is still separable_conv2d.
    config = json.loads(_archive_config("sequential"))
    config["config"]["layers"][3]["class_name"] = "SeparableConvolution2D"
    layers = load_keras_layers(os.path.join(DATA, filename), config=config)
    assert list(layers) == EXPECTED["sequential"]["loaded"]
    np.testing.assert_array_equal(layers["seq_sep2"].weights[0], ARRAYS["seq_sep2/w0"])


def test_config_from_a_json_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(_archive_config("sequential"))
    layers = load_keras_layers(os.path.join(DATA, "sequential.weights.h5"), config=path)
    assert list(layers) == EXPECTED["sequential"]["loaded"]


def test_save_weights_round_trip(tmp_path):
    layer = sepconv.SeparableConv2D(3, 2, depth_multiplier=2, name="mine")
    layer.build((None, 5, 5, 4))
    path = tmp_path / "mine.weights.h5"
    layer.save_weights(path)
    again = sepconv.SeparableConv2D(3, 2, depth_multiplier=2, name="mine")
    again.load_weights(path)
    for a, b in zip(layer.weights, again.weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_save_keras_model_reads_back(tmp_path):
    # Keras's reading of these archives is tested live (test_saving_keras_live.py).
    layers = load_keras_layers(os.path.join(DATA, "sequential.keras"))
    path = tmp_path / "again.keras"
    sepconv.save_keras_model([layers["seq_sep1"], layers["seq_sep2"]], path, (9, 8, 3))
    again = load_keras_layers(path)
    assert list(again) == ["seq_sep1", "seq_sep2"]
    assert again.skipped == [("input_layer", "InputLayer")]
    for name in again:
        for a, b in zip(again[name].weights, layers[name].weights, strict=True):
            np.testing.assert_array_equal(a, b)


def test_load_weights_reads_what_keras_writes_for_a_one_layer_sequential():
    # Keras 3.15 wrote keras_files/one_layer.weights.h5 and one_layer.keras for
    # Sequential([Input((6, 6, 3)), SeparableConv2D(**config)]).
    config = json.loads(EXPECTED["one_layer"]["config"])
    for filename in ("one_layer.weights.h5", "one_layer.keras"):
        layer = sepconv.SeparableConv2D.from_config(config)
        layer.load_weights(os.path.join(DATA, filename))
        np.testing.assert_allclose(
            layer(ARRAYS["one_layer/x"]), ARRAYS["one_layer/y"], rtol=1e-5, atol=1e-6
        )
