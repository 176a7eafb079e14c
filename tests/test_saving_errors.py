"""Every error of sepconv.saving: its type, and a message naming the file and the problem.

Each test damages a copy of a Keras-made file of tests/data/keras_files/ in
one precise way.
"""

import json
import os
import shutil
import sys
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import sepconv  # noqa: E402
from sepconv import load_keras_layers  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras_files")
SEQUENTIAL_KERAS = os.path.join(DATA, "sequential.keras")


def _copy(tmp_path, filename):
    path = str(tmp_path / filename)
    shutil.copy(os.path.join(DATA, filename), path)
    return path


def _fails(path, *problem, config=None):
    """Load ``path``: a ValueError naming it and every fragment of ``problem``."""
    with pytest.raises(ValueError) as info:
        load_keras_layers(path, config=config)
    message = str(info.value)
    assert repr(str(path)) in message
    for fragment in problem:
        assert fragment in message
    return message


def _rezip(tmp_path, source, drop=(), replace=None):
    """A copy of archive ``source`` without the members ``drop``, some replaced."""
    path = str(tmp_path / os.path.basename(source))
    with zipfile.ZipFile(source) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n not in drop}
    members.update(replace or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


# ----------------------------------------------------------------------
# Not a Keras file at all


def test_text_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("hello")
    _fails(path, "neither a zip archive (.keras) nor an HDF5 file")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_keras_layers(tmp_path / "absent.keras")


def test_truncated_archive(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(open(SEQUENTIAL_KERAS, "rb").read()[:3000])
    _fails(path, "zip file")


def test_truncated_hdf5(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(open(os.path.join(DATA, "functional_legacy.h5"), "rb").read()[:5000])
    _fails(path, "cannot read Keras file")


# ----------------------------------------------------------------------
# .keras archives


def test_archive_without_weights(tmp_path):
    _fails(_rezip(tmp_path, SEQUENTIAL_KERAS, drop=["model.weights.h5"]), "has no model.weights.h5")


def test_archive_with_npz_weights(tmp_path):
    path = _rezip(
        tmp_path, SEQUENTIAL_KERAS, drop=["model.weights.h5"], replace={"model.weights.npz": b"PK"}
    )
    _fails(path, "npz", "pickle")


def test_archive_without_config(tmp_path):
    _fails(_rezip(tmp_path, SEQUENTIAL_KERAS, drop=["config.json"]), "has no config.json")


def test_archive_config_not_json(tmp_path):
    _fails(
        _rezip(tmp_path, SEQUENTIAL_KERAS, replace={"config.json": b"{nope"}),
        "Expecting property name",
    )


def test_archive_config_not_an_object(tmp_path):
    _fails(
        _rezip(tmp_path, SEQUENTIAL_KERAS, replace={"config.json": b"[1, 2]"}),
        "config.json holds a JSON list, not an object",
    )


def test_archive_weights_not_hdf5(tmp_path):
    _fails(
        _rezip(tmp_path, SEQUENTIAL_KERAS, replace={"model.weights.h5": b"nope" * 100}),
        "cannot read Keras file",
    )


def test_archive_member_too_large(monkeypatch):
    monkeypatch.setattr(sepconv.saving, "_MAX_MEMBER_BYTES", 100)
    _fails(SEQUENTIAL_KERAS, "the archive member config.json claims")


# ----------------------------------------------------------------------
# Model configs


def _with_config(tmp_path, edit):
    """sequential.keras with its config.json changed by ``edit`` (in place on the dict)."""
    with zipfile.ZipFile(SEQUENTIAL_KERAS) as archive:
        config = json.loads(archive.read("config.json"))
    edit(config)
    return _rezip(tmp_path, SEQUENTIAL_KERAS, replace={"config.json": json.dumps(config)})


def test_config_not_a_model_dict(tmp_path):
    _fails(
        _with_config(tmp_path, lambda c: c.pop("class_name")),
        "the model config is not a Keras {'class_name', 'config'} dict",
    )


def test_config_without_layers(tmp_path):
    _fails(
        _with_config(tmp_path, lambda c: c["config"].pop("layers")),
        "the config of model 'seq' (Sequential) has no list of layers",
    )


def test_layer_not_a_dict(tmp_path):
    _fails(
        _with_config(tmp_path, lambda c: c["config"]["layers"].append(3)),
        "a layer of model 'seq' is not a Keras",
    )


def test_layer_without_name(tmp_path):
    _fails(
        _with_config(tmp_path, lambda c: c["config"]["layers"][1]["config"].pop("name")),
        "a SeparableConv2D layer of model 'seq' has no name",
    )


def test_layer_config_unknown_key(tmp_path):
    _fails(
        _with_config(tmp_path, lambda c: c["config"]["layers"][1]["config"].update(x=1)),
        "layer 'seq_sep1' (SeparableConv2D)",
        "'x'",
    )


def test_layer_config_wrong_type(tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["dtype"]["config"] = 2.5

    _fails(_with_config(tmp_path, edit), "layer 'seq_sep1' (SeparableConv2D)")


def test_config_that_does_not_fit_the_weights(tmp_path):
    def edit(config):
        config["config"]["layers"][3]["config"]["use_bias"] = True

    _fails(
        _with_config(tmp_path, edit),
        "layer 'seq_sep2' (SeparableConv2D)",
        "expects 3 weights",
        "received 2",
    )


def test_unknown_classes_are_data(tmp_path):
    def edit(config):
        config["config"]["layers"].append(
            {"class_name": "Lambda", "config": {"name": "evil", "function": "os.system"}}
        )

    layers = load_keras_layers(_with_config(tmp_path, edit))
    assert ("evil", "Lambda") in layers.skipped


# ----------------------------------------------------------------------
# The config argument


def test_weights_only_without_config():
    _fails(os.path.join(DATA, "sequential.weights.h5"), "weights only", "config=")
    _fails(os.path.join(DATA, "sequential_tfkeras2_weights.h5"), "weights only")


@pytest.mark.parametrize(
    "config, problem",
    [
        (3, "`config` must be a config dict, its JSON text or the path"),
        ("{not json", "cannot read `config` as JSON text"),
    ],
)
def test_bad_config_argument(config, problem):
    with pytest.raises(ValueError, match="config") as info:
        load_keras_layers(os.path.join(DATA, "sequential.weights.h5"), config=config)
    assert problem in str(info.value)


def test_config_file_not_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("nope")
    with pytest.raises(ValueError, match="cannot read the model config") as info:
        load_keras_layers(os.path.join(DATA, "sequential.weights.h5"), config=path)
    assert str(path) in str(info.value)


def test_config_archive_without_config(tmp_path):
    path = _rezip(tmp_path, SEQUENTIAL_KERAS, drop=["config.json"])
    with pytest.raises(ValueError, match="has no config.json") as info:
        load_keras_layers(os.path.join(DATA, "sequential.weights.h5"), config=path)
    assert path in str(info.value)


# ----------------------------------------------------------------------
# Keras 3 weights layout


def _edit_h5(tmp_path, filename, edit):
    path = _copy(tmp_path, filename)
    with h5py.File(path, "r+") as h5:
        edit(h5)
    return path


def _fails_weights(tmp_path, edit, *problem):
    path = _edit_h5(tmp_path, "sequential.weights.h5", edit)
    return _fails(path, *problem, config=SEQUENTIAL_KERAS)


def test_missing_layer_group(tmp_path):
    _fails_weights(
        tmp_path,
        lambda h5: h5.__delitem__("layers/separable_conv2d_1"),
        "no weights for layer 'seq_sep2' (SeparableConv2D)",
        "'layers/separable_conv2d_1/vars' is missing",
    )


def test_vars_not_numbered(tmp_path):
    def edit(h5):
        h5.move("layers/separable_conv2d/vars/1", "layers/separable_conv2d/vars/x")

    _fails_weights(
        tmp_path,
        edit,
        "'/layers/separable_conv2d/vars' of layer 'seq_sep1' holds",
        "not the datasets 0, 1, ...",
    )


def test_missing_weight(tmp_path):
    _fails_weights(
        tmp_path,
        lambda h5: h5.__delitem__("layers/separable_conv2d/vars/2"),
        "layer 'seq_sep1'",
        "expects 3 weights",
        "received 2",
    )


def test_wrong_shape(tmp_path):
    def edit(h5):
        del h5["layers/separable_conv2d/vars/1"]
        h5["layers/separable_conv2d/vars/1"] = np.zeros((1, 1, 5, 4), "float32")

    _fails_weights(tmp_path, edit, "layer 'seq_sep1'", "(1, 1, 6, 4)", "(1, 1, 5, 4)")


def test_integer_weights(tmp_path):
    def edit(h5):
        del h5["layers/separable_conv2d/vars/2"]
        h5["layers/separable_conv2d/vars/2"] = np.zeros(4, "int32")

    _fails_weights(tmp_path, edit, "/layers/separable_conv2d/vars/2 holds int32 data, not floats")


def test_weight_that_is_a_group(tmp_path):
    def edit(h5):
        del h5["layers/separable_conv2d/vars/2"]
        h5.create_group("layers/separable_conv2d/vars/2")

    _fails_weights(tmp_path, edit, "/layers/separable_conv2d/vars/2 is not a dataset")


def test_vars_that_is_a_dataset(tmp_path):
    def edit(h5):
        del h5["layers/separable_conv2d/vars"]
        h5["layers/separable_conv2d/vars"] = np.zeros(3)

    _fails_weights(tmp_path, edit, "/layers/separable_conv2d/vars is not a group")


# ----------------------------------------------------------------------
# Legacy layout


def _fails_legacy(tmp_path, edit, *problem, filename="functional_tfkeras2.h5"):
    return _fails(_edit_h5(tmp_path, filename, edit), *problem)


def test_layer_not_in_layer_names(tmp_path):
    def edit(h5):
        h5["model_weights"].attrs["layer_names"] = np.array([b"func_input", b"inner"])

    _fails_legacy(
        tmp_path, edit, "layer 'func_sep1' is not in the layer_names attribute of '/model_weights'"
    )


def test_layer_names_of_numbers(tmp_path):
    _fails_legacy(
        tmp_path,
        lambda h5: h5["model_weights"].attrs.__setitem__("layer_names", np.arange(3)),
        "the attribute 'layer_names' of '/model_weights' is not text but int",
    )


def test_layer_names_not_a_list(tmp_path):
    _fails_legacy(
        tmp_path,
        lambda h5: h5["model_weights"].attrs.__setitem__("layer_names", b"func_sep1"),
        "the attribute 'layer_names' of '/model_weights' is not a list of strings",
    )


def test_missing_weight_names(tmp_path):
    _fails_legacy(
        tmp_path,
        lambda h5: h5["model_weights/func_sep1"].attrs.__delitem__("weight_names"),
        "the group '/model_weights/func_sep1' has no 'weight_names' attribute",
    )


def test_weight_names_naming_a_missing_dataset(tmp_path):
    def edit(h5):
        h5["model_weights/func_sep1"].attrs["weight_names"] = np.array([b"a/b:0"])

    _fails_legacy(tmp_path, edit, "/model_weights/func_sep1/a/b:0 is missing")


def test_missing_layer_group_legacy(tmp_path):
    _fails_legacy(
        tmp_path,
        lambda h5: h5.__delitem__("model_weights/inner"),
        "/model_weights/inner is missing",
    )


def test_nested_weight_missing(tmp_path):
    def edit(h5):
        names = [
            n
            for n in h5["model_weights/inner"].attrs["weight_names"]
            if b"inner_sep2/pointwise" not in n
        ]
        h5["model_weights/inner"].attrs["weight_names"] = np.array(names)

    _fails_legacy(tmp_path, edit, "layer 'inner_sep2'", "expects 2 weights", "received 1")


def test_model_config_of_numbers(tmp_path):
    _fails_legacy(
        tmp_path,
        lambda h5: h5.attrs.__setitem__("model_config", np.arange(2)),
        "the model_config attribute is not text but ndarray",
    )


def test_model_config_not_json(tmp_path):
    _fails_legacy(
        tmp_path, lambda h5: h5.attrs.__setitem__("model_config", b"{x"), "Expecting property name"
    )


def test_model_config_without_weights(tmp_path):
    _fails_legacy(
        tmp_path,
        lambda h5: h5.__delitem__("model_weights"),
        "a model_config attribute but no model_weights group",
    )


def test_split_attribute_missing_first_part(tmp_path):
    path = _edit_h5(
        tmp_path, "sequential_tfkeras2_weights.h5", lambda h5: h5.attrs.__delitem__("layer_names0")
    )
    # Without layer_names0 the file is no longer the legacy layout.
    _fails(path, "no weights for layer 'seq_sep1'", config=SEQUENTIAL_KERAS)


# ----------------------------------------------------------------------
# The layer's save_weights / load_weights


def _layer(**kwargs):
    return sepconv.SeparableConv2D(4, 3, depth_multiplier=2, padding="same", name="one", **kwargs)


def test_save_weights_needs_the_suffix(tmp_path):
    layer = _layer()
    layer.build((None, 6, 6, 3))
    with pytest.raises(ValueError, match=r"must end in '\.weights\.h5'.*mine\.h5"):
        layer.save_weights(tmp_path / "mine.h5")


def test_save_weights_needs_a_built_layer(tmp_path):
    with pytest.raises(ValueError, match="layer 'one' is not built yet"):
        _layer().save_weights(tmp_path / "mine.weights.h5")


def test_load_weights_of_another_shape():
    layer = _layer()
    layer.build((None, 6, 6, 5))
    path = os.path.join(DATA, "one_layer.weights.h5")
    with pytest.raises(ValueError, match="into layer 'one'") as info:
        layer.load_weights(path)
    assert path in str(info.value) and "(3, 3, 5, 2)" in str(info.value)


def test_load_weights_without_bias():
    path = os.path.join(DATA, "one_layer.weights.h5")
    with pytest.raises(ValueError, match="expects 2 weights") as info:
        _layer(use_bias=False).load_weights(path)
    assert path in str(info.value)


def test_without_h5py(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install 'sepconv\[keras-files\]'"):
        load_keras_layers(SEQUENTIAL_KERAS)


def test_in_memory_reader_overflow(monkeypatch):
    # h5py's reader of an in-memory archive member raises OverflowError for
    # offsets past 2**63; a damaged archive gives that (found by the fuzzer).
    def overflow(*args, **kwargs):
        raise OverflowError("Python int too large to convert to C ssize_t")

    monkeypatch.setattr(h5py, "File", overflow)
    _fails(SEQUENTIAL_KERAS, "Python int too large")


def test_save_keras_model_needs_the_suffix(tmp_path):
    layer = _layer()
    layer.build((None, 6, 6, 3))
    with pytest.raises(ValueError, match=r"must end in '\.keras'.*mine\.zip"):
        sepconv.save_keras_model([layer], tmp_path / "mine.zip", (6, 6, 3))


def test_save_keras_model_needs_layers(tmp_path):
    with pytest.raises(ValueError, match="`layers` is empty"):
        sepconv.save_keras_model([], tmp_path / "mine.keras", (6, 6, 3))


def test_save_keras_model_needs_built_layers(tmp_path):
    with pytest.raises(ValueError, match="layer 'one' is not built yet"):
        sepconv.save_keras_model([_layer()], tmp_path / "mine.keras", (6, 6, 3))


def test_save_keras_model_needs_a_chain(tmp_path):
    first, second = _layer(), sepconv.SeparableConv2D(2, 1, name="two")
    first.build((None, 6, 6, 3))
    second.build((None, 6, 6, 5))
    with pytest.raises(ValueError, match="layer 'two' was built for inputs with 5 channels"):
        sepconv.save_keras_model([first, second], tmp_path / "mine.keras", (6, 6, 3))
    assert not os.path.exists(tmp_path / "mine.keras")
