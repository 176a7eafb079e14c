"""``python -m sepconv features IN OUT``: zarr and .npy in, zarr out, on a Dask cluster.

The output is compared with ``SeparableConvFeatures(...).fit(X).transform(X)``
on the whole array in memory.
"""

import pickle
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sepconv.__main__ import main
from sepconv.transformer import SeparableConvFeatures

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

IMAGES = np.random.default_rng(5).random((30, 12, 10, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def scheduler():
    """The address of a LocalCluster of two one-thread worker processes."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def zarr_input(tmp_path):
    path = str(tmp_path / "in.zarr")
    da.from_array(IMAGES, chunks=(8, 6, 10, 2)).to_zarr(path)
    return path


def features(path, *options, scheduler=None):
    """Run the command; return its exit status."""
    extra = ["--scheduler", scheduler] if scheduler else ["--n-workers", "1"]
    return main(["features", str(path), *map(str, options), *extra])


def read(path):
    return zarr.open_array(path, mode="r")[...]


def test_zarr_to_zarr_with_tuple_options(zarr_input, tmp_path, scheduler, capsys):
    out = str(tmp_path / "out.zarr")
    assert features(zarr_input, out, "--filters", 5, "--kernel-size", "3,5", "--strides",
                    "2,1", "--pooling", "both,2,3", "--random-state", 0, "--activation",
                    "none", scheduler=scheduler) == 0
    expected = SeparableConvFeatures(filters=5, kernel_size=(3, 5), strides=(2, 1),
                                     pooling=("both", (2, 3)), random_state=0,
                                     activation=None).fit(IMAGES).transform(IMAGES)
    result = read(out)
    assert result.dtype == np.float32 and result.shape == expected.shape == (30, 60)
    assert_allclose(result, expected, rtol=1e-5, atol=1e-6)
    printed = capsys.readouterr().out
    assert "in.zarr (30, 12, 10, 2) float32, 4 tasks of 8 images" in printed
    assert "| 100% Completed |" in printed
    assert f"wrote {out}: (30, 60) float32" in printed


def test_npy_rows_with_a_saved_estimator_and_the_default_cluster(tmp_path, capsys):
    rows = IMAGES[..., :1].reshape(30, -1).astype(np.float64)
    np.save(tmp_path / "in.npy", rows)
    estimator = SeparableConvFeatures(filters=3, image_shape=(12, 10), pooling="max",
                                      random_state=1).fit(rows)
    (tmp_path / "est.pkl").write_bytes(pickle.dumps(estimator))
    out = str(tmp_path / "out.zarr")
    assert features(tmp_path / "in.npy", out, "--estimator", tmp_path / "est.pkl",
                    "--chunk-size", 7, "--no-progress") == 0
    result = read(out)
    assert result.dtype == np.float64
    assert_allclose(result, estimator.transform(rows), rtol=1e-10)
    assert "5 tasks of 7 images" in capsys.readouterr().out


def test_a_finished_run_is_not_redone_and_another_is_refused(zarr_input, tmp_path, scheduler,
                                                            capsys):
    out = str(tmp_path / "out.zarr")
    assert features(zarr_input, out, "--filters", 2, "--no-progress", scheduler=scheduler) == 0
    assert features(zarr_input, out, "--filters", 2, scheduler=scheduler) == 0
    assert f"{out} already holds these features; nothing to do" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=re.escape(
            f"features: OUT {out} exists and holds the features of another input or "
            "estimator; pass --overwrite to replace it, or remove it")):
        features(zarr_input, out, "--filters", 3, scheduler=scheduler)
    assert features(zarr_input, out, "--filters", 3, "--overwrite", "--no-progress",
                    scheduler=scheduler) == 0
    assert read(out).shape == (30, 12)


def test_an_interrupted_run_is_refused_not_taken_for_whole(zarr_input, tmp_path, scheduler,
                                                           monkeypatch):
    out = str(tmp_path / "out.zarr")

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(distributed.Client, "compute", interrupted)
        with pytest.raises(KeyboardInterrupt):
            features(zarr_input, out, "--filters", 2, scheduler=scheduler)
    with pytest.raises(SystemExit, match=re.escape(
            f"features: OUT {out} exists and holds the partial output of an interrupted run "
            "of this same command; pass --overwrite")):
        features(zarr_input, out, "--filters", 2, scheduler=scheduler)
    assert features(zarr_input, out, "--filters", 2, "--overwrite", "--no-progress",
                    scheduler=scheduler) == 0


def test_an_existing_output_it_did_not_write_is_refused(zarr_input, tmp_path):
    out = tmp_path / "other.zarr"
    out.mkdir()
    with pytest.raises(SystemExit, match=re.escape(
            f"features: OUT {out} exists and holds something this command did not write")):
        features(zarr_input, out)


@pytest.mark.parametrize("options,message", [
    (["missing.zarr", "out.zarr"], "features: IN missing.zarr does not exist"),
    (["IN", "out.zarr", "--chunk-size", "0"],
     "features: --chunk-size must be a positive integer; received --chunk-size 0"),
    (["IN", "out.zarr", "--estimator", "est.pkl", "--filters", "3"],
     "features: --estimator takes the place of the transformer's options; received "
     "--estimator est.pkl with --filters"),
    (["IN", "out.zarr", "--estimator", "list.pkl"],
     "features: --estimator list.pkl holds a list, not a fitted SeparableConvFeatures"),
])
def test_errors(zarr_input, tmp_path, monkeypatch, options, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1]))
    options = [zarr_input if o == "IN" else o for o in options]
    with pytest.raises(SystemExit, match=re.escape(message)):
        main(["features", *options])


@pytest.mark.parametrize("option,value,message", [
    ("--kernel-size", "3,x", "argument --kernel-size: expected an integer or integers "
                             "separated by commas; received '3,x'"),
    ("--depth-multiplier", "many", "argument --depth-multiplier: expected an integer or "
                                   "'auto'; received 'many'"),
])
def test_bad_option_text(option, value, message, capsys):
    with pytest.raises(SystemExit):
        main(["features", "in.zarr", "out.zarr", option, value])
    assert message in capsys.readouterr().err
