"""Expected SeparableConvFeatures output, built from the reference convolution.

The convolution is :func:`reference.separable`; pooling is written here from
its definition: grid cell ``i`` of ``g`` over ``n`` pixels is the continuous
interval ``[i*n/g, (i+1)*n/g)``, and holds every pixel ``[r, r+1)`` that
overlaps it.  Features are ordered operation, cell row, cell column, filter.
Nothing here imports sepconv.
"""

import numpy as np
import reference


def cell_mask(n, g, i):
    """Boolean mask of the pixels of an ``n``-pixel axis in cell ``i`` of ``g``."""
    r = np.arange(n)
    return ((r + 1) * g > i * n) & (r * g < (i + 1) * n)


def features(
    x,
    dk,
    pk,
    bias=None,
    strides=(1, 1),
    padding="same",
    dilation=(1, 1),
    relu=True,
    ops=("max",),
    grid=(1, 1),
):
    """Return the pooled features of NHWC images ``x``, float64, ``(n, n_features)``."""
    maps = reference.separable(x, dk, pk, bias, strides, padding, dilation)
    if relu:
        maps = np.maximum(maps, 0.0)
    n, h, w, f = maps.shape
    out = []
    for op in ops:
        reduce = np.max if op == "max" else np.mean
        for i in range(grid[0]):
            for j in range(grid[1]):
                cell = maps[:, cell_mask(h, grid[0], i)][:, :, cell_mask(w, grid[1], j)]
                out.append(reduce(cell, axis=(1, 2)))
    return np.stack(out, axis=1).reshape(n, -1)
