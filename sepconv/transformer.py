"""The scikit-learn face of sepconv: :class:`SeparableConvFeatures`.

Images go through one depthwise separable convolution with random (or given)
filters, a ReLU, and a pooling that makes a fixed-length vector, in the
manner of random-feature transformers such as scikit-learn's ``RBFSampler``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from . import _args, _pooling
from ._native import _threads
from ._progress import Progress
from ._typing import DataFormat, FloatArray, IntOrPair, Padding
from .functional import separable_conv2d

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["SeparableConvFeatures"]

# Depthwise maps wanted per image with depth_multiplier="auto".  With one map
# (grayscale, multiplier 1) the pointwise step can only rescale it, the
# features are nearly rank one and a linear model on them does worse than on
# the raw pixels; 16 maps give well above raw-pixel accuracy on digits.
AUTO_DEPTHWISE_MAPS = 16

# Bytes of feature maps one batch may hold with batch_size="auto".
AUTO_BATCH_BYTES = 32 * 2**20

_DEPTHWISE_LAYOUT = "4-D (kernel_height, kernel_width, channels, depth_multiplier)"

_POSITIVE_INT = Interval(Integral, 1, None, closed="left")


class SeparableConvFeatures(TransformerMixin, BaseEstimator):
    """Image features from a depthwise separable convolution, for scikit-learn pipelines.

    Each image is convolved with a depthwise separable convolution (Keras's
    ``SeparableConv2D``: a ``kernel_size`` filter per input channel and
    multiplier, then a 1x1 mix into ``filters`` maps), passed through
    ``activation``, and pooled into a vector of :attr:`n_features_out_`
    values.  The filters are random, drawn in :meth:`fit` from
    ``random_state``, unless given as arrays.

    Parameters
    ----------
    filters : int, default=64
        Feature maps, the columns of the pointwise kernel.  Ignored when
        ``pointwise_kernel`` is given.
    kernel_size : int or tuple of 2 ints, default=3
        Height and width of the depthwise filters.  Ignored when
        ``depthwise_kernel`` is given.
    strides : int or tuple of 2 ints, default=1
    padding : {"same", "valid"}, default="same"
        ``"same"`` keeps every image size usable, down to 1 x 1.
    dilation_rate : int or tuple of 2 ints, default=1
    depth_multiplier : int or "auto", default="auto"
        Depthwise filters per input channel.  ``"auto"`` is
        ``ceil(16 / channels)``: 16 for grayscale, 6 for RGB.  Ignored when
        ``depthwise_kernel`` is given.
    activation : {"relu", "linear"}, callable or None, default="relu"
        ``"relu"`` is fused into the convolution kernel; ``"linear"`` and
        ``None`` apply none; a callable gets the feature-map array.
    pooling : {"avg", "max", "both"} or tuple (op, grid), default=("max", 2)
        How each feature map becomes numbers: ``"avg"`` / ``"max"`` pool the
        whole map, ``"both"`` gives the average then the maximum, and
        ``(op, g)`` or ``(op, (rows, cols))`` pools each cell of a grid laid
        over the map (cell ``i`` of ``g`` over ``n`` pixels spans
        ``floor(i*n/g)`` to ``ceil((i+1)*n/g)``, so no cell is empty).
    image_shape : tuple of 2 or 3 ints, default=None
        Shape of one image in ``data_format`` layout, ``(H, W, C)`` or
        ``(C, H, W)``; ``(H, W)`` means one channel.  Used to unflatten 2-D
        input.  When None, 2-D rows of ``n`` values are ``sqrt(n) x sqrt(n)``
        one-channel images when ``n`` is a perfect square and ``1 x n``
        one-channel images otherwise; 4-D input brings its own shape.
    data_format : {"channels_last", "channels_first"} or None, default="channels_last"
        Layout of 4-D input and of ``image_shape``; ``None`` uses
        :func:`sepconv.config.image_data_format`.
    depthwise_kernel : array-like of shape (kh, kw, channels, depth_multiplier), default=None
        Depthwise filters to use instead of random ones.
    pointwise_kernel : array-like of shape (1, 1, channels * depth_multiplier, filters) \
or (channels * depth_multiplier, filters), default=None
        Pointwise filters to use instead of random ones.
    bias : array-like of shape (filters,), default=None
        Added before the activation; None means zeros.
    random_state : int, RandomState instance or None, default=None
        Seeds the random filters.  From one ``numpy.random.RandomState``,
        :meth:`fit` draws the depthwise kernel, then the pointwise kernel
        (each only when not given), He-normal: the depthwise taps from
        ``N(0, 2 / (kh * kw))`` and the pointwise weights from
        ``N(0, 2 / (channels * depth_multiplier))``, so the feature scale
        follows the pixel scale.  An int gives the same filters at every fit.
    batch_size : int or "auto", default="auto"
        Images convolved at a time in :meth:`transform`, which bounds the
        memory held by feature maps.  ``"auto"`` takes as many as fit in
        32 MiB of maps (at least one).  The features do not depend on it.
    n_jobs : int or None, default=None
        OpenMP threads of the convolution.  None uses every core allowed by
        ``OMP_NUM_THREADS`` and ``threadpoolctl`` limits, which joblib sets to
        ``cores // n_jobs`` in the workers of ``GridSearchCV(n_jobs=...)`` and
        ``cross_val_score(n_jobs=...)``, so nested use does not oversubscribe.
        Negative values count back from all cores.
    verbose : int or bool, default=0
        0 prints nothing; a positive value (or True) makes :meth:`transform`
        report the batches done and an estimate of the time left on stderr,
        once a transform has run for a few seconds: a progress bar when
        ``tqdm`` is installed (``pip install 'sepconv[progress]'``), a line
        every two seconds otherwise.  Dask input prints nothing per block:
        use Dask's own ``dask.diagnostics.ProgressBar`` (or the distributed
        dashboard) to follow it.

    Attributes
    ----------
    n_features_in_ : int
        Values per image, ``H * W * C``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a DataFrame with string column names.
    image_shape_ : tuple of 3 ints
        Shape of one image in ``data_format`` layout.
    depthwise_kernel_ : ndarray of shape (kh, kw, channels, depth_multiplier)
    pointwise_kernel_ : ndarray of shape (1, 1, channels * depth_multiplier, filters)
    bias_ : ndarray of shape (filters,) or None
        The filters in use, float64; cast to the input's dtype at transform.
    n_features_out_ : int
        Length of the feature vector:
        ``len(ops) * grid_rows * grid_cols * filters`` where ``len(ops)`` is 2
        for ``"both"`` and 1 otherwise, and the grid is 1 x 1 for global pooling.

    Notes
    -----
    Features are ordered pooling operation, grid row, grid column, filter
    (filter fastest), and :meth:`get_feature_names_out` names them
    ``separableconvfeatures_{op}_r{row}c{col}_f{filter}`` (no cell part for
    global pooling).  float32 input gives float32 features; any other input
    is converted to float64.  :meth:`transform` treats each image on its own,
    so it gives the same features whatever the batch it is in (up to
    floating-point rounding in the BLAS product).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sepconv.transformer import SeparableConvFeatures
    >>> X, y = load_digits(return_X_y=True)
    >>> model = make_pipeline(SeparableConvFeatures(random_state=0),
    ...                       LogisticRegression(max_iter=3000))
    >>> model.fit(X[:1000] / 16, y[:1000]).score(X[1000:] / 16, y[1000:]) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "filters": [_POSITIVE_INT],
        "kernel_size": [_POSITIVE_INT, tuple, list],
        "strides": [_POSITIVE_INT, tuple, list],
        "padding": [str],
        "dilation_rate": [_POSITIVE_INT, tuple, list],
        "depth_multiplier": [_POSITIVE_INT, StrOptions({"auto"})],
        "activation": [str, callable, None],
        "pooling": [str, tuple, list],
        "image_shape": [tuple, list, None],
        "data_format": [str, None],
        "depthwise_kernel": ["array-like", None],
        "pointwise_kernel": ["array-like", None],
        "bias": ["array-like", None],
        "random_state": ["random_state"],
        "batch_size": [_POSITIVE_INT, StrOptions({"auto"})],
        "n_jobs": [Interval(Integral, None, -1, closed="right"), _POSITIVE_INT, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        filters: int = 64,
        kernel_size: IntOrPair = 3,
        strides: IntOrPair = 1,
        padding: Padding = "same",
        dilation_rate: IntOrPair = 1,
        depth_multiplier: int | Literal["auto"] = "auto",
        activation: Literal["relu", "linear"] | Callable[..., Any] | None = "relu",
        pooling: Literal["avg", "max", "both"] | tuple[str, IntOrPair] = ("max", 2),
        image_shape: Sequence[int] | None = None,
        data_format: DataFormat | None = "channels_last",
        depthwise_kernel: npt.ArrayLike | None = None,
        pointwise_kernel: npt.ArrayLike | None = None,
        bias: npt.ArrayLike | None = None,
        random_state: int | np.random.RandomState | None = None,
        batch_size: int | Literal["auto"] = "auto",
        n_jobs: int | None = None,
        verbose: int | bool = 0,
    ) -> None:
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.dilation_rate = dilation_rate
        self.depth_multiplier = depth_multiplier
        self.activation = activation
        self.pooling = pooling
        self.image_shape = image_shape
        self.data_format = data_format
        self.depthwise_kernel = depthwise_kernel
        self.pointwise_kernel = pointwise_kernel
        self.bias = bias
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: npt.ArrayLike, y: object = None) -> SeparableConvFeatures:
        """Record the image shape and draw (or take) the filters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or 4-D image batch
            Flattened images (see ``image_shape``) or a batch
            ``(n, H, W, C)`` / ``(n, C, H, W)`` as ``data_format`` says.
            A Dask array is not computed: only its shape and dtype are read.
        y : None
            Ignored.

        Returns
        -------
        self : SeparableConvFeatures

        Raises
        ------
        ValueError
            For a bad argument value, ``image_shape`` not matching ``X``, or
            filters whose shapes do not fit the images or each other.
        TypeError
            For filters that are not real numbers.
        """
        self._data_format = _args.data_format(self.data_format)
        self._pool = _pooling.pooling(self.pooling)
        # Of a Dask array only the shape and dtype are used: its values are
        # checked block by block at transform.
        images = self._validate_images(_dask_probe(X) if _is_dask(X) else X, reset=True)
        rng = check_random_state(self.random_state)
        self.depthwise_kernel_ = self._depthwise(rng)
        self.pointwise_kernel_ = self._pointwise(rng)
        self.bias_ = _user_array(self.bias, "bias")
        self._convolution = {
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "data_format": self._data_format,
            "activation": self.activation,
        }
        # One blank image through the convolution checks every argument and
        # shape with the functional API's messages, and sizes the output.
        probe = self._maps(images[:1] * 0, self._kernels(images.dtype))
        self._map_size = probe[0].size
        self.n_features_out_ = self._pool.n_features(probe.shape[-1])
        return self

    def transform(self, X: npt.ArrayLike) -> FloatArray | da.Array:
        """Return the pooled features of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_) or 4-D image batch
            Images of the fitted shape, flattened or as a batch.  A Dask
            array gives a lazy result (see :func:`sepconv.dask.transform`).

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_)
            float32 for float32 input, float64 otherwise; a Dask array of
            that shape for Dask input.

        Raises
        ------
        ValueError
            If ``X`` does not hold images of the fitted shape.
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self)
        if _is_dask(X):
            from .dask import transform

            return transform(self, X)
        images = self._validate_images(X, reset=False)
        kernels = self._kernels(images.dtype)
        out = np.empty((len(images), self.n_features_out_), dtype=images.dtype)
        step = self._batch_rows(images.itemsize)
        starts = range(0, len(images), step)
        with Progress(len(starts), self.verbose, type(self).__name__) as progress:
            for start in starts:
                out[start : start + step] = self._pool(
                    self._maps(images[start : start + step], kernels)
                )
                progress.update()
        return out

    def feature_maps(self, X: npt.ArrayLike) -> FloatArray:
        """Return the feature maps before pooling.

        Parameters
        ----------
        X : array-like
            As in :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, H_out, W_out, filters)
            Channels last whatever ``data_format`` is, float32 for float32
            input and float64 otherwise.  Memory is not bounded by
            ``batch_size``: every map of every image is returned.
        """
        check_is_fitted(self)
        images = self._validate_images(X, reset=False)
        return self._maps(images, self._kernels(images.dtype))

    def get_feature_names_out(
        self, input_features: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.object_]:
        """Return one name per feature: pooling operation, grid cell and filter.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_`` / ``n_features_in_``; the
            output names do not depend on it.

        Returns
        -------
        ndarray of str objects of shape (n_features_out_,)
            ``separableconvfeatures_{op}_r{row}c{col}_f{filter}``, or
            ``separableconvfeatures_{op}_f{filter}`` for global pooling.
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        filters = self.pointwise_kernel_.shape[-1]
        return self._pool.names(type(self).__name__.lower(), filters)

    def __sklearn_tags__(self):
        # The features keep float32 input in float32.
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ----------------------------------------------------------------------
    # Input

    def _validate_images(self, X, reset):
        """Return ``X`` as a 4-D float batch in ``data_format`` layout.

        4-D input is flattened before ``validate_data`` so that
        ``n_features_in_`` always counts the values of one image.
        """
        ndim = getattr(X, "ndim", 2)
        if ndim == 4:
            X = np.asarray(X)
            batch_shape = X.shape[1:]
            X = X.reshape(len(X), -1)
        elif ndim > 2:
            raise ValueError(
                "X must be 2-D (n_samples, n_features) or a 4-D image batch; "
                f"received an array of shape {X.shape}"
            )
        else:
            batch_shape = None
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        if reset:
            self.image_shape_ = self._image_shape(batch_shape, X.shape[1])
        elif batch_shape is not None and batch_shape != self.image_shape_:
            raise ValueError(
                f"X holds images of shape {batch_shape} but {type(self).__name__} was "
                f"fitted on images of shape {self.image_shape_}"
            )
        return X.reshape(len(X), *self.image_shape_)

    def _image_shape(self, batch_shape, n_features):
        """Return one image's shape from a 4-D batch, ``image_shape`` or the inference rule."""
        given = (
            None if self.image_shape is None else _image_shape(self.image_shape, self._data_format)
        )
        if batch_shape is not None:
            if given is not None and given != batch_shape:
                raise ValueError(
                    f"`image_shape`={self.image_shape!r} does not match the images of X, "
                    f"of shape {batch_shape}"
                )
            return batch_shape
        if given is None:
            side = math.isqrt(n_features)
            given = (side, side) if side * side == n_features else (1, n_features)
            return _with_channels(given, 1, self._data_format)
        if math.prod(given) != n_features:
            raise ValueError(
                f"`image_shape`={self.image_shape!r} holds {math.prod(given)} values per "
                f"image but X has {n_features} features per row"
            )
        return given

    def _channels(self):
        """Return the channel count of the fitted image shape."""
        return self.image_shape_[0 if self._data_format == "channels_first" else 2]

    # ----------------------------------------------------------------------
    # Filters

    def _depthwise(self, rng):
        """Return the user's depthwise kernel as float64, or draw a He-normal one."""
        if self.depthwise_kernel is not None:
            kernel = _user_array(self.depthwise_kernel, "depthwise_kernel")
            _args.check_rank(kernel, "depthwise_kernel", (4,), _DEPTHWISE_LAYOUT)
            return kernel
        kh, kw = _args.pair(self.kernel_size, "kernel_size")
        channels = self._channels()
        multiplier = self.depth_multiplier
        if multiplier == "auto":
            multiplier = -(-AUTO_DEPTHWISE_MAPS // channels)
        return rng.normal(0.0, math.sqrt(2.0 / (kh * kw)), size=(kh, kw, channels, multiplier))

    def _pointwise(self, rng):
        """Return the user's pointwise kernel as float64, or draw a He-normal one."""
        if self.pointwise_kernel is not None:
            return _user_array(self.pointwise_kernel, "pointwise_kernel")
        mixed = self.depthwise_kernel_.shape[2] * self.depthwise_kernel_.shape[3]
        return rng.normal(0.0, math.sqrt(2.0 / mixed), size=(1, 1, mixed, self.filters))

    def _kernels(self, dtype):
        """Return ``(depthwise, pointwise, bias)`` in ``dtype``, the dtype the features get."""
        return tuple(
            None if k is None else k.astype(dtype, copy=False)
            for k in (self.depthwise_kernel_, self.pointwise_kernel_, self.bias_)
        )

    # ----------------------------------------------------------------------
    # Computation

    def _maps(self, images, kernels):
        """Return the feature maps of ``images``, channels last."""
        threads = _threads.effective_n_threads(self.n_jobs, "n_jobs")
        maps = separable_conv2d(images, *kernels, n_threads=threads, **self._convolution)
        return np.moveaxis(maps, 1, -1) if self._data_format == "channels_first" else maps

    def _batch_rows(self, itemsize):
        """Return how many images one batch of :meth:`transform` convolves."""
        if self.batch_size == "auto":
            return max(1, AUTO_BATCH_BYTES // (self._map_size * itemsize))
        return self.batch_size


def _is_dask(X):
    """Return True for a Dask array (without importing Dask when it is not loaded)."""
    array = sys.modules.get("dask.array")
    return array is not None and isinstance(X, array.Array)


def _dask_probe(X):
    """Return zeros shaped like the first image of the Dask array ``X`` (none when empty).

    Validating this stands for validating ``X``: the same shape checks and
    messages, the same dtype rules.  Other ranks are returned as they are:
    their shape alone gets them refused.
    """
    if X.ndim not in (2, 4):
        return X
    return np.zeros((min(len(X), 1), *X.shape[1:]), dtype=X.dtype)


def _user_array(value, name):
    """Return a float64 copy of a user-given filter array, or None; TypeError if not real."""
    if value is None:
        return None
    array = _args.as_array(value, name)
    _args.compute_dtype(**{name: array})
    return np.array(array, dtype=np.float64)


def _image_shape(value, data_format):
    """Normalise ``image_shape``: 2 or 3 positive ints, channels added when 2."""
    items = _args.as_tuple(value)
    if (
        items is None
        or len(items) not in (2, 3)
        or not all(_args.is_integer(v) and v >= 1 for v in items)
    ):
        raise ValueError(
            "`image_shape` must be a tuple of 2 or 3 positive integers, (H, W, C) or "
            f"(C, H, W) as data_format says, or (H, W); received image_shape={value!r}"
        )
    items = tuple(int(v) for v in items)
    return items if len(items) == 3 else _with_channels(items, 1, data_format)


def _with_channels(hw, channels, data_format):
    """Return the image shape ``hw`` with a channel axis where ``data_format`` puts it."""
    return (channels, *hw) if data_format == "channels_first" else (*hw, channels)
