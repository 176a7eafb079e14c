"""sepconv.dask on Dask's local schedulers: lazy metadata, values of the NumPy API, threads.

Every value is compared with the NumPy function (or transformer) on the
whole array, which knows nothing of chunks.
"""

import pickle
import re

import feature_reference
import numpy as np
import pytest
from cases import cases
from compare import tolerance
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import sepconv
from sepconv import _dask_threads
from sepconv import dask as sepconv_dask
from sepconv._dask_plan import axis_plan
from sepconv._native import _threads
from sepconv.transformer import SeparableConvFeatures

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

RNG = np.random.default_rng(99)
FLOATS = [np.float32, np.float64]
LAYOUTS = ["channels_last", "channels_first"]

# (kernel, strides, dilation_rate, padding, depth multiplier, chunks of H and W):
# every forward option, with chunks smaller than the halo, chunks not aligned
# to the stride, strides larger than the kernel and a stride with dilation.
GEOMETRIES = [
    ((3, 3), 1, 1, "same", 1, (4, 5)),
    ((3, 3), 1, 1, "valid", 2, (4, 5)),
    ((3, 3), 2, 1, "same", 1, (5, 3)),
    ((5, 3), (2, 3), 1, "valid", 1, (6, 7)),
    ((3, 3), 1, 2, "same", 2, (2, 3)),
    ((3, 2), 2, (2, 3), "same", 3, (3, 4)),
    ((4, 4), 3, 1, "same", 1, (5, 5)),
    ((1, 1), 3, 1, "valid", 1, (4, 4)),
    ((7, 7), 1, 1, "same", 1, (1, 2)),
]


def images(dtype, layout, shape=(3, 13, 11, 3)):
    """A channels-last batch from [-1, 1] in ``layout``."""
    x = RNG.uniform(-1, 1, shape).astype(dtype)
    return np.moveaxis(x, 3, 1) if layout == "channels_first" else x


def chunked(x, layout, hw_chunks, batch=2, channels=2):
    """``x`` as a Dask array chunked along every axis."""
    spatial = dict(zip((2, 3) if layout == "channels_first" else (1, 2), hw_chunks, strict=True))
    chunks = {0: batch, 1 if layout == "channels_first" else 3: channels, **spatial}
    return da.from_array(x, chunks=tuple(chunks[a] for a in range(4)))


def check_lazy(lazy, expected, dtype, reduction):
    """Check the metadata before compute, then each block's shape and the values."""
    assert lazy.shape == expected.shape
    assert lazy.dtype == expected.dtype == dtype
    assert lazy._meta.ndim == 4 and lazy._meta.dtype == dtype
    assert tuple(map(sum, lazy.chunks)) == expected.shape
    blocks = np.empty(lazy.numblocks, dtype=object)
    blocks.ravel()[:] = dask.compute(*lazy.to_delayed().ravel(), scheduler="sync")
    for index in np.ndindex(blocks.shape):
        promised = tuple(chunks[i] for chunks, i in zip(lazy.chunks, index, strict=True))
        assert blocks[index].shape == promised and blocks[index].dtype == dtype
    out = np.block(blocks.tolist())
    assert_allclose(out, expected, **tolerance(dtype, reduction))
    return out


@st.composite
def partitions(draw, n):
    """Chunk sizes of an axis of ``n`` elements: any cut points."""
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=4))) if n > 1 else []
    return tuple(b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)) or (n,)


@given(case=cases(min_batch=1, max_side=12), data=st.data())
def test_any_chunking_of_any_geometry(case, data):
    x, dk, pk, bias = case.arrays()
    chunks = (
        data.draw(partitions(case.n)),
        *(data.draw(partitions(n)) for n in case.hw),
        data.draw(partitions(case.channels)),
    )
    lazy = sepconv_dask.separable_conv2d(
        da.from_array(x, chunks=chunks), dk, pk, bias, **case.geometry
    )
    check_lazy(
        lazy, sepconv.separable_conv2d(x, dk, pk, bias, **case.geometry), np.float64, case.reduction
    )
    bias = np.linspace(-1, 1, case.k)
    lazy = sepconv_dask.depthwise_conv2d(da.from_array(x, chunks=chunks), dk, bias, **case.geometry)
    assert lazy.chunks[3] == tuple(c * case.depth_multiplier for c in chunks[3])
    check_lazy(
        lazy, sepconv.depthwise_conv2d(x, dk, bias, **case.geometry), np.float64, case.reduction
    )


@given(
    chunks=st.integers(1, 40).flatmap(partitions),
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
)
def test_axis_plan_invariants(chunks, kernel, stride, dilation, padding):
    n, effective = sum(chunks), dilation * (kernel - 1) + 1
    if padding == "valid" and n < effective:
        return
    out = (n - effective) // stride + 1 if padding == "valid" else -(-n // stride)
    before = 0 if padding == "valid" else max((out - 1) * stride + effective - n, 0) // 2
    plan = axis_plan(chunks, kernel, stride, dilation, padding, (out, before))
    assert sum(plan.out_chunks) == out and min(plan.out_chunks) >= 1
    assert sum(plan.in_chunks) == plan.length == (out - 1) * stride + effective
    assert plan.length <= before + n + plan.pad_after
    # every block starts at its first output's window and holds at least the halo
    assert all(
        i == stride * o for i, o in zip(plan.in_chunks[:-1], plan.out_chunks[:-1], strict=True)
    )
    assert plan.in_chunks[-1] == (plan.out_chunks[-1] - 1) * stride + effective
    assert min(plan.in_chunks) >= plan.halo == max(effective - stride, 0)


@pytest.mark.parametrize(
    "layout,dtype", [("channels_last", np.float32), ("channels_first", np.float64)]
)
@pytest.mark.parametrize("kernel,strides,dilation,padding,dm,hw_chunks", GEOMETRIES)
def test_separable(kernel, strides, dilation, padding, dm, hw_chunks, dtype, layout):
    x = images(dtype, layout)
    dk = RNG.uniform(-1, 1, (*kernel, 3, dm)).astype(dtype)
    pk = RNG.uniform(-1, 1, (1, 1, 3 * dm, 4)).astype(dtype)
    bias = RNG.uniform(-1, 1, 4).astype(dtype)
    options = dict(
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        data_format=layout,
        activation="relu",
    )
    lazy = sepconv_dask.separable_conv2d(chunked(x, layout, hw_chunks), dk, pk, bias, **options)
    expected = sepconv.separable_conv2d(x, dk, pk, bias, **options)
    check_lazy(lazy, expected, dtype, kernel[0] * kernel[1] * 3 * dm + 1)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kernel,strides,dilation,padding,dm,hw_chunks", GEOMETRIES[1::3])
def test_depthwise(kernel, strides, dilation, padding, dm, hw_chunks, layout):
    x = images(np.float32, layout)
    dk = RNG.uniform(-1, 1, (*kernel, 3, dm)).astype(np.float32)
    options = dict(strides=strides, padding=padding, dilation_rate=dilation, data_format=layout)
    lazy = sepconv_dask.depthwise_conv2d(chunked(x, layout, hw_chunks), dk, **options)
    expected = sepconv.depthwise_conv2d(x, dk, **options)
    check_lazy(lazy, expected, np.float32, kernel[0] * kernel[1])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_pointwise(dtype, layout):
    x = images(dtype, layout)
    pk = RNG.uniform(-1, 1, (3, 6)).astype(dtype)
    bias = RNG.uniform(-1, 1, 6).astype(dtype)
    lazy = sepconv_dask.pointwise_conv2d(
        chunked(x, layout, (5, 6)), pk, bias, data_format=layout, activation=np.tanh
    )
    expected = sepconv.pointwise_conv2d(x, pk, bias, data_format=layout, activation=np.tanh)
    out = check_lazy(lazy, expected, dtype, 4)
    spatial = (2, 3) if layout == "channels_first" else (1, 2)
    assert [lazy.chunks[a] for a in spatial] == [(5, 5, 3), (6, 5)]
    assert out.shape[spatial[0]] == 13


def test_mixed_dtypes_compute_in_float64():
    x = images(np.float32, "channels_last")
    dk, pk = np.ones((3, 3, 3, 1)), np.ones((3, 2))
    lazy = sepconv_dask.separable_conv2d(
        chunked(x, "channels_last", (6, 6)), dk, pk, padding="same"
    )
    check_lazy(lazy, sepconv.separable_conv2d(x, dk, pk, padding="same"), np.float64, 28)


def test_output_chunks_follow_the_input_at_stride_one():
    x = da.zeros((4, 20, 20, 3), chunks=(2, 5, 10, 3))
    lazy = sepconv_dask.separable_conv2d(x, np.ones((3, 3, 3, 1)), np.ones((3, 2)), padding="same")
    assert lazy.chunks == ((2, 2), (5, 5, 5, 5), (10, 10), (2,))


def test_strided_output_chunks_hold_whole_input_runs():
    x = da.zeros((1, 20, 9, 1), chunks=(1, 7, 9, 1))
    lazy = sepconv_dask.depthwise_conv2d(x, np.ones((3, 3, 1, 1)), strides=2, padding="same")
    # input cut at 7 and 14 -> outputs cut at 7 // 2 = 3 and 14 // 2 = 7
    assert lazy.chunks == ((1,), (3, 4, 3), (5,), (1,))


def test_chunks_smaller_than_the_halo_are_merged():
    x = images(np.float64, "channels_last", (2, 12, 12, 1))
    dk = RNG.uniform(-1, 1, (3, 3, 1, 1))
    lazy = sepconv_dask.depthwise_conv2d(
        da.from_array(x, chunks=(1, 1, 2, 1)), dk, dilation_rate=3, padding="same"
    )
    # halo 6: every chunk but the last holds at least 6 rows
    assert lazy.chunks[1] == (6, 6) and lazy.chunks[2] == (6, 6)
    check_lazy(
        lazy, sepconv.depthwise_conv2d(x, dk, dilation_rate=3, padding="same"), np.float64, 9
    )


class RecordingArray:
    """An array-like that records the slices Dask reads from it."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, 4
        self.reads = []

    def __getitem__(self, index):
        self.reads.append(tuple(s.indices(n)[:2] for s, n in zip(index, self.shape, strict=True)))
        return self.array[index]


def test_one_output_chunk_reads_only_the_input_chunks_its_window_touches():
    source = RecordingArray(np.ones((2, 40, 40, 1)))
    x = da.from_array(source, chunks=(1, 10, 10, 1), asarray=True)
    lazy = sepconv_dask.separable_conv2d(
        x, np.ones((3, 3, 1, 1)), np.ones((1, 2)), padding="same", strides=1
    )
    source.reads.clear()  # Dask reads empty slices for metadata
    block = lazy.blocks[1, 1, 1, 0].compute(scheduler="sync")
    assert block.shape == (1, 10, 10, 2)
    rows = {read[1] for read in source.reads}
    cols = {read[2] for read in source.reads}
    # the block's own chunk and the neighbours its 3x3 window reaches
    assert {read[0] for read in source.reads} == {(1, 2)}
    assert rows <= {(0, 10), (10, 20), (20, 30)} and (10, 20) in rows
    assert cols <= {(0, 10), (10, 20), (20, 30)} and (10, 20) in cols
    assert len(source.reads) <= 9


def test_zarr_in_and_out(tmp_path):
    zarr = pytest.importorskip("zarr")
    x = images(np.float32, "channels_first", (4, 20, 18, 2))
    da.from_array(x, chunks=(2, 1, 8, 8)).to_zarr(str(tmp_path / "in.zarr"))
    dk, pk = RNG.uniform(-1, 1, (3, 3, 2, 2)), RNG.uniform(-1, 1, (4, 3))
    lazy = sepconv_dask.separable_conv2d(
        da.from_zarr(str(tmp_path / "in.zarr")),
        dk,
        pk,
        strides=2,
        padding="same",
        data_format="channels_first",
    )
    lazy.to_zarr(str(tmp_path / "out.zarr"))
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")[...]
    assert_allclose(
        out,
        sepconv.separable_conv2d(
            x, dk, pk, strides=2, padding="same", data_format="channels_first"
        ),
        **tolerance(np.float64, 37),
    )


def test_kernels_enter_the_graph_once():
    dk = np.ones((3, 3, 1, 1000))
    x = da.zeros((8, 16, 16, 1), chunks=(1, 4, 4, 1))
    lazy = sepconv_dask.depthwise_conv2d(x, dk, padding="same")
    graph = dict(lazy.__dask_graph__())
    assert lazy.numblocks == (8, 4, 4, 1)
    assert sum(len(pickle.dumps(task)) >= dk.nbytes for task in graph.values()) == 1


class TestErrors:
    """Bad arguments raise before any compute, with the NumPy API's messages."""

    def test_rank(self):
        with pytest.raises(
            ValueError,
            match=re.escape(
                "`x` must be 4-D (batch, height, width, channels); received an array of "
                "shape (2, 3, 4)"
            ),
        ):
            sepconv_dask.separable_conv2d(
                da.zeros((2, 3, 4)), np.ones((3, 3, 4, 1)), np.ones((4, 2))
            )

    def test_unknown_chunk_sizes(self):
        x = da.zeros((4, 5, 5, 1), chunks=2)
        x = x[x[:, 0, 0, 0] > -1]
        with pytest.raises(
            ValueError,
            match=r"`x` has unknown chunk sizes \(shape \(nan, 5, "
            r"5, 1\)\); call x.compute_chunk_sizes\(\)",
        ):
            sepconv_dask.depthwise_conv2d(x, np.ones((3, 3, 1, 1)))

    def test_channel_mismatch(self):
        with pytest.raises(
            ValueError, match=re.escape("`depthwise_kernel` has 2 input channels but `x` has 3")
        ):
            sepconv_dask.depthwise_conv2d(da.zeros((1, 5, 5, 3)), np.ones((3, 3, 2, 1)))

    def test_pointwise_channels(self):
        with pytest.raises(
            ValueError,
            match=re.escape("`pointwise_kernel` has 4 input channels but the channels of `x` = 3"),
        ):
            sepconv_dask.pointwise_conv2d(da.zeros((1, 5, 5, 3)), np.ones((4, 2)))

    def test_empty_valid_output(self):
        with pytest.raises(
            ValueError,
            match=re.escape(
                "the output would be empty: input of spatial shape (5, 5) with kernel (7, 7)"
            ),
        ):
            sepconv_dask.separable_conv2d(
                da.zeros((1, 5, 5, 1)), np.ones((7, 7, 1, 1)), np.ones((1, 1))
            )

    @pytest.mark.parametrize(
        "argument,value,error,message",
        [
            ("padding", "full", ValueError, "padding"),
            (
                "strides",
                0,
                ValueError,
                "`strides` values must be positive integers; received strides=0",
            ),
            ("dilation_rate", (1, 2, 3), ValueError, "dilation_rate=(1, 2, 3)"),
            ("data_format", "nhwc", ValueError, "data_format"),
            ("activation", "tanh", ValueError, "received activation='tanh'"),
            (
                "n_threads",
                0,
                ValueError,
                "`n_threads` must be a nonzero integer or None; received n_threads=0",
            ),
            ("n_threads", 1.5, TypeError, "received n_threads=1.5"),
        ],
    )
    def test_bad_keyword(self, argument, value, error, message):
        with pytest.raises(error, match=re.escape(message)):
            sepconv_dask.depthwise_conv2d(
                da.zeros((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), **{argument: value}
            )

    def test_not_real_numbers(self):
        with pytest.raises(TypeError, match="`x` must hold real numbers"):
            sepconv_dask.pointwise_conv2d(da.zeros((1, 2, 2, 1), dtype=complex), np.ones((1, 1)))


class TestThreads:
    """The thread counts the kernels are given inside the tasks."""

    @pytest.fixture
    def recorded(self, monkeypatch):
        counts = []
        original = sepconv.functional.depthwise_conv2d

        def recording(x, *args, n_threads=None, **kwargs):
            if len(x):  # not the empty probe that sizes the output
                counts.append(n_threads)
            return original(x, *args, n_threads=n_threads, **kwargs)

        monkeypatch.setattr(sepconv.functional, "depthwise_conv2d", recording)
        return counts

    def run(self, **options):
        x = da.zeros((4, 8, 8, 1), chunks=(1, 4, 4, 1))
        sepconv_dask.depthwise_conv2d(x, np.ones((3, 3, 1, 1)), padding="same").compute(**options)

    def test_synchronous_scheduler_gives_all_cores(self, recorded):
        self.run(scheduler="sync")
        assert recorded == [_threads.effective_n_threads()] * 16

    def test_threaded_scheduler_divides_the_cores_by_its_pool(self, recorded):
        with dask.config.set(num_workers=2):
            self.run(scheduler="threads")
        assert recorded == [max(1, _threads.cpu_count() // 2)] * 16

    def test_a_distributed_worker_with_two_threads_gives_each_task_one(self, recorded):
        distributed = pytest.importorskip("distributed")
        # in-process: no nanny sets OMP_NUM_THREADS, so only the share rule limits
        with distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster:
            with distributed.Client(cluster) as client:
                self.run(scheduler=client)
        assert recorded == [1] * 16

    def test_share_lowers_an_explicit_request(self, monkeypatch):
        monkeypatch.setattr(_threads, "cpu_count", lambda: 8)
        monkeypatch.setattr(_threads, "effective_n_threads", lambda n: n)
        with dask.config.set(num_workers=2):
            counts = dask.compute(
                *[dask.delayed(_dask_threads.task_threads)(6) for _ in range(4)],
                scheduler="threads",
            )
        assert counts == (4,) * 4
        assert _dask_threads.task_threads(6) == 6


# --------------------------------------------------------------------------
# The transformer


def expected_features(est, images):
    return feature_reference.features(
        images, est.depthwise_kernel_, est.pointwise_kernel_, grid=(2, 2)
    )


def never_computed(shape, dtype, chunks):
    """A Dask array whose blocks raise if anything computes them."""

    def fail(block):
        raise AssertionError("the data was computed")

    return da.zeros(shape, dtype=dtype, chunks=chunks).map_blocks(fail, dtype=dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_rows(dtype):
    images = RNG.random((23, 6, 6, 1)).astype(dtype)
    est = SeparableConvFeatures(filters=5, random_state=0).fit(images.reshape(23, -1))
    lazy = sepconv_dask.transform(est, da.from_array(images.reshape(23, -1), chunks=(10, 12)))
    assert lazy.shape == (23, 20)
    assert lazy.chunks == ((10, 10, 3), (20,))
    assert lazy.dtype == dtype
    out = lazy.compute()
    assert out.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert_allclose(out, expected_features(est, images), rtol=rtol, atol=1e-6)


def test_image_batch():
    images = RNG.random((9, 5, 7, 3))
    est = SeparableConvFeatures(filters=4, random_state=1).fit(images)
    lazy = sepconv_dask.transform(est, da.from_array(images, chunks=(4, 2, 7, 1)))
    assert lazy.shape == (9, 16) and lazy.chunks == ((4, 4, 1), (16,))
    assert_allclose(lazy.compute(), expected_features(est, images), rtol=1e-10)


@pytest.mark.parametrize("shape", [(9, 5, 7, 3), (9, 105)])
def test_blocks_reach_the_transform_uncopied(monkeypatch, shape):
    # A copy of every block (map_blocks' drop_axis concatenates even a single
    # block) cost 7.5% of a worker's task time on 256 x 256 images.
    images = RNG.random(shape)
    est = SeparableConvFeatures(filters=4, random_state=1).fit(images)
    made, seen = [], []
    transform = SeparableConvFeatures.transform

    def record(block):
        made.append(block)
        return block

    def spy(self, X):
        seen.append(any(X is block for block in made))
        return transform(self, X)

    monkeypatch.setattr(SeparableConvFeatures, "transform", spy)
    chunks = (4,) + images.shape[1:]
    blocks = da.from_array(images, chunks=chunks).map_blocks(record, dtype=images.dtype)
    sepconv_dask.transform(est, blocks).compute(scheduler="sync")
    assert seen == [True] * 3


def test_read_transform_and_write_fuse_into_one_task_a_chunk(tmp_path):
    # With the estimator as a key of its own, each transform task had two
    # inputs and Dask kept zarr's read of the chunk a task apart: one
    # scheduler round trip more a chunk, 7% of a one-worker run.
    pytest.importorskip("zarr")
    images = RNG.random((12, 8, 8, 2)).astype(np.float32)
    da.from_array(images, chunks=(3, 8, 8, 2)).to_zarr(str(tmp_path / "in.zarr"))
    est = SeparableConvFeatures(filters=3, random_state=0).fit(images)
    lazy = est.transform(da.from_zarr(str(tmp_path / "in.zarr")))
    store = lazy.to_zarr(str(tmp_path / "out.zarr"), compute=False)
    (optimized,) = dask.optimize(store)
    graph = dict(optimized.__dask_graph__())
    computing = [key for key, task in graph.items() if type(task).__name__ == "Task"]
    assert len(computing) == 4, sorted(map(str, computing))
    store.compute(scheduler="sync")
    out = da.from_zarr(str(tmp_path / "out.zarr")).compute()
    assert_allclose(out, expected_features(est, images), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("filters,in_every_task", [(4, True), (2048, False)])
def test_the_estimator_is_in_every_task_unless_over_1_mib(filters, in_every_task):
    # 64 x 2048 float64 pointwise weights pickle to just over the 1 MiB
    # past which the estimator is a key of its own.
    images = np.zeros((8, 4, 4, 64))
    est = SeparableConvFeatures(filters=filters, random_state=0).fit(images)
    lazy = est.transform(da.zeros(images.shape, chunks=2))  # tasks that hold no data
    graph = dict(lazy.__dask_graph__())
    size = len(pickle.dumps(est))
    holding = sum(len(pickle.dumps(task)) >= size for task in graph.values())
    assert holding == (4 if in_every_task else 1)
    assert_allclose(lazy[:2].compute(), est.transform(images[:2]), rtol=1e-10)


@pytest.mark.parametrize("shape,chunks", [((12, 36), (5, 36)), ((12, 6, 6, 1), (5, 3, 6, 1))])
def test_fit_on_dask_reads_only_the_shape(shape, chunks):
    lazy_fit = SeparableConvFeatures(filters=3, random_state=0).fit(
        never_computed(shape, np.float32, chunks)
    )
    images = RNG.random(shape).astype(np.float32)
    numpy_fit = SeparableConvFeatures(filters=3, random_state=0).fit(images)
    for name in ("n_features_in_", "image_shape_", "n_features_out_"):
        assert getattr(lazy_fit, name) == getattr(numpy_fit, name)
    assert_allclose(lazy_fit.depthwise_kernel_, numpy_fit.depthwise_kernel_)
    lazy = lazy_fit.transform(da.from_array(images, chunks=chunks))
    assert lazy.shape == (12, lazy_fit.n_features_out_) and lazy.chunks[0] == (5, 5, 2)
    assert lazy.dtype == np.float32
    assert_allclose(lazy.compute(), numpy_fit.transform(images), rtol=1e-5, atol=1e-6)


def test_fit_on_dask_checks_the_shape_with_the_numpy_messages():
    est = SeparableConvFeatures(image_shape=(5, 5))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`image_shape`=(5, 5) holds 25 values per image but X has 36 features per row"
        ),
    ):
        est.fit(never_computed((4, 36), np.float64, 2))
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        SeparableConvFeatures().fit(da.zeros((0, 4)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "X must be 2-D (n_samples, n_features) or a 4-D image batch; received an array "
            "of shape (3, 2, 2)"
        ),
    ):
        SeparableConvFeatures().fit(da.zeros((3, 2, 2)))


def test_non_finite_values_raise_when_their_block_is_computed():
    images = np.ones((6, 16))
    images[4, 3] = np.nan
    est = SeparableConvFeatures(filters=2).fit(da.from_array(images, chunks=3))
    lazy = est.transform(da.from_array(images, chunks=3))
    assert lazy.blocks[0].compute().shape == (3, 8)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        lazy.compute()


def test_incremental_pca_over_blocks():
    from sklearn.decomposition import IncrementalPCA

    images = RNG.random((40, 64)).astype(np.float32)
    est = SeparableConvFeatures(filters=4, random_state=0).fit(images)
    lazy = est.transform(da.from_array(images, chunks=10))
    pca = IncrementalPCA(n_components=3)
    for block in lazy.blocks:
        pca.partial_fit(block.compute())
    reference = IncrementalPCA(n_components=3, batch_size=10).fit(est.transform(images))
    assert_allclose(np.abs(pca.components_), np.abs(reference.components_), rtol=1e-3, atol=1e-4)


def test_transform_threads_are_the_task_share(monkeypatch):
    counts = []
    original = SeparableConvFeatures._maps

    def recording(self, images, kernels):
        counts.append(self.n_jobs)
        return original(self, images, kernels)

    images = RNG.random((8, 16))
    est = SeparableConvFeatures(filters=2, n_jobs=-1).fit(images)
    monkeypatch.setattr(SeparableConvFeatures, "_maps", recording)
    with dask.config.set(num_workers=2):
        est.transform(da.from_array(images, chunks=2)).compute(scheduler="threads")
    assert counts == [max(1, _threads.cpu_count() // 2)] * 4
    assert est.n_jobs == -1


def test_pandas_output_configuration_still_gives_arrays():
    pytest.importorskip("pandas")
    images = RNG.random((6, 4, 4, 1))
    est = SeparableConvFeatures(filters=2, random_state=2).set_output(transform="pandas")
    est.fit(images.reshape(6, -1))
    out = sepconv_dask.transform(est, da.from_array(images.reshape(6, -1), chunks=3)).compute()
    assert isinstance(out, np.ndarray)
    assert_allclose(out, expected_features(est, images), rtol=1e-10)


def test_errors():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="This SeparableConvFeatures instance is not fitted"):
        sepconv_dask.transform(SeparableConvFeatures(), da.ones((2, 4)))
    est = SeparableConvFeatures(filters=2).fit(np.ones((2, 4)))
    with pytest.raises(
        ValueError,
        match=r"X must be a 2-D \(n_samples, n_features\) or 4-D "
        r"image Dask array; received shape \(2, 2, 2\)",
    ):
        sepconv_dask.transform(est, da.ones((2, 2, 2)))
