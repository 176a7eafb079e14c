"""The functional API against the NumPy reference (tests/reference.py).

Hypothesis walks the whole configuration space; targeted tests pin the
kernel paths (planar and "rows" depthwise, loop and GEMM pointwise), every ISA
build, tiling, thread counts, dtypes, memory layouts and non-finite values.
"""

import numpy as np
import pytest
from cases import Case, cases
from compare import assert_close, from_layout, to_layout, tolerance
from hypothesis import given
from hypothesis import strategies as st

import sepconv
from sepconv import config, functional
from sepconv._native import _blas, _dispatch, _tiling

FLOATS = [np.float32, np.float64]
LAYOUTS = ["channels_last", "channels_first"]
# Activations as the API takes them, and what each does to the reference result.
ACTIVATIONS = {
    "none": (None, lambda y: y),
    "linear": ("linear", lambda y: y),
    "relu": ("relu", lambda y: np.maximum(y, 0)),
    "RELU": ("RELU", lambda y: np.maximum(y, 0)),
    "callable": (np.tanh, np.tanh),
}
# (channels, depth multiplier) on either side of the kernels' threshold of 8
# depthwise channels, which switches the depthwise layout ("planar" or "rows")
# and the pointwise method (plain loop or BLAS GEMM).
K_SPLITS = [(1, 1), (4, 2), (8, 1), (3, 3), (9, 1), (16, 1), (5, 4)]


def _check_separable(case, dtype, layout, use_bias=True, activation="none", **kwargs):
    x, dk, pk, bias = case.arrays(dtype)
    bias = bias if use_bias else None
    act, act_ref = ACTIVATIONS[activation]
    y = sepconv.separable_conv2d(
        to_layout(x, layout),
        dk,
        pk,
        bias,
        data_format=layout,
        activation=act,
        **case.geometry,
        **kwargs,
    )
    assert y.dtype == dtype
    assert_close(
        from_layout(y, layout), act_ref(case.expected(x, dk, pk, bias)), dtype, case.reduction
    )
    return y


def _check_depthwise(case, dtype, layout, use_bias=True, activation="none", **kwargs):
    x, dk, _, _ = case.arrays(dtype)
    bias = np.linspace(-1, 1, case.k).astype(dtype) if use_bias else None
    act, act_ref = ACTIVATIONS[activation]
    y = sepconv.depthwise_conv2d(
        to_layout(x, layout),
        dk,
        bias,
        data_format=layout,
        activation=act,
        **case.geometry,
        **kwargs,
    )
    expected = case.expected_depthwise(x, dk) + (0 if bias is None else bias)
    assert y.dtype == dtype
    assert_close(
        from_layout(y, layout), act_ref(expected), dtype, case.kernel[0] * case.kernel[1] + 1
    )
    return y


def _check_pointwise(case, dtype, layout, use_bias=True, activation="none", matrix=False, **kwargs):
    # the image x of the case, with C * depth_multiplier channels, is the input here
    rng = np.random.default_rng(case.seed)
    x = rng.uniform(-1, 1, (case.n, *case.hw, case.k)).astype(dtype)
    pk = rng.uniform(-1, 1, (1, 1, case.k, case.filters)).astype(dtype)
    bias = rng.uniform(-1, 1, case.filters).astype(dtype) if use_bias else None
    act, act_ref = ACTIVATIONS[activation]
    y = sepconv.pointwise_conv2d(
        to_layout(x, layout),
        pk[0, 0] if matrix else pk,
        bias,
        data_format=layout,
        activation=act,
        **kwargs,
    )
    expected = np.einsum("nhwk,kf->nhwf", x.astype(np.float64), pk[0, 0].astype(np.float64))
    expected = expected + (0 if bias is None else bias)
    assert y.dtype == dtype
    assert_close(from_layout(y, layout), act_ref(expected), dtype, case.k + 1)
    return y


# --------------------------------------------------------------------------
# The whole configuration space

config_space = dict(
    case=cases(),
    dtype=st.sampled_from(FLOATS),
    layout=st.sampled_from(LAYOUTS),
    use_bias=st.booleans(),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
)


@given(**config_space)
def test_separable_matches_reference(case, dtype, layout, use_bias, activation):
    _check_separable(case, dtype, layout, use_bias, activation)


@given(**config_space)
def test_depthwise_matches_reference(case, dtype, layout, use_bias, activation):
    _check_depthwise(case, dtype, layout, use_bias, activation)


@given(**config_space, matrix=st.booleans())
def test_pointwise_matches_reference(case, dtype, layout, use_bias, activation, matrix):
    _check_pointwise(case, dtype, layout, use_bias, activation, matrix=matrix)


@given(
    case=cases(max_side=4, max_kernel=9, max_dilation=2, paddings=("same",)),
    layout=st.sampled_from(LAYOUTS),
)
def test_same_padding_kernel_larger_than_image(case, layout):
    _check_separable(case, np.float64, layout)


# --------------------------------------------------------------------------
# Kernel paths and builds


@pytest.mark.parametrize("channels,depth_multiplier", K_SPLITS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_every_isa_build(isa_level, channels, depth_multiplier, layout, dtype):
    assert _dispatch.kernels is _dispatch.kernels_for(isa_level)
    case = Case(
        n=2,
        hw=(11, 7),
        channels=channels,
        depth_multiplier=depth_multiplier,
        filters=10,
        kernel=(3, 2),
        strides=(2, 1),
        dilation=(1, 2),
        padding="same",
        seed=channels * 10 + depth_multiplier,
    )
    _check_separable(case, dtype, layout, activation="relu")
    _check_depthwise(case, dtype, layout)
    _check_pointwise(case, dtype, layout)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_isa_builds_strided_dilated(isa_level, padding, layout):
    case = Case(
        n=1,
        hw=(13, 12),
        channels=5,
        depth_multiplier=2,
        filters=3,
        kernel=(3, 3),
        strides=(2, 3),
        dilation=(2, 2),
        padding=padding,
        seed=7,
    )
    _check_separable(case, np.float32, layout)
    _check_depthwise(case, np.float32, layout)


@pytest.mark.parametrize("kernel", [(1, 1), (1, 5), (5, 1), (7, 7)])
@pytest.mark.parametrize("hw", [(1, 1), (1, 9), (9, 1), (5, 7)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_tiny_and_odd_images_under_same(kernel, hw, layout):
    case = Case(
        n=1,
        hw=hw,
        channels=3,
        depth_multiplier=1,
        filters=2,
        kernel=kernel,
        padding="same",
        seed=hw[0] * 10 + hw[1],
    )
    _check_separable(case, np.float64, layout)


@pytest.mark.parametrize(
    "strides,dilation", [((1, 1), (3, 1)), ((3, 1), (1, 1)), ((2, 3), (3, 2)), ((3, 3), (2, 2))]
)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_strides_with_dilation(strides, dilation, padding):
    case = Case(
        n=1,
        hw=(15, 14),
        channels=10,
        depth_multiplier=1,
        filters=4,
        kernel=(3, 3),
        strides=strides,
        dilation=dilation,
        padding=padding,
        seed=3,
    )
    for layout in LAYOUTS:
        _check_separable(case, np.float64, layout)


def test_integer_geometry_forms():
    case = Case(
        n=1,
        hw=(9, 9),
        channels=2,
        depth_multiplier=1,
        filters=2,
        kernel=(3, 3),
        strides=(2, 2),
        dilation=(1, 1),
        padding="same",
        seed=5,
    )
    x, dk, pk, bias = case.arrays()
    expected = case.expected(x, dk, pk, bias)
    for strides in (2, np.int64(2), [2, 2], (np.int32(2), 2), np.array([2, 2])):
        y = sepconv.separable_conv2d(
            x,
            dk,
            pk,
            bias,
            strides=strides,
            padding="SAME",
            dilation_rate=np.int8(1),
            data_format="Channels_Last",
        )
        assert_close(y, expected, np.float64, case.reduction)


def test_data_format_none_follows_config(monkeypatch):
    case = Case(n=2, hw=(6, 5), channels=3, depth_multiplier=2, filters=4, kernel=(2, 3))
    x, dk, pk, bias = case.arrays()
    monkeypatch.setitem(config._state, "image_data_format", "channels_first")
    y = sepconv.separable_conv2d(to_layout(x, "channels_first"), dk, pk, bias, data_format=None)
    assert_close(
        from_layout(y, "channels_first"), case.expected(x, dk, pk, bias), np.float64, case.reduction
    )


# --------------------------------------------------------------------------
# Tiles and threads


@pytest.mark.parametrize("tile_bytes", [1, 4096, _tiling.TILE_BYTES])
@pytest.mark.parametrize("channels,depth_multiplier", [(3, 2), (6, 3)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_results_do_not_depend_on_tiles_or_threads(
    monkeypatch, tile_bytes, channels, depth_multiplier, layout
):
    monkeypatch.setattr(_tiling, "TILE_BYTES", tile_bytes)
    case = Case(
        n=2,
        hw=(67, 9),
        channels=channels,
        depth_multiplier=depth_multiplier,
        filters=5,
        kernel=(3, 3),
        strides=(1, 2),
        padding="same",
        seed=11,
    )
    results = [_check_separable(case, np.float32, layout, n_threads=t) for t in (1, 2, 3)]
    results += [_check_depthwise(case, np.float32, layout, n_threads=t) for t in (1, 2, 3)]
    results += [_check_pointwise(case, np.float32, layout, n_threads=t) for t in (1, 2, 3)]
    for a, b in [(0, 1), (0, 2), (3, 4), (3, 5), (6, 7), (6, 8)]:
        np.testing.assert_allclose(results[a], results[b], **tolerance(np.float32, 4))


@pytest.mark.parametrize("gemm_pixels", [0, 8, 24])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_tile_gemm_cut_into_calls(isa_level, monkeypatch, gemm_pixels, layout, dtype):
    # where OpenBLAS has small-matrix kernels, a tile's GEMM goes as calls of
    # gemm_pixels pixels (0: one call); 8 and 24 leave a shorter last call
    monkeypatch.setattr(_blas, "gemm_pixels", lambda channels, filters: gemm_pixels)
    case = Case(
        n=2,
        hw=(13, 11),
        channels=12,
        depth_multiplier=1,
        filters=5,
        kernel=(3, 3),
        padding="same",
        seed=3,
    )
    _check_separable(case, dtype, layout)
    _check_pointwise(case, dtype, layout)


def test_many_tiles_per_image(isa_level):
    # output rows far more than one tile holds at the default tile size
    rows = _tiling.rows_per_tile(1, (300, 40), (16 + 8) * 4, 1)
    assert 300 / rows > 2
    case = Case(
        n=1,
        hw=(300, 40),
        channels=16,
        depth_multiplier=1,
        filters=8,
        kernel=(3, 3),
        padding="same",
        seed=2,
    )
    for layout in LAYOUTS:
        _check_separable(case, np.float32, layout, n_threads=1)


def test_tiles_hold_a_pointwise_matrix_larger_than_the_tile_budget():
    # 400 x 400 float32 is 640 KiB: tiles grow to hold as many bytes
    wide = _tiling.rows_per_tile(2, (40, 40), 800 * 4, 1, 400 * 400 * 4)
    narrow = _tiling.rows_per_tile(2, (40, 40), 800 * 4, 1, 100 * 100 * 4)
    assert wide > narrow == _tiling.rows_per_tile(2, (40, 40), 800 * 4, 1)


def test_whole_image_tiles_are_shared_equally():
    # MobileNet's (32, 7, 7, 1024) -> 1024: eight tiles of four images on two
    # threads (halving gave eleven of three, one thread doing six); one
    # thread wants no more tiles than the tile budget (four matrices' bytes:
    # forty of these images) makes
    per_pixel, matrix = 2 * 1024 * 4, 1024 * 1024 * 4
    assert _tiling.images_per_tile(32, (7, 7), per_pixel, 2, matrix) == 4
    assert _tiling.images_per_tile(32, (7, 7), per_pixel, 1, matrix) == 32
    assert _tiling.images_per_tile(320, (7, 7), per_pixel, 1, matrix) == 40
    # Xception's (32, 19, 19, 728) -> 728: four images (1444 pixels, twice the
    # channels) a GEMM, where one matrix's bytes held one image
    per_pixel, matrix = 2 * 728 * 4, 728 * 728 * 4
    assert _tiling.rows_per_tile(32, (19, 19), per_pixel, 2, matrix) == 19
    assert _tiling.images_per_tile(32, (19, 19), per_pixel, 2, matrix) == 4
    # the budget stops growing at WIDE_TILE_CAP: 2048 x 2048 gets 2048 pixels
    per_pixel, matrix = 2 * 2048 * 4, 2048 * 2048 * 4
    assert _tiling.rows_per_tile(1, (2048, 1), per_pixel, 1, matrix) == 2048
    assert _tiling.rows_per_tile(1, (4096, 1), per_pixel, 1, matrix) == 2048


def test_wide_layers_take_the_schedule_that_packs_fewer_bytes():
    # (rows, images, slices, tiles) of separable's schedule, float32
    def schedule(n, hw, channels, filters, threads):
        return functional._schedule(n, hw, channels, filters, 4, threads, "channels_last")

    # MobileNet's (32, 7, 7, 1024) -> 1024: on two threads eight tiles pack
    # the 4 MiB matrix eight times (32 MiB), eight slices would pack the 6 MiB
    # depthwise result eight times; on one thread one tile packs each once
    assert schedule(32, (7, 7), 1024, 1024, 2) == (7, 4, 0, 8)
    assert schedule(32, (7, 7), 1024, 1024, 1) == (7, 32, 0, 1)
    # one 19x19 image into 728 x 728, and Xception's exit flow: four slices a
    # thread, taken as threads come free
    assert schedule(1, (19, 19), 728, 728, 2)[2] == 8
    assert schedule(8, (10, 10), 1536, 2048, 2)[2] == 8
    assert schedule(1, (19, 19), 728, 728, 1)[2] == 1
    # Xception's middle flow and MobileNet's (32, 14, 14, 512) -> 512: their
    # batches' depthwise results (34 and 13 MiB) are larger than two threads'
    # tiles hold, and tiles pack fewer bytes
    assert schedule(32, (19, 19), 728, 728, 2) == (19, 4, 0, 8)
    assert schedule(32, (14, 14), 512, 512, 2)[2] == 0
    # a narrow matrix always goes in tiles
    assert schedule(1, (19, 19), 128, 128, 2)[2] == 0


def test_pointwise_tiles_span_the_images_of_a_channels_last_batch():
    # (pixels, slices, tiles) of pointwise's schedule, float32, all the
    # batch's pixels as one image (channels_last)
    def schedule(pixels, channels, filters, threads, fmt="channels_last"):
        return functional._pointwise_schedule(1, pixels, channels, filters, 4, threads, fmt)

    # Xception's (32, 19, 19, 728) -> 728: eight equal tiles of four images'
    # pixels, where a tile a 361-pixel image packed the matrix 32 times
    assert schedule(32 * 19 * 19, 728, 728, 1) == (1444, 0, 8)
    assert schedule(32 * 19 * 19, 728, 728, 2) == (1444, 0, 8)
    # (8, 28, 28, 512) -> 512 on two threads: eight tiles, not thirteen
    assert schedule(8 * 28 * 28, 512, 512, 2) == (784, 0, 8)
    # MobileNet's (32, 7, 7, 1024) -> 1024: one GEMM on one thread
    assert schedule(32 * 7 * 7, 1024, 1024, 1) == (1568, 0, 1)
    assert schedule(32 * 7 * 7, 1024, 1024, 2) == (196, 0, 8)  # eight equal tiles
    assert schedule(361, 728, 728, 2)[1:] == (8, 8)  # one 19x19 image: eight slices
    # channels_first keeps tiles within an image, and no slices
    assert functional._pointwise_schedule(32, 49, 1024, 1024, 4, 2, "channels_first")[1] == 0


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 3, 7])
def test_pointwise_tiles_across_images(isa_level, monkeypatch, n_threads, n):
    # tiles of a few pixels that start and end inside images, a last tile
    # shorter, several images a tile, against NumPy
    monkeypatch.setattr(_tiling, "TILE_BYTES", 2048)  # twelve of these pixels
    case = Case(
        n=n,
        hw=(5, 3),
        channels=16,
        depth_multiplier=1,
        filters=24,
        kernel=(1, 1),
        padding="valid",
        seed=13,
    )
    per_pixel = (16 + 24) * 4
    pixels = _tiling.batch_pixels_per_tile(n * 15, per_pixel, n_threads, 16 * 24 * 4)
    assert pixels < n * 15 and (n == 1 or pixels != 15)
    _check_pointwise(case, np.float32, "channels_last", n_threads=n_threads)
    _check_pointwise(case, np.float64, "channels_last", n_threads=n_threads, activation="relu")


@pytest.mark.parametrize("channels,depth_multiplier", [(20, 1), (6, 2), (3, 1)])
@pytest.mark.parametrize("n", [1, 5, 9])
def test_several_images_per_tile(isa_level, monkeypatch, channels, depth_multiplier, n):
    # small images share a tile's GEMM (channels_last): the rows path, the
    # planar path, and a last tile with fewer images
    # (10 kB: four of the 20-channel images a tile in float32, two in float64)
    monkeypatch.setattr(_tiling, "TILE_BYTES", 10_000)
    assert _tiling.images_per_tile(9, (4, 5), 100, 1, 0) == 5  # a last tile of four
    assert _tiling.images_per_tile(9, (4, 5), 100, 2, 0) == 2  # a last tile of one
    case = Case(
        n=n,
        hw=(4, 5),
        channels=channels,
        depth_multiplier=depth_multiplier,
        filters=7,
        kernel=(3, 3),
        padding="same",
        seed=n,
    )
    for dtype in FLOATS:
        _check_separable(case, dtype, "channels_last", n_threads=1)
        _check_separable(case, dtype, "channels_last", n_threads=2)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_wide_layer_with_large_tiles(isa_level, layout):
    case = Case(
        n=2,
        hw=(12, 9),
        channels=400,
        depth_multiplier=1,
        filters=400,
        kernel=(3, 3),
        padding="same",
        seed=8,
    )
    _check_separable(case, np.float32, layout)
    _check_pointwise(case, np.float32, layout)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("strides,filters", [((1, 1), 1000), ((2, 1), 1090)])
def test_wide_layer_in_filter_slices(isa_level, dtype, n_threads, strides, filters):
    # a small batch beside a wide matrix: the depthwise result of the batch
    # first, then the matrix in column slices (the last one narrower)
    case = Case(
        n=3,
        hw=(7, 6),
        channels=300,
        depth_multiplier=1,
        filters=filters,
        kernel=(3, 3),
        strides=strides,
        padding="same",
        seed=11,
    )
    out_hw = (-(-7 // strides[0]), 6)
    itemsize = np.dtype(dtype).itemsize
    _, _, slices, _ = functional._schedule(
        3, out_hw, 300, filters, itemsize, n_threads, "channels_last"
    )
    assert slices == 1 if n_threads == 1 else slices > 1  # one thread: one GEMM
    _check_separable(case, dtype, "channels_last", activation="relu", n_threads=n_threads)
    # pointwise_conv2d slices its matrix the same way, x itself the operand
    pixels = 3 * 7 * 6
    _, pointwise_slices, _ = functional._pointwise_schedule(
        1, pixels, 300, filters, itemsize, n_threads, "channels_last"
    )
    assert pointwise_slices == slices
    _check_pointwise(case, dtype, "channels_last", activation="relu", n_threads=n_threads)


@pytest.mark.parametrize("tile_bytes", [1, 4096, 16384, _tiling.TILE_BYTES])
@pytest.mark.parametrize(
    "strides,dilation", [((1, 1), (1, 1)), ((1, 1), (2, 3)), ((2, 1), (1, 1)), ((3, 2), (1, 2))]
)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_staged_tiles_read_the_rows_they_need(
    isa_level, monkeypatch, tile_bytes, strides, dilation, padding
):
    # channels_last, depth multiplier 1: the register kernels read each
    # tile's input rows from a copy; tiles of one to a few rows start
    # anywhere in the image, next to padding rows or far from them, and
    # tiles of 9 rows (16384 bytes) take the rows they share with the tile
    # above from its copy
    monkeypatch.setattr(_tiling, "TILE_BYTES", tile_bytes)
    case = Case(
        n=2,
        hw=(23, 17),
        channels=20,
        depth_multiplier=1,
        filters=6,
        kernel=(4, 3),
        strides=strides,
        dilation=dilation,
        padding=padding,
        seed=5,
    )
    for dtype in FLOATS:
        _check_separable(case, dtype, "channels_last")
        _check_depthwise(case, dtype, "channels_last")


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize(
    "hw,channels,filters",
    [
        ((16, 16), 16, 24),  # whole 8 x 8 blocks; planes a power of two apart
        ((9, 13), 11, 13),  # partial blocks on every side
        ((5, 3), 9, 8),  # rows narrower than a register block of pixels
        ((1, 1), 17, 9),  # one pixel: planes one element apart
    ],
)
@pytest.mark.parametrize("strides,dilation", [((1, 1), (1, 1)), ((1, 1), (2, 2)), ((2, 2), (1, 1))])
def test_channels_first_input_through_the_rows_path(
    isa_level, monkeypatch, dtype, n_threads, hw, channels, filters, strides, dilation
):
    # channels_first, more than 8 channels, depth multiplier 1: each tile's
    # input rows are staged transposed to channels-last, and its GEMM result
    # transposed into the output planes; tiles of a few rows (small tile
    # budget) start anywhere in the image
    monkeypatch.setattr(_tiling, "TILE_BYTES", 4096)
    case = Case(
        n=2,
        hw=hw,
        channels=channels,
        depth_multiplier=1,
        filters=filters,
        kernel=(3, 3),
        strides=strides,
        dilation=dilation,
        padding="same",
        seed=8,
    )
    _check_separable(case, dtype, "channels_first", activation="relu", n_threads=n_threads)


def test_rows_too_wide_to_stage_are_read_in_place(isa_level):
    # three input rows of 1100 pixels x 128 float64 channels (3.4 MB): past
    # what a tile stages, so the kernels read the input array itself
    case = Case(
        n=1,
        hw=(6, 1100),
        channels=128,
        depth_multiplier=1,
        filters=4,
        kernel=(3, 3),
        padding="same",
        seed=4,
    )
    assert 3 * 1100 * 128 * 8 > _dispatch.kernels.STAGE_BYTES
    _check_separable(case, np.float64, "channels_last")
    _check_depthwise(case, np.float64, "channels_last")


# --------------------------------------------------------------------------
# Dtypes

SMALL = Case(
    n=2, hw=(5, 6), channels=3, depth_multiplier=2, filters=4, kernel=(3, 2), padding="same", seed=1
)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.bool_, np.float16])
def test_integer_bool_float16_compute_in_float32(dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (2, 5, 6, 3)).astype(dtype)
    _, dk, pk, bias = SMALL.arrays(np.float32)
    y = sepconv.separable_conv2d(x, dk, pk, bias, padding="same")
    assert y.dtype == np.float32
    assert_close(y, SMALL.expected(x.astype(np.float64), dk, pk, bias), np.float32, SMALL.reduction)
    for fn, args in [
        (sepconv.depthwise_conv2d, (x, dk.astype(dtype))),
        (sepconv.pointwise_conv2d, (x, pk[:, :, :3].astype(dtype))),
    ]:
        assert fn(*args).dtype == np.float32


@pytest.mark.parametrize("wide", ["x", "dk", "pk", "bias"])
def test_one_float64_operand_makes_float64(wide):
    operands = dict(zip(["x", "dk", "pk", "bias"], SMALL.arrays(np.float32), strict=True))
    operands[wide] = operands[wide].astype(np.float64)
    y = sepconv.separable_conv2d(*operands.values(), padding="same")
    assert y.dtype == np.float64
    # float64 tolerance: a float32 computation would miss it by ~1e-7
    assert_close(y, SMALL.expected(*operands.values()), np.float64, SMALL.reduction)


def test_float32_stays_float32_with_integer_kernels():
    x, dk, pk, bias = SMALL.arrays(np.float32)
    dk_int = np.round(dk * 3).astype(np.int16)
    y = sepconv.separable_conv2d(x, dk_int, pk, bias, padding="same")
    assert y.dtype == np.float32
    assert_close(y, SMALL.expected(x, dk_int, pk, bias), np.float32, 4 * SMALL.reduction)


def test_python_lists_accepted():
    x, dk, pk, bias = SMALL.arrays(np.float64)
    y = sepconv.separable_conv2d(
        x.tolist(), dk.tolist(), pk.tolist(), bias.tolist(), padding="same"
    )
    assert y.dtype == np.float64  # Python floats convert to float64 arrays
    assert_close(y, SMALL.expected(x, dk, pk, bias), np.float64, SMALL.reduction)


# --------------------------------------------------------------------------
# Memory layouts of the operands


def _strided(a):
    """A non-contiguous view equal to ``a`` (every other element of a bigger array)."""
    big = np.zeros(tuple(2 * s for s in a.shape), dtype=a.dtype)
    view = big[tuple(slice(None, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _reversed_view(a):
    """A view with negative strides equal to ``a``."""
    return np.flip(np.flip(a).copy())


MEMORY_LAYOUTS = {
    "strided": _strided,
    "fortran": np.asfortranarray,
    "read_only": _read_only,
    "negative_strides": _reversed_view,
}


@pytest.mark.parametrize("make", sorted(MEMORY_LAYOUTS))
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_any_memory_layout(make, dtype, layout):
    case = Case(
        n=2,
        hw=(7, 6),
        channels=5,
        depth_multiplier=2,
        filters=3,
        kernel=(3, 3),
        padding="same",
        seed=4,
    )
    x, dk, pk, bias = case.arrays(dtype)
    before = [a.copy() for a in (x, dk, pk, bias)]
    convert = MEMORY_LAYOUTS[make]
    ops = [convert(to_layout(x, layout)), convert(dk), convert(pk), convert(bias)]
    expected = case.expected(x, dk, pk, bias)
    y = sepconv.separable_conv2d(*ops, padding="same", data_format=layout)
    assert_close(from_layout(y, layout), expected, dtype, case.reduction)
    y = sepconv.depthwise_conv2d(ops[0], ops[1], padding="same", data_format=layout)
    assert_close(from_layout(y, layout), case.expected_depthwise(x, dk), dtype, 10)
    y = sepconv.pointwise_conv2d(
        convert(to_layout(x, layout)), convert(pk[0, 0, :5]), data_format=layout
    )
    assert_close(from_layout(y, layout), np.einsum("nhwc,cf->nhwf", x, pk[0, 0, :5]), dtype, 6)
    for a, b in zip((x, dk, pk, bias), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_transposed_and_broadcast_views():
    case = Case(n=1, hw=(6, 6), channels=4, depth_multiplier=1, filters=2, kernel=(2, 2), seed=8)
    x, dk, pk, bias = case.arrays()
    x_view = np.swapaxes(np.swapaxes(x, 1, 2).copy(), 1, 2)  # transposed view, same values
    bias_view = np.broadcast_to(np.float64(0.5), (2,))  # zero strides, read-only
    y = sepconv.separable_conv2d(x_view, dk, pk, bias_view)
    assert_close(y, case.expected(x, dk, pk, np.full(2, 0.5)), np.float64, case.reduction)


# --------------------------------------------------------------------------
# Non-finite values and empty batches


@pytest.mark.parametrize("channels", [2, 12])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", ["none", "relu"])
def test_nan_and_inf_propagate(channels, layout, activation):
    case = Case(
        n=1,
        hw=(8, 7),
        channels=channels,
        depth_multiplier=1,
        filters=3,
        kernel=(3, 3),
        padding="same",
        seed=6,
    )
    x, dk, pk, bias = case.arrays(np.float32)
    x[0, 1, 1, 0] = np.nan
    x[0, 6, 5, 1] = np.inf
    x[0, 6, 1, 1] = -np.inf
    pk[0, 0, 1, 2] = np.inf
    act, act_ref = ACTIVATIONS[activation]
    y = sepconv.separable_conv2d(
        to_layout(x, layout), dk, pk, bias, padding="same", data_format=layout, activation=act
    )
    expected = act_ref(case.expected(x, dk, pk, bias))
    y = from_layout(y, layout)
    assert np.isnan(expected).any() and np.isinf(expected).any()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(y), np.isneginf(expected))
    finite = np.isfinite(expected)
    assert_close(y[finite], expected[finite], np.float32, case.reduction)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_empty_batch(layout, dtype):
    case = Case(
        n=0,
        hw=(9, 8),
        channels=3,
        depth_multiplier=2,
        filters=5,
        kernel=(3, 3),
        strides=(2, 1),
        padding="valid",
    )
    x, dk, pk, bias = case.arrays(dtype)
    xl = to_layout(x, layout)
    shapes = {
        "separable": (
            sepconv.separable_conv2d(xl, dk, pk, bias, strides=(2, 1), data_format=layout),
            (0, 4, 6, 5),
        ),
        "depthwise": (
            sepconv.depthwise_conv2d(xl, dk, strides=(2, 1), data_format=layout),
            (0, 4, 6, 6),
        ),
        "pointwise": (sepconv.pointwise_conv2d(xl, pk[:, :, :3], data_format=layout), (0, 9, 8, 5)),
    }
    for y, shape_nhwc in shapes.values():
        assert y.dtype == dtype
        assert from_layout(y, layout).shape == shape_nhwc


# The channels_last depthwise kernel works on blocks of 8 output pixels and
# chunks of 128 channels, one SIMD vector of channels at a time with scalar
# code for the channels left over.  It has register kernels written out for
# kernel widths 1-7 at three (stride, dilation) column steps, with the three
# kernel rows of a 3-row window written out too, and one generic kernel for
# everything else; blocks whose columns reach into the padding run variants
# that read zeros there, kernel rows in the padding are skipped, rows
# narrower than a block go pixel by pixel, and the last block of a row is
# shifted back to end at the row's end.
@pytest.mark.parametrize("width", [7, 8, 9, 23, 40])
@pytest.mark.parametrize("channels", [9, 37, 130])
@pytest.mark.parametrize(
    "kernel", [(3, 3), (5, 3), (3, 2), (3, 5), (5, 5), (2, 7), (7, 7), (1, 4), (4, 6), (3, 9)]
)
@pytest.mark.parametrize(
    "strides,dilation",
    [
        ((1, 1), (1, 1)),
        ((2, 2), (1, 1)),
        ((1, 1), (2, 2)),
        ((1, 2), (2, 1)),
        ((3, 3), (1, 1)),
        ((1, 1), (1, 3)),
    ],
)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_depthwise_blocks(isa_level, width, channels, kernel, strides, dilation, padding):
    case = Case(
        n=1,
        hw=(6, width),
        channels=channels,
        depth_multiplier=1,
        filters=3,
        kernel=kernel,
        strides=strides,
        dilation=dilation,
        padding=padding,
        seed=width + channels,
    )
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    if padding == "valid" and (span[0] > 6 or span[1] > width):
        with pytest.raises(ValueError, match="output would be empty"):
            _check_depthwise(case, np.float32, "channels_last")
        return
    for dtype in FLOATS:
        _check_depthwise(case, dtype, "channels_last")
        _check_separable(case, dtype, "channels_last")


# 3x3 windows at unit stride go two output rows at a time (the second a
# row dilation below) where both windows lie in the image, on instruction
# sets with 32 vector registers: pairs next to the image's top and bottom,
# pairs whose second row falls in the next tile, and rows left unpaired.
@pytest.mark.parametrize("height", [9, 14])
@pytest.mark.parametrize("channels", [9, 37, 130])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 2), (3, 1)])
@pytest.mark.parametrize("tile_bytes", [4096, _tiling.TILE_BYTES])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_depthwise_row_pairs(
    isa_level, monkeypatch, height, channels, dilation, tile_bytes, padding
):
    monkeypatch.setattr(_tiling, "TILE_BYTES", tile_bytes)
    case = Case(
        n=2,
        hw=(height, 40),
        channels=channels,
        depth_multiplier=1,
        filters=3,
        kernel=(3, 3),
        dilation=dilation,
        padding=padding,
        seed=height + channels,
    )
    for dtype in FLOATS:
        _check_depthwise(case, dtype, "channels_last")
        _check_separable(case, dtype, "channels_last")


@given(
    case=cases(
        max_side=40,
        max_kernel=7,
        max_channels=140,
        max_filters=4,
        min_batch=1,
        max_batch=1,
        max_stride=2,
        max_dilation=2,
    ),
    dtype=st.sampled_from(FLOATS),
    layout=st.sampled_from(LAYOUTS),
)
@pytest.mark.parametrize("level", _dispatch.available_levels())
def test_wide_images_match_reference(level, case, dtype, layout):
    # wide enough rows for the blocked depthwise kernels, and more channels
    # than one chunk of them, on every kernel build this CPU runs
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_dispatch, "kernels", _dispatch.kernels_for(level))
        _check_separable(case, dtype, layout)
