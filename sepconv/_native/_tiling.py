"""How big a tile of output the kernels compute at a time.

A tile's working set (its depthwise result and its output block) should stay
in the core's L2 cache, yet there must be enough tiles to keep every thread
busy.  Tiles are whole output rows of one image.
"""

import math

# Bytes of working set per tile: half a typical 512 KiB-2 MiB L2, leaving room
# for the pointwise matrix and the GEMM's packed panels.
TILE_BYTES = 512 * 1024

# Tiles per thread wanted for load balance, when the image allows that many.
TILES_PER_THREAD = 4


def rows_per_tile(n_images, out_hw, bytes_per_pixel, n_threads):
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
    """
    out_h, out_w = out_hw
    rows = max(1, min(out_h, TILE_BYTES // max(1, out_w * bytes_per_pixel)))
    wanted = TILES_PER_THREAD * n_threads
    while rows > 1 and n_images * math.ceil(out_h / rows) < wanted:
        rows = (rows + 1) // 2
    return rows


def pixels_per_tile(n_images, n_pixels, bytes_per_pixel, n_threads):
    """Return how many pixels of one image a pointwise tile holds."""
    return rows_per_tile(n_images, (n_pixels, 1), bytes_per_pixel, n_threads)
