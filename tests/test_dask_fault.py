"""A worker process killed mid-computation loses no result: the other finishes the work.

A module of its own, with a cluster of its own, so that the killed worker
does not disturb the other cluster tests.
"""

import os
import signal
import time

import numpy as np
import pytest
from compare import tolerance
from numpy.testing import assert_allclose

import sepconv
from sepconv import dask as sepconv_dask

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


def _slow_read(block):
    """Stand in for a slow storage read, so the computation lasts long enough to interrupt."""
    time.sleep(0.2)
    return block


def test_killed_worker_loses_no_result():
    x = np.random.default_rng(3).uniform(-1, 1, (8, 24, 24, 2))
    dk, pk = np.ones((3, 3, 2, 1)), np.ones((2, 3))
    dx = da.from_array(x, chunks=(4, 12, 12, 2)).map_blocks(_slow_read, dtype=x.dtype)
    lazy = sepconv_dask.separable_conv2d(dx, dk, pk, padding="same")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            pids = client.run(os.getpid)
            future = client.compute(lazy)
            _wait_until_both_workers_are_busy(client)
            victim = sorted(pids)[0]
            # Windows has no SIGKILL; os.kill terminates the process there whatever the signal
            os.kill(pids[victim], getattr(signal, "SIGKILL", signal.SIGTERM))
            out = future.result(timeout=120)
            assert victim not in client.run(os.getpid)  # it is gone
    assert_allclose(
        out, sepconv.separable_conv2d(x, dk, pk, padding="same"), **tolerance(np.float64, 20)
    )


def _wait_until_both_workers_are_busy(client, timeout=30):
    """Return once each worker has tasks in hand and some have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processing = client.processing()
        finished = sum(state == "memory" for state in _task_states(client))
        if len(processing) == 2 and all(processing.values()) and finished >= 2:
            return
        time.sleep(0.05)
    raise AssertionError("the workers never started the computation")


def _task_states(client):
    return client.run_on_scheduler(
        lambda dask_scheduler: [t.state for t in dask_scheduler.tasks.values()]
    )
