"""Fuzz sepconv.load_keras_layers with damaged Keras files: a ValueError naming the file, or layers.

Each example damages one of the Keras-made files of tests/data/keras_files/
(tests/keras_file_mutations.py: truncation, byte flips, damaged structure).
The budget here is the hypothesis profile's, on fixed examples;
tools/fuzz_keras_files.py runs many more in child processes, which survive a
crash or a hang inside libhdf5.
"""

import os
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("h5py")

from keras_file_mutations import KINDS, mutate  # noqa: E402

from sepconv import SeparableConv2D, load_keras_layers  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras_files")
# (file, config argument): every kind of file the loader reads.
FUZZED = [
    ("sequential.keras", None),
    ("functional.keras", None),
    ("functional.weights.h5", "functional.keras"),
    ("functional_legacy.h5", None),
    ("functional_tfkeras2.h5", None),
    ("sequential_tfkeras2_weights.h5", "sequential.keras"),
]


def check_damaged(filename, config, kind, seed, folder):
    """Load a damaged copy of ``filename``: it loads, or raises a ValueError naming it."""
    with open(os.path.join(DATA, filename), "rb") as file:
        data = mutate(file.read(), kind, seed)
    path = os.path.join(folder, f"{kind}-{seed}-{filename}")
    with open(path, "wb") as file:
        file.write(data)
    try:
        layers = load_keras_layers(path, config=config and os.path.join(DATA, config))
    except ValueError as exc:
        assert path in str(exc)
        layers = {}
    # Kept on any other outcome, for tools/fuzz_keras_files.py to report.
    os.remove(path)
    assert all(isinstance(layer, SeparableConv2D) and layer.built for layer in layers.values())


# Derandomized: the same examples on every run.  A few damaged HDF5 files crash
# libhdf5 itself or keep it busy for more than 5 minutes (tools/fuzz_keras_files.py
# found them: tests/data/keras_files/libhdf5_crash.h5, libhdf5_hang.h5), which
# would kill or stall the suite.
@settings(derandomize=True)
@given(case=st.sampled_from(FUZZED), kind=st.sampled_from(KINDS), seed=st.integers(0, 2**32 - 1))
def test_damaged_files_raise_value_error(case, kind, seed):
    with tempfile.TemporaryDirectory() as folder:
        check_damaged(*case, kind, seed, folder)
