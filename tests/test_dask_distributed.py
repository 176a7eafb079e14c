"""sepconv.dask on a real ``distributed`` cluster: two worker processes on localhost.

Kernels and estimators reach the workers by pickle; values are compared with
the NumPy API on the whole array.
"""

import numpy as np
import pytest
from compare import tolerance
from numpy.testing import assert_allclose

import sepconv
from sepconv import dask as sepconv_dask
from sepconv.transformer import SeparableConvFeatures

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two one-thread worker processes, closed after the module."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_separable_on_the_cluster(client, layout):
    x = RNG.uniform(-1, 1, (4, 3, 15, 13) if layout == "channels_first" else (4, 15, 13, 3))
    dk, pk, bias = RNG.uniform(-1, 1, (3, 3, 3, 2)), RNG.uniform(-1, 1, (6, 5)), np.ones(5)
    options = dict(
        strides=2, padding="same", dilation_rate=1, data_format=layout, activation="relu"
    )
    lazy = sepconv_dask.separable_conv2d(
        da.from_array(x, chunks=(2, 2, 5, 5)), dk, pk, bias, **options
    )
    out = client.compute(lazy).result()
    assert_allclose(
        out, sepconv.separable_conv2d(x, dk, pk, bias, **options), **tolerance(np.float64, 19)
    )


def test_depthwise_and_pointwise_on_the_cluster(client):
    x = RNG.uniform(-1, 1, (3, 11, 12, 2)).astype(np.float32)
    dk, pk = RNG.uniform(-1, 1, (5, 5, 2, 1)), RNG.uniform(-1, 1, (2, 4))
    dx = da.from_array(x, chunks=(1, 4, 4, 1))
    depthwise, pointwise = client.compute(
        [
            sepconv_dask.depthwise_conv2d(dx, dk, dilation_rate=2, padding="same"),
            sepconv_dask.pointwise_conv2d(dx, pk),
        ],
        sync=True,
    )
    assert_allclose(
        depthwise,
        sepconv.depthwise_conv2d(x, dk, dilation_rate=2, padding="same"),
        **tolerance(np.float64, 25),
    )
    assert_allclose(pointwise, sepconv.pointwise_conv2d(x, pk), **tolerance(np.float64, 2))


def test_transformer_on_the_cluster(client):
    images = RNG.random((30, 8, 8, 1)).astype(np.float32)
    dX = da.from_array(images, chunks=(7, 8, 8, 1))
    est = SeparableConvFeatures(filters=6, random_state=0).fit(dX)
    lazy = est.transform(dX)
    assert lazy.chunks == ((7, 7, 7, 7, 2), (24,))
    out = client.compute(lazy).result()
    assert out.dtype == np.float32
    assert_allclose(out, est.transform(images), rtol=1e-5, atol=1e-6)


def _record_kernel_threads(dask_worker):
    """In a worker (``client.run``): record the n_threads every depthwise kernel call gets."""
    worker = dask_worker
    worker.sepconv_threads = []
    original = sepconv.functional.depthwise_conv2d

    def recording(x, *args, n_threads=None, **kwargs):
        worker.sepconv_threads.append(n_threads)
        return original(x, *args, n_threads=n_threads, **kwargs)

    sepconv.functional.depthwise_conv2d = recording
    return worker.state.nthreads


def _recorded_kernel_threads(dask_worker):
    return dask_worker.sepconv_threads


def test_kernels_get_one_thread_per_worker_thread(client):
    worker_threads = client.run(_record_kernel_threads)
    assert set(worker_threads.values()) == {1}
    x = da.zeros((4, 8, 8, 1), chunks=(1, 4, 4, 1))
    # a request for 2 threads per call is lowered to the task's share
    lazy = sepconv_dask.depthwise_conv2d(x, np.ones((3, 3, 1, 1)), padding="same", n_threads=2)
    client.compute(lazy).result()
    recorded = client.run(_recorded_kernel_threads)
    assert sum(map(len, recorded.values())) == 16
    assert {n for counts in recorded.values() for n in counts} == {1}
