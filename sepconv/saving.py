"""Keras model files in and out, without TensorFlow.

:func:`load_keras_layers` reads every ``SeparableConv2D`` layer of a Keras
model file into built sepconv layers; :func:`save_layer_weights` and
:func:`load_layer_weights` (behind ``SeparableConv2D.save_weights`` and
``load_weights``) write and read the Keras 3 ``.weights.h5`` file of one
layer; :func:`save_keras_model` writes a ``.keras`` archive of a Sequential
model of sepconv layers.  Only h5py (the ``keras-files`` extra, imported on first use), NumPy
and the standard library are used.

Nothing in a file is executed: configs are read as JSON data (a class that
is not ``SeparableConv2D`` is only listed as skipped), zip members other than
the config and the weights are never opened, and weights archived as npz
(Keras stores them as pickled dicts) are refused.

The layouts, as Keras's saving code writes them:

- ``.keras``: a zip of ``config.json`` and ``model.weights.h5``.  In the
  HDF5 file a layer's weights are the datasets ``<path>/vars/0``, ``1``, ...
  where ``<path>`` follows the models' ``layers`` lists, each layer named by
  its snake_case class (``separable_conv2d``, ``separable_conv2d_1``, ...),
  not by its name.  tf.keras 2.13-2.15 wrote ``_layer_checkpoint_dependencies``
  for ``layers``.
- Keras 3 ``.weights.h5``: the same HDF5 layout, without the config.
- Legacy ``.h5`` (tf.keras 2.x and Keras 3's legacy writer): the root
  attribute ``model_config`` and the group ``model_weights`` (the root itself
  in a ``save_weights`` file) with the attribute ``layer_names``; each layer's
  group has ``weight_names`` naming its datasets.  Attributes too long for
  HDF5 are split as ``layer_names0``, ``layer_names1``, ...
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import zipfile
import zlib
from collections import Counter, namedtuple
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .layers import SeparableConv2D

if TYPE_CHECKING:
    from .layers import SeparableConv2D

__all__ = [
    "KerasLayers",
    "load_keras_layers",
    "load_layer_weights",
    "save_keras_model",
    "save_layer_weights",
]

_LOADED_CLASSES = ("SeparableConv2D", "SeparableConvolution2D")
# The Keras version whose layout sepconv writes (the one its tests read back).
_KERAS_LAYOUT_VERSION = "3.15.1"
_KERAS_LAYER: dict[str, str | None] = {
    "module": "keras.layers",
    "class_name": "SeparableConv2D",
    "registered_name": None,
}
_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_CONFIG_MEMBER = "config.json"
_WEIGHTS_MEMBER = "model.weights.h5"
# Keras 3 names the model's layers "layers"; tf.keras 2.13-2.15 .keras files
# name them "_layer_checkpoint_dependencies" (Keras 3's reader retries too).
_LAYER_CONTAINERS = ("layers", "_layer_checkpoint_dependencies")
# A zip member is read into memory; its declared size bounds what a
# damaged or hostile archive can make us allocate.
_MAX_MEMBER_BYTES = 1 << 32
# What zipfile, zlib, json and h5py (libhdf5) raise on a damaged file.  They
# are turned into one ValueError naming the file.  (h5py's reader of an
# archive member in memory raises OverflowError for an offset past 2**63.)
_READ_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    OSError,
    RuntimeError,
    EOFError,
    OverflowError,
    zipfile.BadZipFile,
    zlib.error,
)
# from_config is written for configs that Keras made; in a damaged one a value
# of the wrong type (a dict where a name is due, ...) fails wherever it is used.
_CONFIG_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError)

# One leaf layer of a model config: its Keras name and class, its config,
# `groups` (the snake_case group names of the Keras 3 layout, outer model
# first) and `scope` (the names of the models that hold it, then its own).
_Entry = namedtuple("_Entry", "name class_name config groups scope")


class KerasLayers(dict[str, "SeparableConv2D"]):
    """The ``SeparableConv2D`` layers of a Keras model, by layer name, in model order.

    Layers of nested models are included.  A name used in two nested models
    is keyed by its scope the second time (``"outer/inner/name"``).

    Attributes
    ----------
    skipped : list of (str, str)
        The model's other layers as (name, class name), in model order; they
        are not loaded.  Nested models are walked into, not listed.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> layer = sepconv.SeparableConv2D(4, 3, padding="same", name="conv")
    >>> y = layer(np.ones((1, 8, 8, 3), dtype=np.float32))
    >>> sepconv.save_keras_model([layer], "model.keras", input_shape=(8, 8, 3))
    >>> layers = sepconv.load_keras_layers("model.keras")
    >>> isinstance(layers, sepconv.saving.KerasLayers), isinstance(layers, dict)
    (True, True)
    >>> list(layers), layers.skipped
    (['conv'], [('input_layer', 'InputLayer')])
    """

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[tuple[str, str]] = []


def load_keras_layers(
    path: str | os.PathLike[str], config: dict[str, Any] | str | os.PathLike[str] | None = None
) -> KerasLayers:
    """Read the ``SeparableConv2D`` layers of a Keras model file, without Keras.

    Parameters
    ----------
    path : str or os.PathLike
        A Keras 3 ``.keras`` archive or ``.weights.h5`` file, a legacy
        full-model ``.h5`` (tf.keras 2.x or Keras 3's legacy writer), or a
        tf.keras 2.x ``save_weights`` ``.h5``.  The format is told from the
        content, not the suffix.
    config : dict, str or os.PathLike, optional
        The model's config, needed for weights-only files and used instead
        of the file's own otherwise: the ``config.json`` dict (or any
        ``{"class_name", "config"}`` model dict), its JSON text, or the path
        of a ``.keras`` archive or a JSON file holding it.

    Returns
    -------
    KerasLayers
        A dict of built :class:`~sepconv.SeparableConv2D` layers with the
        file's weights, keyed by Keras layer name in model order; its
        ``skipped`` attribute lists the other layers.

    Raises
    ------
    ValueError
        For a file (or config) that is not a Keras model file or is damaged:
        not a zip nor HDF5, truncated, a missing member, group, dataset or
        attribute, a weight count or shape that does not match the config,
        an attribute of the wrong type.  The message names the file and the
        problem.
    FileNotFoundError
        If ``path`` does not exist.
    ImportError
        If h5py is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> layer = sepconv.SeparableConv2D(4, 3, padding="same", name="conv")
    >>> y = layer(np.ones((1, 8, 8, 3), dtype=np.float32))
    >>> sepconv.save_keras_model([layer], "model.keras", input_shape=(8, 8, 3))
    >>> layers = sepconv.load_keras_layers("model.keras")
    >>> type(layers).__name__, list(layers), layers.skipped
    ('KerasLayers', ['conv'], [('input_layer', 'InputLayer')])
    >>> np.array_equal(layers["conv"](np.ones((1, 8, 8, 3), dtype=np.float32)), y)
    True
    """
    h5py = _h5py()
    path = os.fspath(path)
    model = None if config is None else _config_argument(config)
    kind = _file_kind(path)
    if kind is None:
        raise ValueError(
            f"cannot read Keras file {path!r}: it is neither a zip archive "
            "(.keras) nor an HDF5 file (.h5)"
        )
    try:
        if kind == "zip":
            archived, weights = _read_archive(path)
            with h5py.File(io.BytesIO(weights), "r") as h5:
                return _load_hdf5(h5, model if model is not None else archived)
        with h5py.File(path, "r") as h5:
            return _load_hdf5(h5, model)
    except _READ_ERRORS as exc:
        raise ValueError(f"cannot read Keras file {path!r}: {exc}") from exc


def save_layer_weights(layer: SeparableConv2D, path: str | os.PathLike[str]) -> None:
    """Write the weights of ``layer`` as the Keras 3 ``.weights.h5`` of a one-layer model.

    The file is what Keras 3 writes for
    ``keras.Sequential([keras.Input(shape), keras.layers.SeparableConv2D(**layer.get_config())])``,
    whose ``load_weights`` reads it.

    Parameters
    ----------
    layer : SeparableConv2D
        A built layer.
    path : str or os.PathLike
        Must end in ``.weights.h5``, the suffix by which Keras 3 tells this
        format from the legacy one.

    Raises
    ------
    ValueError
        If the layer is not built or the suffix is not ``.weights.h5``.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> layer = sepconv.SeparableConv2D(4, 3, padding="same", name="conv")
    >>> y = layer(np.ones((1, 8, 8, 3), dtype=np.float32))
    >>> from sepconv import saving
    >>> saving.save_layer_weights(layer, "conv.weights.h5")
    >>> other = sepconv.SeparableConv2D(4, 3, padding="same")
    >>> saving.load_layer_weights(other, "conv.weights.h5")
    >>> all(np.array_equal(a, b) for a, b in zip(other.get_weights(), layer.get_weights()))
    True
    """
    h5py = _h5py()
    path = _checked_path(path, ".weights.h5")
    _check_built([layer])
    with h5py.File(path, "w") as h5:
        _write_sequential_weights(h5, [layer])


def save_keras_model(
    layers: Sequence[SeparableConv2D],
    path: str | os.PathLike[str],
    input_shape: Sequence[int | None],
) -> None:
    """Write a Keras 3 ``.keras`` archive of a Sequential model of sepconv layers.

    ``keras.models.load_model(path)`` gives
    ``keras.Sequential([keras.Input(input_shape), *keras_layers])``, each a
    ``keras.layers.SeparableConv2D`` with the config and weights of ours;
    :func:`load_keras_layers` reads it too.

    Parameters
    ----------
    layers : sequence of SeparableConv2D
        Built layers, each taking the previous one's output.
    path : str or os.PathLike
        Must end in ``.keras``.
    input_shape : tuple of 3 ints
        The model's input shape without the batch, in the first layer's
        data format.

    Raises
    ------
    ValueError
        If a layer is not built, the layers do not chain on ``input_shape``,
        a layer has a config Keras cannot read (a custom callable), or the
        suffix is not ``.keras``.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> layer = sepconv.SeparableConv2D(4, 3, padding="same", name="conv")
    >>> y = layer(np.ones((1, 8, 8, 3), dtype=np.float32))
    >>> sepconv.save_keras_model([layer], "model.keras", input_shape=(8, 8, 3))
    >>> loaded = sepconv.load_keras_layers("model.keras")
    >>> list(loaded)
    ['conv']
    >>> all(np.array_equal(a, b) for a, b in zip(loaded["conv"].get_weights(), layer.get_weights()))
    True
    """
    h5py = _h5py()
    path = _checked_path(path, ".keras")
    layers = list(layers)
    _check_built(layers)
    if not layers:
        raise ValueError("`layers` is empty: a model needs at least one layer")
    shapes = [(None, *input_shape)]
    for layer in layers:
        shapes.append(layer.compute_output_shape(shapes[-1]))
    config = _sequential_config(layers, shapes)
    weights = io.BytesIO()
    with h5py.File(weights, "w") as h5:
        _write_sequential_weights(h5, layers)
    # Keras writes the members uncompressed; so do we.
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "metadata.json",
            json.dumps(
                {
                    "keras_version": _KERAS_LAYOUT_VERSION,
                    "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                }
            ),
        )
        archive.writestr(_CONFIG_MEMBER, json.dumps(config))
        archive.writestr(_WEIGHTS_MEMBER, weights.getvalue())


def _checked_path(path, suffix):
    path = os.fspath(path)
    if not path.endswith(suffix):
        raise ValueError(
            f"the file name must end in {suffix!r}, as Keras 3 requires; received {path!r}"
        )
    return path


def _check_built(layers):
    for layer in layers:
        if not layer.built:
            raise ValueError(f"layer {layer.name!r} is not built yet: it has no weights to save")


def _write_sequential_weights(h5, layers):
    """Keras 3's HDF5 weights layout of a Sequential model holding ``layers``."""
    # Keras puts an empty `vars` group, named, on every saveable; the
    # Sequential holds its layers as layers/separable_conv2d, ..._1, ...
    h5.create_group("vars").attrs["name"] = "sequential"
    entries: list[dict[str, object]] = [dict(_KERAS_LAYER, config={})] * len(layers)
    for group_name, layer in zip(
        _group_names("Sequential", entries, "sequential"), layers, strict=True
    ):
        group = h5.create_group(f"layers/{group_name}/vars")
        group.attrs["name"] = layer.name
        for i, weight in enumerate(layer.weights):
            group.create_dataset(str(i), data=weight)


def _sequential_config(layers, shapes):
    """config.json of ``keras.Sequential([keras.Input(shapes[0][1:]), *layers])``."""
    entries = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "registered_name": None,
            "config": {
                "batch_shape": list(shapes[0]),
                "dtype": layers[0].dtype,
                "sparse": False,
                "ragged": False,
                "name": "input_layer",
            },
        }
    ]
    entries += [
        dict(_KERAS_LAYER, config=layer.get_config(), build_config={"input_shape": list(shape)})
        for layer, shape in zip(layers, shapes, strict=False)
    ]
    return {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {
            "name": "sequential",
            "trainable": True,
            "layers": entries,
            "build_input_shape": list(shapes[0]),
        },
        "build_config": {"input_shape": list(shapes[0])},
        "compile_config": {},
    }


def load_layer_weights(layer: SeparableConv2D, path: str | os.PathLike[str]) -> None:
    """Read into ``layer`` the weights that :func:`save_layer_weights` or Keras wrote.

    ``path`` holds a one-``SeparableConv2D`` Sequential model: a Keras 3
    ``.weights.h5`` or ``.keras`` file.  An unbuilt layer is built for the
    file's channel count.

    Raises
    ------
    ValueError
        For a damaged file or weights whose count or shapes do not fit the
        layer; the message names the file.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> layer = sepconv.SeparableConv2D(4, 3, padding="same", name="conv")
    >>> y = layer(np.ones((1, 8, 8, 3), dtype=np.float32))
    >>> from sepconv import saving
    >>> saving.save_layer_weights(layer, "conv.weights.h5")
    >>> other = sepconv.SeparableConv2D(4, 3, padding="same")
    >>> saving.load_layer_weights(other, "conv.weights.h5")
    >>> [w.shape for w in other.get_weights()]
    [(3, 3, 3, 1), (1, 1, 3, 4), (4,)]
    >>> np.array_equal(other(np.ones((1, 8, 8, 3), dtype=np.float32)), y)
    True
    """
    path = os.fspath(path)
    shape_config = {
        "name": layer.name,
        "filters": layer.filters,
        "kernel_size": layer.kernel_size,
        "depth_multiplier": layer.depth_multiplier,
        "use_bias": layer.use_bias,
        "dtype": layer.dtype,
    }
    model = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [{"class_name": "SeparableConv2D", "config": shape_config}],
        },
    }
    loaded = load_keras_layers(path, config=model)[layer.name]
    try:
        layer.set_weights(loaded.weights)
    except ValueError as exc:
        raise ValueError(
            f"cannot load Keras file {path!r} into layer {layer.name!r}: {exc}"
        ) from exc


# ----------------------------------------------------------------------
# Files and configs


def _h5py():
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            "reading and writing Keras files needs h5py: pip install 'sepconv[keras-files]'"
        ) from exc
    return h5py


def _file_kind(path):
    """``"zip"``, ``"hdf5"`` or None, from the first bytes of the file."""
    with open(path, "rb") as file:
        head = file.read(len(_HDF5_MAGIC))
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    return "hdf5" if head == _HDF5_MAGIC else None


def _read_archive(path):
    """Return (model config, weights HDF5 bytes) of a ``.keras`` archive."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if _WEIGHTS_MEMBER not in names:
            if "model.weights.npz" in names:
                raise ValueError(
                    "its weights are stored as npz, which holds pickled data; "
                    "only model.weights.h5 is read"
                )
            raise ValueError(f"the archive has no {_WEIGHTS_MEMBER} (members: {names[:10]})")
        return _json(_member(archive, _CONFIG_MEMBER), _CONFIG_MEMBER), _member(
            archive, _WEIGHTS_MEMBER
        )


def _member(archive, name):
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ValueError(f"the archive has no {name}") from None
    if info.file_size > _MAX_MEMBER_BYTES:
        raise ValueError(f"the archive member {name} claims {info.file_size} bytes")
    return archive.read(info)


def _config_argument(config):
    """The model config dict that the ``config=`` argument gives."""
    if isinstance(config, dict):
        return config
    if isinstance(config, str) and config.lstrip().startswith("{"):
        try:
            return _json(config, "config")
        except ValueError as exc:
            raise ValueError(f"cannot read `config` as JSON text: {exc}") from exc
    if not isinstance(config, (str, os.PathLike)):
        raise ValueError(
            "`config` must be a config dict, its JSON text or the path of a "
            f".keras archive or a JSON file; received {type(config).__name__}"
        )
    path = os.fspath(config)
    kind = _file_kind(path)
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                return _json(_member(archive, _CONFIG_MEMBER), _CONFIG_MEMBER)
        with open(path, "rb") as file:
            return _json(file.read(), "the file")
    except _READ_ERRORS as exc:
        raise ValueError(f"cannot read the model config {path!r}: {exc}") from exc


def _json(text, what):
    """Parse JSON ``text`` (str or bytes) that must hold an object."""
    value = json.loads(_text(text, what))
    if not isinstance(value, dict):
        raise ValueError(f"{what} holds a JSON {type(value).__name__}, not an object")
    return value


def _text(value, what):
    """``value`` (str, bytes or a 0-d array of them, as h5py returns) as a str."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise ValueError(f"{what} is not text but {type(value).__name__}")


# ----------------------------------------------------------------------
# The model config: its leaf layers in model order


def _load_hdf5(h5, model):
    legacy_root = _legacy_root(h5)
    if model is None:
        model = _legacy_model_config(h5)
    result = KerasLayers()
    for entry in _model_entries(model, (), ()):
        if entry.class_name not in _LOADED_CLASSES:
            result.skipped.append((entry.name, entry.class_name))
            continue
        weights = (
            _keras3_weights(h5, entry)
            if legacy_root is None
            else _legacy_weights(legacy_root, entry)
        )
        key = entry.name if entry.name not in result else "/".join(entry.scope)
        result[key] = _build(entry, weights)
    return result


def _model_entries(model, groups, scope):
    """Yield an :data:`_Entry` for each leaf layer of ``model``, depth first, in model order.

    A layer whose config lists layers (Sequential, Functional, their
    subclasses) is a model and is walked into.
    """
    class_name, config = _class_and_config(model, "the model config")
    name = config.get("name", class_name)
    layers = config.get("layers")
    if not isinstance(layers, list):
        raise ValueError(f"the config of model {name!r} ({class_name}) has no list of layers")
    for layer, group in zip(layers, _group_names(class_name, layers, name), strict=True):
        layer_class, layer_config = _class_and_config(layer, f"a layer of model {name!r}")
        layer_name = layer_config.get("name")
        if not isinstance(layer_name, str):
            raise ValueError(f"a {layer_class} layer of model {name!r} has no name")
        here = (*groups, group)
        if isinstance(layer_config.get("layers"), list):
            yield from _model_entries(layer, here, (*scope, layer_name))
        else:
            yield _Entry(layer_name, layer_class, layer_config, here, (*scope, layer_name))


def _class_and_config(value, what):
    if not (
        isinstance(value, dict)
        and isinstance(value.get("class_name"), str)
        and isinstance(value.get("config"), dict)
    ):
        raise ValueError(f"{what} is not a Keras {{'class_name', 'config'}} dict")
    return value["class_name"], value["config"]


def _group_names(model_class, layers, model_name):
    """The Keras 3 group name of each layer: its snake_case class, numbered by repeats.

    A Sequential's leading InputLayer is not among its ``layers`` in Keras 3,
    so it gets no group (None).
    """
    counts: Counter[str] = Counter()
    names: list[str | None] = []
    for i, layer in enumerate(layers):
        layer_class, _ = _class_and_config(layer, f"a layer of model {model_name!r}")
        if model_class == "Sequential" and i == 0 and layer_class == "InputLayer":
            names.append(None)
            continue
        # The group is named after the Python class; the alias is the same class.
        snake = _snake_case("SeparableConv2D" if layer_class in _LOADED_CLASSES else layer_class)
        names.append(snake if counts[snake] == 0 else f"{snake}_{counts[snake]}")
        counts[snake] += 1
    return names


def _snake_case(name):
    """Keras's ``naming.to_snake_case``: ``"SeparableConv2D"`` -> ``"separable_conv2d"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _build(entry, weights):
    # The weights come from the file, so a tf.keras `batch_input_shape` (which
    # would build the layer with initial values first) is left out.
    config = {k: v for k, v in entry.config.items() if k != "batch_input_shape"}
    try:
        layer = SeparableConv2D.from_config(config)
        layer.set_weights(weights)
    except _CONFIG_ERRORS as exc:
        raise ValueError(f"layer {entry.name!r} ({entry.class_name}): {exc}") from exc
    return layer


# ----------------------------------------------------------------------
# The weights: Keras 3 layout and legacy layout


def _keras3_weights(h5, entry):
    """The datasets ``vars/0``, ``vars/1``, ... of ``entry``'s group."""
    paths = [
        "/".join(f"{container}/{group}" for group in entry.groups) + "/vars"
        for container in _LAYER_CONTAINERS
    ]
    path = next((p for p in paths if p in h5), None)
    if path is None:
        raise ValueError(
            f"no weights for layer {entry.name!r} ({entry.class_name}): "
            f"the group {paths[0]!r} is missing"
        )
    group = _group(h5, path)
    names = sorted(group.keys())
    count = len(names)
    if names != sorted(str(i) for i in range(count)):
        raise ValueError(
            f"the group {group.name!r} of layer {entry.name!r} holds {names}, "
            "not the datasets 0, 1, ..."
        )
    return [_dataset(group, str(i)) for i in range(count)]


def _legacy_root(h5):
    """The group holding ``layer_names``, or None for the Keras 3 layout.

    As Keras 3 tells them apart: a ``save_weights`` file has the attribute on
    its root, a full model under ``model_weights``.
    """
    if "layer_names" in h5.attrs or "layer_names0" in h5.attrs:
        return h5
    if "model_weights" in h5:
        return _group(h5, "model_weights")
    if "model_config" in h5.attrs:
        raise ValueError("it has a model_config attribute but no model_weights group")
    return None


def _legacy_model_config(h5):
    if "model_config" not in h5.attrs:
        raise ValueError(
            "it holds weights only (no model_config): pass `config=`, the "
            "path of the model's .keras archive, its config.json dict or JSON text"
        )
    return _json(h5.attrs["model_config"], "the model_config attribute")


def _legacy_weights(root, entry):
    """The datasets that ``weight_names`` lists for ``entry``, in that order.

    A layer of a nested model shares the group of its outermost model, whose
    ``weight_names`` are ``.../<layer name>/<weight>``.
    """
    top = entry.scope[0]
    layer_names = _string_list(root, "layer_names")
    if top not in layer_names:
        raise ValueError(
            f"layer {top!r} is not in the layer_names attribute of "
            f"{root.name!r} ({len(layer_names)} names)"
        )
    group = _group(root, top)
    weight_names = _string_list(group, "weight_names")
    if len(entry.scope) > 1:
        weight_names = [w for w in weight_names if w.split("/")[-2:-1] == [entry.name]]
    return [_dataset(group, name) for name in weight_names]


def _string_list(group, key):
    """The list of strings of attribute ``key``, its split parts ``key0``, ``key1``... joined."""
    strings: list[str] = []
    for part in _attribute_parts(group, key):
        value = group.attrs[part]
        what = f"the attribute {part!r} of {group.name!r}"
        # Keras writes an empty list (a weightless layer) as an empty float array.
        if isinstance(value, np.ndarray) and value.size == 0:
            continue
        if not isinstance(value, np.ndarray) or value.ndim != 1:
            raise ValueError(f"{what} is not a list of strings")
        strings.extend(_text(item, what) for item in value)
    return strings


def _attribute_parts(group, key):
    """``[key]``, or the names ``key0``, ``key1``, ... of an attribute HDF5 made Keras split."""
    if key in group.attrs:
        return [key]
    parts: list[str] = []
    while f"{key}{len(parts)}" in group.attrs:
        parts.append(f"{key}{len(parts)}")
    if not parts:
        raise ValueError(f"the group {group.name!r} has no {key!r} attribute")
    return parts


def _group(parent, name):
    obj = parent.get(name)
    if not isinstance(obj, _h5py().Group):
        state = "missing" if obj is None else "not a group"
        raise ValueError(f"{parent.name.rstrip('/')}/{name} is {state}")
    return obj


def _dataset(group, name):
    """The array of dataset ``name`` in ``group``, which must hold floats."""
    obj = group.get(name)
    where = f"{group.name.rstrip('/')}/{name}"
    if not isinstance(obj, _h5py().Dataset):
        raise ValueError(f"{where} is {'missing' if obj is None else 'not a dataset'}")
    if obj.dtype.kind != "f":
        raise ValueError(f"{where} holds {obj.dtype} data, not floats")
    return obj[()]
