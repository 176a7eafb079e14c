"""Damaged copies of Keras model files, for the fuzz tests of sepconv.saving.

``mutate(data, kind, seed)`` returns a damaged copy of a file's bytes:
``"truncate"`` cuts it, ``"flip"`` changes a few bytes, ``"structure"``
damages it through h5py or JSON (an object deleted, a dataset of another
shape or type, an attribute of the wrong type, a config key deleted or given
a value of the wrong type).  A ``.keras`` archive is mostly damaged inside:
its members are damaged and zipped again, since the zip's checksums catch
byte damage to the archive itself before the HDF5 reader sees it.
tests/test_saving_fuzz.py draws the mutations with hypothesis;
tools/fuzz_keras_files.py runs many more, each in a child process.
"""

import io
import json
import random
import zipfile

import h5py
import numpy as np

KINDS = ("truncate", "flip", "structure")


def mutate(data, kind, seed):
    """Return a damaged copy of the file ``data`` (bytes); the same seed gives the same copy."""
    rng = random.Random(seed)
    if data.startswith(b"PK") and rng.random() < 0.8:
        return _mutate_archive(data, kind, rng)
    return _mutate_bytes(data, kind, rng)


def _mutate_bytes(data, kind, rng):
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= rng.randint(1, 255)
        return bytes(out)
    if data.startswith(b"\x89HDF"):
        return _mutate_hdf5(data, rng)
    return _mutate_json(data, rng)


def _mutate_archive(data, kind, rng):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    target = rng.choice(sorted(members))
    members[target] = _mutate_bytes(members[target], kind, rng)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _mutate_json(data, rng):
    """Delete a key of one of the JSON objects, or give it a value of another type."""
    try:
        value = json.loads(data)
    except ValueError:
        return data[: len(data) // 2]
    objects = [o for o in _json_objects(value) if o]
    if objects:
        target = rng.choice(objects)
        key = rng.choice(sorted(target))
        if rng.random() < 0.3:
            del target[key]
        else:
            target[key] = rng.choice([None, 7, -1, 2.5, "x", [], {}, [1, 2], True])
    return json.dumps(value).encode()


def _json_objects(value):
    if isinstance(value, dict):
        yield value
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return
    for child in children:
        yield from _json_objects(child)


def _mutate_hdf5(data, rng):
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as h5:
        objects = []
        h5.visititems(lambda name, obj: objects.append(name))
        holders = ["/", *objects]
        attributes = [(h, a) for h in holders for a in h5[h].attrs]
        operation = rng.choice(["delete", "reshape", "retype", "attribute", "attribute", "config"])
        if operation == "config" and "model_config" in h5.attrs:
            h5.attrs["model_config"] = _mutate_json(bytes(_as_bytes(h5.attrs["model_config"])), rng)
        elif operation == "attribute" and attributes:
            holder, name = rng.choice(attributes)
            h5[holder].attrs[name] = rng.choice(
                [
                    np.arange(3),
                    5,
                    2.5,
                    np.array([[b"a", b"b"]]),
                    np.array([b"nope"]),
                    b"\xff\xfe",
                    np.zeros((0,)),
                ]
            )
        elif objects:
            _mutate_object(h5, rng.choice(objects), operation, rng)
    return buffer.getvalue()


def _mutate_object(h5, name, operation, rng):
    obj = h5[name]
    if operation == "delete" or not isinstance(obj, h5py.Dataset):
        del h5[name]
        return
    shape, dtype = obj.shape, obj.dtype
    del h5[name]
    if operation == "reshape":
        shape = shape[:-1] if shape and rng.random() < 0.5 else (*shape, 2)
        h5.create_dataset(name, data=np.ones(shape, dtype))
    else:
        h5.create_dataset(name, data=np.ones(shape, rng.choice(["int32", "S3", "bool"])))


def _as_bytes(value):
    return value if isinstance(value, bytes) else str(value).encode()
