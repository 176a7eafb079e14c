"""Lazy features of Dask arrays with a fitted :class:`~sepconv.transformer.SeparableConvFeatures`.

Needs the optional extra ``dask`` (``pip install 'sepconv[dask]'``); importing
this module does not import Dask, calling :func:`transform` does.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["transform"]


def transform(estimator, X):
    """Return the features of a Dask array as a lazy Dask array, block by block.

    Unlike ``X.map_blocks(estimator.transform)`` (and dask-ml's
    ``ParallelPostFit``, which reports the input's width and fails on 4-D
    input), the result knows its true shape, chunks and dtype before anything
    is computed.

    Parameters
    ----------
    estimator : SeparableConvFeatures
        Fitted; it is shipped to the workers with each task.  Its ``n_jobs``
        sets the threads of each task: use ``n_jobs=1`` under a threaded or
        distributed scheduler that runs several tasks per core set.
    X : dask.array.Array or array_like
        ``(n_samples, n_features_in_)`` rows or a 4-D image batch of the
        fitted image shape.  Only the sample axis may be chunked; other axes
        are rechunked into one block.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features_out_)
        Chunked like ``X`` along the samples; float32 for float32 ``X``,
        float64 otherwise.  The values are those of ``estimator.transform``
        as a NumPy array, whatever its ``set_output`` configuration.

    Raises
    ------
    ValueError
        If ``X`` is neither 2-D nor 4-D.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    """
    import dask.array as da

    check_is_fitted(estimator)
    X = da.asarray(X)
    if X.ndim not in (2, 4):
        raise ValueError(
            "X must be a 2-D (n_samples, n_features) or 4-D image Dask array; "
            f"received shape {X.shape}"
        )
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    dtype = np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
    return X.map_blocks(_transform_block, estimator, dtype=dtype,
                        chunks=(X.chunks[0], (estimator.n_features_out_,)),
                        drop_axis=list(range(2, X.ndim)), meta=np.empty((0, 0), dtype))


def _transform_block(block, estimator):
    return np.asarray(estimator.transform(block))
