"""Pooling feature maps into a flat feature vector, and naming the features.

A pooling is a list of operations (``"avg"``, ``"max"``) and a grid of
``(rows, cols)`` cells laid over each feature map.  Cell ``i`` of an axis of
length ``n`` split ``g`` ways spans ``floor(i*n/g)`` to ``ceil((i+1)*n/g)``,
so every cell holds at least one pixel whatever ``n`` and ``g`` are (cells
overlap when ``g`` does not divide ``n``, and repeat when ``g > n``).

Features are ordered operation, cell row, cell column, filter (the filter
varies fastest), so a vector holds ``len(ops) * rows * cols * filters``
values.
"""

from dataclasses import dataclass

import numpy as np

from . import _args

OPS = ("avg", "max", "both")

# What each pooling name computes, in output order.
_REDUCTIONS = {"avg": ("avg",), "max": ("max",), "both": ("avg", "max")}


@dataclass(frozen=True)
class Pooling:
    """A normalised pooling: reductions in output order and the ``(rows, cols)`` grid."""

    ops: tuple
    grid: tuple

    def n_features(self, filters):
        """Return the length of the pooled vector of ``filters`` feature maps."""
        return len(self.ops) * self.grid[0] * self.grid[1] * filters

    def names(self, prefix, filters):
        """Return one name a feature: ``{prefix}_{op}[_r{row}c{col}]_f{filter}``.

        The cell part is left out for a 1x1 (global) grid.
        """
        width = len(str(filters - 1))
        cells = [f"_r{i}c{j}" for i in range(self.grid[0]) for j in range(self.grid[1])]
        if self.grid == (1, 1):
            cells = [""]
        return np.asarray(
            [
                f"{prefix}_{op}{cell}_f{f:0{width}d}"
                for op in self.ops
                for cell in cells
                for f in range(filters)
            ],
            dtype=object,
        )

    def __call__(self, maps):
        """Pool ``(n, h, w, filters)`` feature maps into ``(n, n_features(filters))``."""
        n, h, w, filters = maps.shape
        out = np.empty((n, len(self.ops), *self.grid, filters), dtype=maps.dtype)
        for i, (top, bottom) in enumerate(_cells(h, self.grid[0])):
            for k, op in enumerate(self.ops):
                # Rows first, then columns: reducing the rows runs over whole
                # contiguous rows of w * filters values, where reducing a cell
                # at once runs NumPy's inner loop over only ``filters`` values
                # (9x slower).  The max is exact in any order.
                reduce = np.maximum.reduce if op == "max" else np.add.reduce
                rows = reduce(maps[:, top:bottom], axis=1)
                for j, (left, right) in enumerate(_cells(w, self.grid[1])):
                    cell = reduce(rows[:, left:right], axis=1)
                    if op == "avg":
                        cell /= (bottom - top) * (right - left)
                    out[:, k, i, j] = cell
        return out.reshape(n, -1)


def pooling(value):
    """Return the :class:`Pooling` that ``value`` names.

    Parameters
    ----------
    value : {"avg", "max", "both"} or tuple (op, grid)
        A name alone pools each whole feature map (a 1x1 grid); ``(op, g)``
        pools each of ``g x g`` cells, ``(op, (rows, cols))`` each of
        ``rows x cols`` cells.

    Raises
    ------
    ValueError
        If ``value`` is none of these; the message names ``pooling`` and the value.
    """
    if isinstance(value, str):
        return Pooling(_REDUCTIONS[_args.choice(value, "pooling", OPS)], (1, 1))
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(
            "`pooling` must be one of 'avg', 'max', 'both' or a pair (op, grid) such "
            f"as ('max', 2); received pooling={value!r}"
        )
    op, grid = value
    return Pooling(_REDUCTIONS[_args.choice(op, "pooling[0]", OPS)], _args.pair(grid, "pooling[1]"))


def _cells(length, parts):
    """Return the ``(start, stop)`` of each of ``parts`` cells over ``length`` pixels."""
    return [(i * length // parts, -(-(i + 1) * length // parts)) for i in range(parts)]
