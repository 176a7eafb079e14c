"""``python -m sepconv features IN OUT``: zarr and .npy in, zarr out, on a Dask cluster.

The output is compared with ``SeparableConvFeatures(...).fit(X).transform(X)``
on the whole array in memory.
"""

import argparse
import os
import pickle
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sepconv.__main__ import main
from sepconv._cli.features import _client
from sepconv.transformer import SeparableConvFeatures

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

IMAGES = np.random.default_rng(5).random((30, 12, 10, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def scheduler():
    """The address of a LocalCluster of two one-thread worker processes."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
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
    assert (
        features(
            zarr_input,
            out,
            "--filters",
            5,
            "--kernel-size",
            "3,5",
            "--strides",
            "2,1",
            "--pooling",
            "both,2,3",
            "--random-state",
            0,
            "--activation",
            "none",
            scheduler=scheduler,
        )
        == 0
    )
    expected = (
        SeparableConvFeatures(
            filters=5,
            kernel_size=(3, 5),
            strides=(2, 1),
            pooling=("both", (2, 3)),
            random_state=0,
            activation=None,
        )
        .fit(IMAGES)
        .transform(IMAGES)
    )
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
    estimator = SeparableConvFeatures(
        filters=3, image_shape=(12, 10), pooling="max", random_state=1
    ).fit(rows)
    (tmp_path / "est.pkl").write_bytes(pickle.dumps(estimator))
    out = str(tmp_path / "out.zarr")
    assert (
        features(
            tmp_path / "in.npy",
            out,
            "--estimator",
            tmp_path / "est.pkl",
            "--chunk-size",
            7,
            "--no-progress",
        )
        == 0
    )
    result = read(out)
    assert result.dtype == np.float64
    assert_allclose(result, estimator.transform(rows), rtol=1e-10)
    assert "5 tasks of 7 images" in capsys.readouterr().out


def test_the_local_cluster_workers_reuse_large_blocks(monkeypatch):
    # Dask's MALLOC_TRIM_THRESHOLD_ made every large block of a task a fresh
    # mapping, faulted in again each task: a fifth of the throughput.
    names = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    for name in names:
        # As in the command's own process: a nanny writes its variables into
        # the process that starts it (this module's cluster did), and such a
        # variable wins over the configuration.  Restored after the test.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    dasks_own = dask.config.get("distributed.nanny.pre-spawn-environ")
    with _client(argparse.Namespace(scheduler=None, n_workers=1)) as client:
        (environ,) = client.run(lambda: [os.environ.get(name) for name in names]).values()
    assert environ == [str(32 * 2**20), str(64 * 2**20)]
    # the user's process keeps its configuration
    assert dask.config.get("distributed.nanny.pre-spawn-environ") == dasks_own


def test_a_finished_run_is_not_redone_and_another_is_refused(
    zarr_input, tmp_path, scheduler, capsys
):
    out = str(tmp_path / "out.zarr")
    assert features(zarr_input, out, "--filters", 2, "--no-progress", scheduler=scheduler) == 0
    assert features(zarr_input, out, "--filters", 2, scheduler=scheduler) == 0
    assert f"{out} already holds these features; nothing to do" in capsys.readouterr().out
    for other in (
        ["--filters", 3],
        ["--filters", 2, "--chunk-size", 5],
        ["--filters", 2, "--random-state", 1],
    ):
        with pytest.raises(
            SystemExit,
            match=re.escape(
                f"features: OUT {out} exists and holds the features of another input, "
                "estimator or chunk size; pass --overwrite to replace it, or remove it"
            ),
        ):
            features(zarr_input, out, *other, scheduler=scheduler)
    assert (
        features(
            zarr_input, out, "--filters", 3, "--overwrite", "--no-progress", scheduler=scheduler
        )
        == 0
    )
    assert read(out).shape == (30, 12)


def test_an_interrupted_run_is_resumed(zarr_input, tmp_path, scheduler, monkeypatch, capsys):
    out = str(tmp_path / "out.zarr")

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(distributed.Client, "compute", interrupted)
        assert features(zarr_input, out, "--filters", 2, scheduler=scheduler) == 130
    assert (
        "interrupted: 0 of 4 tasks written; run the same command again to resume"
        in capsys.readouterr().err
    )
    assert zarr.open_array(out, mode="r").attrs["sepconv_features"]["complete"] is False
    assert features(zarr_input, out, "--filters", 2, "--no-progress", scheduler=scheduler) == 0
    assert "resuming" not in capsys.readouterr().out  # nothing had been written
    mark = zarr.open_array(out, mode="r").attrs["sepconv_features"]
    assert mark["complete"] is True
    # without --random-state, a seed was drawn, recorded and used again
    expected = (
        SeparableConvFeatures(filters=2, random_state=mark["seed"]).fit(IMAGES).transform(IMAGES)
    )
    assert_allclose(read(out), expected, rtol=1e-5, atol=1e-6)


def test_a_resumed_run_writes_only_the_missing_blocks(zarr_input, tmp_path, scheduler, capsys):
    out = str(tmp_path / "out.zarr")
    assert features(zarr_input, out, "--filters", 2, "--no-progress", scheduler=scheduler) == 0
    # as an interruption after blocks 0 and 1 would leave it (rows 0-7 and 8-15)
    array = zarr.open_array(out, mode="r+")
    array.attrs["sepconv_features"] = {
        **array.attrs["sepconv_features"],
        "complete": False,
        "done": [0, 1],
    }
    array[:8] = 7.0
    array[16:] = np.nan
    assert features(zarr_input, out, "--filters", 2, "--no-progress", scheduler=scheduler) == 0
    assert "resuming: 2 of 4 tasks were written by an interrupted run" in capsys.readouterr().out
    result = read(out)
    seed = zarr.open_array(out, mode="r").attrs["sepconv_features"]["seed"]
    expected = SeparableConvFeatures(filters=2, random_state=seed).fit(IMAGES).transform(IMAGES)
    assert (result[:8] == 7.0).all()  # block 0 was not written again
    assert_allclose(result[8:], expected[8:], rtol=1e-5, atol=1e-6)
    assert "done" not in zarr.open_array(out, mode="r").attrs["sepconv_features"]


def test_an_existing_output_it_did_not_write_is_refused(zarr_input, tmp_path):
    out = tmp_path / "other.zarr"
    out.mkdir()
    with pytest.raises(
        SystemExit,
        match=re.escape(
            f"features: OUT {out} exists and holds something this command did not write"
        ),
    ):
        features(zarr_input, out)


@pytest.mark.parametrize(
    "options,message",
    [
        (["missing.zarr", "out.zarr"], "features: IN missing.zarr does not exist"),
        (
            ["IN", "out.zarr", "--chunk-size", "0"],
            "features: --chunk-size must be a positive integer; received --chunk-size 0",
        ),
        (
            ["IN", "out.zarr", "--estimator", "est.pkl", "--filters", "3"],
            "features: --estimator takes the place of the transformer's options; received "
            "--estimator est.pkl with --filters",
        ),
        (
            ["IN", "out.zarr", "--estimator", "list.pkl"],
            "features: --estimator list.pkl holds a list, not a fitted SeparableConvFeatures",
        ),
        (
            ["IN", "out.zarr", "--estimator", "unfitted.pkl"],
            "features: --estimator unfitted.pkl holds an unfitted SeparableConvFeatures, not a "
            "fitted SeparableConvFeatures",
        ),
        (
            ["IN", "out.zarr", "--estimator", "missing.pkl"],
            "features: --estimator missing.pkl could not be read: No such file or directory",
        ),
        (
            ["group.zarr", "out.zarr"],
            "features: IN group.zarr is neither a zarr array (at the store's root) nor a .npy file",
        ),
    ],
)
def test_errors(zarr_input, tmp_path, monkeypatch, options, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1]))
    (tmp_path / "unfitted.pkl").write_bytes(pickle.dumps(SeparableConvFeatures()))
    zarr.open_group(str(tmp_path / "group.zarr"), mode="w")
    options = [zarr_input if o == "IN" else o for o in options]
    with pytest.raises(SystemExit, match=re.escape(message)):
        main(["features", *options])


@pytest.mark.parametrize(
    "option,value,message",
    [
        (
            "--kernel-size",
            "3,x",
            "argument --kernel-size: expected an integer or integers "
            "separated by commas; received '3,x'",
        ),
        (
            "--depth-multiplier",
            "many",
            "argument --depth-multiplier: expected an integer or 'auto'; received 'many'",
        ),
    ],
)
def test_bad_option_text(option, value, message, capsys):
    with pytest.raises(SystemExit):
        main(["features", "in.zarr", "out.zarr", option, value])
    assert message in capsys.readouterr().err


def test_the_ledger_records_only_finished_blocks(tmp_path):
    from types import SimpleNamespace

    from sepconv._cli.features import _Ledger

    target = zarr.open_array(
        str(tmp_path / "out.zarr"), mode="w", shape=(4, 2), chunks=(1, 2), dtype="f4"
    )
    ledger = _Ledger(target, {"input": "in.zarr"}, 3, [0])
    ledger.finished(2, SimpleNamespace(status="finished"))
    ledger.finished(1, SimpleNamespace(status="error"))
    assert dict(target.attrs["sepconv_features"]) == {
        "input": "in.zarr",
        "seed": 3,
        "complete": False,
        "done": [0, 2],
    }
    ledger.complete()
    assert dict(target.attrs["sepconv_features"]) == {
        "input": "in.zarr",
        "seed": 3,
        "complete": True,
    }
