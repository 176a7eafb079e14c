"""How big a tile of output the kernels compute at a time.

A tile's working set (its depthwise result and its output block) should stay
in the core's L2 cache, yet there must be enough tiles to keep every thread
busy.  Tiles are whole output rows of one image.
"""

import math

# Bytes of working set per tile: half a typical 512 KiB-2 MiB L2, leaving room
# for the pointwise matrix and the GEMM's packed panels.
TILE_BYTES = 512 * 1024

# Where the pointwise matrix itself is larger than that (wide layers: 728 x 728
# floats is 2 MiB, 1536 x 2048 is 12 MiB), BLAS packs the whole matrix again
# for each tile's GEMM, and its kernel runs slower on few pixels, so a tile
# then holds WIDE_TILE_MATRICES times the matrix's bytes: with as many
# channels in as out, twice as many pixels as channels.  SciPy's OpenBLAS
# sgemm alone, one core, AMD Zen 4, in GFLOP/s by pixels per call: 728 x 728
# 86 (361 pixels), 98 (722), 102 (1444); 1024 x 1024 70 (196), 94 (784), 95
# (1568).  Whole layers, one thread: Xception's middle flow (32, 19, 19, 728)
# -> 728 135-141 -> 129-132 ms, MobileNet's (32, 14, 14, 512) -> 512 37-39 ->
# 35-36 ms, the BLAS packing's samples 2.6x fewer (1 matrix's bytes -> 4).
# Before that, on AMD EPYC (AVX2, 2 cores), one thread, tiles of the tile
# budget instead of one matrix: Xception's exit flow (8, 10, 10, 1536) ->
# 2048 151 -> 81 ms, its middle flow 211 -> 189 ms.
WIDE_TILE_MATRICES = 4
# ... up to this many bytes, so that one tile's GEMM stays short (a call
# stops between tiles on Ctrl-C): 2048 x 2048 float32, 16 MiB, gets 2048
# pixels a tile, 17 GFLOP.
WIDE_TILE_CAP = 32 * 1024 * 1024

# Tiles per thread wanted for load balance, when the image allows that many.
# One thread wants no more tiles than the budget makes: it has no other to
# share with, and a tile of more pixels runs a faster GEMM (one thread, AMD
# Zen 4: MobileNet's (32, 7, 7, 1024) -> 1024 in one tile of 1568 pixels
# instead of four of 392, 38.4-42.3 -> 36.1-38.7 ms; (32, 14, 14, 512) ->
# 512 38.7-40.0 -> 36.6-39.1 ms).
TILES_PER_THREAD = 4


def _tiles_wanted(n_threads):
    """Tiles (or column slices) wanted for ``n_threads`` threads to share."""
    return TILES_PER_THREAD * n_threads if n_threads > 1 else 1


def rows_per_tile(n_images, out_hw, bytes_per_pixel, n_threads, matrix_bytes=0):
    """Return how many output rows one tile holds.

    Parameters
    ----------
    n_images : int
        Batch size.
    out_hw : tuple of 2 ints
        Output rows and columns.
    bytes_per_pixel : int
        Working-set bytes each output pixel of the tile needs.
    n_threads : int
        Threads the tiles are shared among.
    matrix_bytes : int, default=0
        Size of the pointwise matrix a tile's GEMM multiplies by (0: none).
    """
    out_h, out_w = out_hw
    rows = max(1, min(out_h, _budget(matrix_bytes) // max(1, out_w * bytes_per_pixel)))
    wanted = _tiles_wanted(n_threads)
    while rows > 1 and n_images * math.ceil(out_h / rows) < wanted:
        rows = (rows + 1) // 2
    if matrix_bytes > TILE_BYTES:
        # the same rows in every tile of an image: no thin last tile that
        # packs the whole matrix for a few pixels
        rows = -(-out_h // math.ceil(out_h / rows))
    return rows


def images_per_tile(n_images, out_hw, bytes_per_pixel, n_threads, matrix_bytes):
    """Return how many whole images one tile holds (1: tiles are rows of one image).

    Where one image's output is smaller than the tile budget (small images
    of a wide layer: MobileNet's 7x7 with 1024 channels), consecutive images
    share a tile, so that the tile's GEMM multiplies more pixels per packing
    of the matrix; as many tiles per thread as rows_per_tile wants remain.
    Only for channels_last output, where the images of a tile are
    contiguous.
    """
    return _equal_tiles(n_images, out_hw[0] * out_hw[1] * bytes_per_pixel, n_threads, matrix_bytes)


def batch_pixels_per_tile(n_pixels, bytes_per_pixel, n_threads, matrix_bytes):
    """Return how many pixels a pointwise tile holds, where tiles span the batch's images.

    For channels_last input the pixels of all images are one matrix, so its
    tiles need not stop at an image's end (small images of a wide layer
    share the packing of the matrix, as in images_per_tile).
    """
    return _equal_tiles(n_pixels, bytes_per_pixel, n_threads, matrix_bytes)


def _equal_tiles(units, unit_bytes, n_threads, matrix_bytes):
    """Units (images or pixels) per tile: equal tiles, as many as the threads want."""
    most = max(1, min(units, _budget(matrix_bytes) // max(1, unit_bytes)))
    # At least the tiles wanted, a multiple of the threads, and as few as
    # the budget allows: equal tiles keep the threads' shares equal (halving
    # the images until there were enough tiles gave MobileNet's (32, 7, 7,
    # 1024) -> 1024 on two threads 11 tiles of 3 images, one thread doing
    # six, and packed its 4 MiB matrix for each of them).
    tiles = max(_tiles_wanted(n_threads), math.ceil(units / most))
    tiles = -(-tiles // n_threads) * n_threads
    return max(1, math.ceil(units / tiles))


def filter_slices(n_images, out_hw, channels, filters, itemsize, n_threads, tiles):
    """Return how many column slices of the pointwise matrix the threads share (0: tiles).

    BLAS packs both operands of each GEMM call.  The tile schedule's
    ``tiles`` GEMMs pack the pointwise matrix once each.  The sliced one has
    the GEMM's other operand for the whole batch at once (``separable``
    computes the batch's depthwise result first, see _kernels.pxi;
    ``pointwise`` has x), and each thread multiplies all of it by its own
    slice of the matrix's columns, at least 64 wide: the matrix is packed
    once, that operand once per slice.  A wide layer takes whichever packs
    fewer bytes, provided the operand is no larger than the threads' tiles
    would be (the memory a call holds, and the length of one GEMM call,
    between which a call stops on Ctrl-C).

    Parameters
    ----------
    n_images, out_hw, n_threads
        As in :func:`rows_per_tile`.
    channels, filters : int
        The pointwise matrix's rows (channels times depth multiplier) and columns.
    itemsize : int
        Bytes of one element.
    tiles : int
        GEMM tiles of the tile schedule for the same call.
    """
    matrix_bytes = channels * filters * itemsize
    if matrix_bytes <= TILE_BYTES:
        return 0
    whole_bytes = n_images * out_hw[0] * out_hw[1] * channels * itemsize
    # as many slices as tiles wanted, taken as threads come free: one slice
    # a thread packed less (two threads, paired calls: (8, 10, 10, 1536) ->
    # 2048 0.97, MobileNet's (32, 7, 7, 1024) -> 1024 sliced 0.89), but a
    # thread slowed by another process on its core then held up the call:
    # (2, 19, 19, 728) -> 728 beside a spinning process (benchmarks/
    # contention.py's case, rotated order) 8.62 ms with two slices, 7.77
    # with eight, 8.69 on one thread
    slices = max(1, min(_tiles_wanted(n_threads), filters // 64))
    packs_fewer = slices * whole_bytes <= tiles * matrix_bytes
    if packs_fewer and whole_bytes <= slices * _budget(matrix_bytes):
        return slices
    return 0


def _budget(matrix_bytes):
    """Bytes of working set one tile holds (see TILE_BYTES and WIDE_TILE_MATRICES)."""
    if matrix_bytes <= TILE_BYTES:
        return TILE_BYTES
    return max(matrix_bytes, min(WIDE_TILE_MATRICES * matrix_bytes, WIDE_TILE_CAP))


def pixels_per_tile(n_images, n_pixels, bytes_per_pixel, n_threads, matrix_bytes=0):
    """Return how many pixels of one image a pointwise tile holds."""
    return rows_per_tile(n_images, (n_pixels, 1), bytes_per_pixel, n_threads, matrix_bytes)
