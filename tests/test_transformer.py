"""SeparableConvFeatures: scikit-learn's checks, features against the reference, errors."""

import math
import pickle
import re
import sys
import types

import feature_reference
import numpy as np
import pytest
import reference
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sepconv import _progress
from sepconv.transformer import SeparableConvFeatures

RNG = np.random.default_rng(1234)


def images(n=5, h=7, w=6, c=2, dtype=np.float64):
    return RNG.standard_normal((n, h, w, c)).astype(dtype)


def kernels(c=2, dm=3, filters=4, kh=3, kw=2):
    return (
        RNG.standard_normal((kh, kw, c, dm)),
        RNG.standard_normal((1, 1, c * dm, filters)),
        RNG.standard_normal(filters),
    )


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


# --------------------------------------------------------------------------
# scikit-learn's estimator checks: none expected to fail


@parametrize_with_checks(
    [
        SeparableConvFeatures(),
        SeparableConvFeatures(filters=4, pooling="both", data_format="channels_first"),
        SeparableConvFeatures(filters=8, pooling=("avg", 3), batch_size=3, strides=2, verbose=1),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_array_api_check_passes_too(run_python):
    # check_array_api_input is skipped unless SCIPY_ARRAY_API=1 is set before
    # SciPy is imported, so it runs in a child process with it set.
    import os

    script = (
        "import collections\n"
        "from sklearn.utils.estimator_checks import check_estimator\n"
        "from sepconv.transformer import SeparableConvFeatures\n"
        "results = check_estimator(SeparableConvFeatures(), on_fail=None, on_skip=None)\n"
        "print(dict(collections.Counter(r['status'] for r in results)))\n"
        "print([r['check_name'] for r in results if r['status'] != 'passed'])\n"
    )
    done = run_python("-c", script, env={**os.environ, "SCIPY_ARRAY_API": "1"})
    assert done.returncode == 0, done.stderr
    counts, not_passed = done.stdout.splitlines()
    assert not_passed == "[]"
    assert counts.startswith("{'passed': ") and int(counts.split()[1].rstrip("}")) >= 40


# --------------------------------------------------------------------------
# Features against the reference convolution and pooling

CONFIGS = [
    dict(),
    dict(pooling="avg"),
    dict(pooling="both"),
    dict(pooling=("max", 2)),
    dict(pooling=("both", (3, 2)), strides=2),
    dict(pooling=("avg", 4), padding="valid", dilation_rate=(2, 1)),
    dict(pooling=("max", (1, 9)), activation="linear"),
    dict(pooling="max", strides=(2, 3), activation=None),
]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_features_match_reference(config, data_format):
    x = images()
    dk, pk, bias = kernels()
    est = SeparableConvFeatures(
        depthwise_kernel=dk, pointwise_kernel=pk, bias=bias, data_format=data_format, **config
    )
    batch = x if data_format == "channels_last" else x.transpose(0, 3, 1, 2)
    got = est.fit(batch).transform(batch)
    pooling = config.get("pooling", ("max", 2))
    op, grid = (pooling, 1) if isinstance(pooling, str) else pooling
    grid = (grid, grid) if isinstance(grid, int) else grid
    expected = feature_reference.features(
        x,
        dk,
        pk,
        bias,
        strides=_pair(config.get("strides", 1)),
        padding=config.get("padding", "same"),
        dilation=_pair(config.get("dilation_rate", 1)),
        relu=config.get("activation", "relu") == "relu",
        ops=("avg", "max") if op == "both" else (op,),
        grid=grid,
    )
    assert got.shape == (len(x), est.n_features_out_) == expected.shape
    assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def _pair(value):
    return (value, value) if isinstance(value, int) else value


def test_pooling_cells_by_hand():
    # A 1x3 map split 1x2: cells cover pixels {0, 1} and {1, 2}.
    dk = np.ones((1, 1, 1, 1))
    pk = np.ones((1, 1, 1, 1))
    x = np.array([1.0, 5.0, 3.0]).reshape(1, 1, 3, 1)
    est = SeparableConvFeatures(
        depthwise_kernel=dk, pointwise_kernel=pk, pooling=("both", (1, 2))
    ).fit(x)
    assert_array_equal(est.transform(x), [[3.0, 4.0, 5.0, 5.0]])
    assert list(est.get_feature_names_out()) == [
        "separableconvfeatures_avg_r0c0_f0",
        "separableconvfeatures_avg_r0c1_f0",
        "separableconvfeatures_max_r0c0_f0",
        "separableconvfeatures_max_r0c1_f0",
    ]


def test_random_filters_follow_documented_scheme():
    est = SeparableConvFeatures(filters=5, kernel_size=(3, 2), random_state=7).fit(images(c=3))
    rng = np.random.RandomState(7)
    multiplier = math.ceil(16 / 3)
    assert_array_equal(
        est.depthwise_kernel_, rng.normal(0, math.sqrt(2 / 6), (3, 2, 3, multiplier))
    )
    assert_array_equal(
        est.pointwise_kernel_,
        rng.normal(0, math.sqrt(2 / (3 * multiplier)), (1, 1, 3 * multiplier, 5)),
    )
    assert est.bias_ is None


def test_random_filters_give_reference_features():
    x = images(c=1)
    est = SeparableConvFeatures(random_state=0, pooling="both").fit(x)
    assert est.depthwise_kernel_.shape == (3, 3, 1, 16)
    expected = feature_reference.features(
        x, est.depthwise_kernel_, est.pointwise_kernel_, ops=("avg", "max")
    )
    assert_allclose(est.transform(x), expected, rtol=1e-10, atol=1e-12)


def test_given_depthwise_only_draws_pointwise():
    dk = RNG.standard_normal((2, 2, 1, 3))
    est = SeparableConvFeatures(depthwise_kernel=dk, filters=6, random_state=3).fit(images(c=1))
    assert_array_equal(est.depthwise_kernel_, dk)
    assert_array_equal(
        est.pointwise_kernel_, np.random.RandomState(3).normal(0, math.sqrt(2 / 3), (1, 1, 3, 6))
    )


def test_user_arrays_are_copied_not_modified():
    dk, pk, bias = kernels()
    originals = [a.copy() for a in (dk, pk, bias)]
    est = SeparableConvFeatures(depthwise_kernel=dk, pointwise_kernel=pk, bias=bias).fit(images())
    est.depthwise_kernel_[...] = 0
    for given, original in zip((dk, pk, bias), originals, strict=True):
        assert_array_equal(given, original)


# --------------------------------------------------------------------------
# Input shapes


def test_flat_rows_with_image_shape_match_4d_batch():
    x = images()
    dk, pk, bias = kernels()
    expected = feature_reference.features(x, dk, pk, bias, ops=("max",), grid=(2, 2))
    flat = SeparableConvFeatures(
        depthwise_kernel=dk, pointwise_kernel=pk, bias=bias, image_shape=(7, 6, 2)
    ).fit(x.reshape(5, -1))
    assert flat.image_shape_ == (7, 6, 2)
    assert_allclose(flat.transform(x.reshape(5, -1)), expected, rtol=1e-10)
    # 4-D input of the fitted shape is accepted by an estimator fitted on rows
    assert_allclose(flat.transform(x), expected, rtol=1e-10)
    batch = SeparableConvFeatures(depthwise_kernel=dk, pointwise_kernel=pk, bias=bias).fit(x)
    assert batch.n_features_in_ == 7 * 6 * 2
    assert_allclose(batch.transform(x.reshape(5, -1)), expected, rtol=1e-10)


@pytest.mark.parametrize(
    "n_features, data_format, image_shape, expected",
    [
        (64, "channels_last", None, (8, 8, 1)),
        (64, "channels_first", None, (1, 8, 8)),
        (10, "channels_last", None, (1, 10, 1)),
        (10, "channels_first", None, (1, 1, 10)),
        (1, "channels_last", None, (1, 1, 1)),
        (12, "channels_last", (2, 6), (2, 6, 1)),
        (12, "channels_first", [2, 6], (1, 2, 6)),
        (12, "channels_first", (3, 2, 2), (3, 2, 2)),
    ],
)
def test_image_shape_inference(n_features, data_format, image_shape, expected):
    est = SeparableConvFeatures(filters=2, image_shape=image_shape, data_format=data_format)
    est.fit(np.ones((3, n_features)))
    assert est.image_shape_ == expected
    assert est.image_shape == image_shape


def test_data_format_none_reads_global_default(monkeypatch):
    from sepconv import config

    monkeypatch.setattr(config, "image_data_format", lambda: "channels_first")
    est = SeparableConvFeatures(filters=2, data_format=None).fit(np.ones((2, 3, 4, 5)))
    assert est.image_shape_ == (3, 4, 5)
    assert est.depthwise_kernel_.shape[2] == 3


def test_feature_maps_are_unpooled_reference_maps():
    x = images()
    dk, pk, bias = kernels()
    est = SeparableConvFeatures(
        depthwise_kernel=dk, pointwise_kernel=pk, bias=bias, data_format="channels_first"
    ).fit(x.transpose(0, 3, 1, 2))
    maps = est.feature_maps(x.transpose(0, 3, 1, 2))
    expected = np.maximum(reference.separable(x, dk, pk, bias, padding="same"), 0)
    assert_allclose(maps, expected, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# dtypes, batches, threads


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int64, np.float64),
        (np.float16, np.float64),
    ],
)
def test_dtype(dtype, expected):
    x = (images() * 4).astype(dtype)
    est = SeparableConvFeatures(random_state=0).fit(x)
    got = est.transform(x)
    assert got.dtype == expected
    reference = feature_reference.features(
        x.astype(np.float64), est.depthwise_kernel_, est.pointwise_kernel_, grid=(2, 2)
    )
    assert_allclose(got, reference, rtol=2e-5 if expected == np.float32 else 1e-10, atol=1e-5)


def test_fit_on_float32_then_transform_float64():
    x = images()
    est = SeparableConvFeatures(random_state=0).fit(x.astype(np.float32))
    assert est.transform(x).dtype == np.float64
    assert est.transform(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("batch_size", [1, 2, 7, "auto"])
def test_features_do_not_depend_on_batch_size(batch_size):
    x = images(n=13, h=9, w=9, c=3)
    est = SeparableConvFeatures(filters=12, random_state=1, batch_size=batch_size).fit(x)
    expected = feature_reference.features(
        x, est.depthwise_kernel_, est.pointwise_kernel_, grid=(2, 2)
    )
    assert_allclose(est.transform(x), expected, rtol=1e-10, atol=1e-12)


def test_auto_batch_size_bounds_feature_maps(monkeypatch):
    import sepconv.transformer as module

    seen = []
    real = module.separable_conv2d
    monkeypatch.setattr(
        module, "separable_conv2d", lambda x, *a, **k: seen.append(len(x)) or real(x, *a, **k)
    )
    monkeypatch.setattr(module, "AUTO_BATCH_BYTES", 5 * 8 * 8 * 4 * 8)
    est = SeparableConvFeatures(filters=4).fit(np.ones((12, 64)))
    seen.clear()
    est.transform(np.ones((12, 64)))
    assert seen == [5, 5, 2]


@pytest.mark.parametrize("n_jobs", [1, 2, -1])
def test_n_jobs_gives_reference_features(n_jobs):
    x = images(n=9)
    est = SeparableConvFeatures(random_state=2, n_jobs=n_jobs).fit(x)
    expected = feature_reference.features(
        x, est.depthwise_kernel_, est.pointwise_kernel_, grid=(2, 2)
    )
    assert_allclose(est.transform(x), expected, rtol=1e-10, atol=1e-12)


def test_transform_accepts_one_zero_row():
    # dask-ml's ParallelPostFit infers output metadata from one all-zero row
    est = SeparableConvFeatures().fit(np.ones((4, 64)))
    assert_array_equal(est.transform(np.zeros((1, 64))), np.zeros((1, est.n_features_out_)))


# --------------------------------------------------------------------------
# scikit-learn integration


def test_same_random_state_clone_and_pickle_give_identical_features(digits):
    X, _ = digits
    est = SeparableConvFeatures(random_state=5).fit(X)
    features = est.transform(X)
    assert_array_equal(clone(est).fit(X).transform(X), features)
    assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), features)
    assert not np.allclose(SeparableConvFeatures(random_state=6).fit(X).transform(X), features)


def test_random_state_instance_is_not_mutated_between_fits():
    rs = np.random.RandomState(0)
    est = SeparableConvFeatures(random_state=rs)
    first = est.fit(np.ones((2, 16))).depthwise_kernel_.copy()
    assert not np.array_equal(est.fit(np.ones((2, 16))).depthwise_kernel_, first)


def test_pandas_output_and_feature_names():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(RNG.random((6, 9)), columns=[f"px{i}" for i in range(9)], index=list("abcdef"))
    est = SeparableConvFeatures(filters=3, pooling=("both", 2), random_state=0)
    out = est.set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list("abcdef")
    assert list(est.feature_names_in_) == list(X.columns)
    names = est.get_feature_names_out()
    assert list(out.columns) == list(names)
    assert names[0] == "separableconvfeatures_avg_r0c0_f0"
    assert names[-1] == "separableconvfeatures_max_r1c1_f2"
    # the name says what the column holds
    expected = feature_reference.features(
        X.to_numpy().reshape(6, 3, 3, 1),
        est.depthwise_kernel_,
        est.pointwise_kernel_,
        ops=("max",),
        grid=(2, 2),
    )
    assert_allclose(out["separableconvfeatures_max_r0c1_f2"], expected[:, 1 * 3 + 2], rtol=1e-10)


def test_global_pooling_names_and_padding():
    est = SeparableConvFeatures(filters=12, pooling="max").fit(np.ones((2, 4)))
    names = est.get_feature_names_out()
    assert names[0] == "separableconvfeatures_max_f00" and len(names) == 12
    assert est.n_features_out_ == 12


def test_pipeline_beats_raw_pixels_on_digits():
    # One BLAS thread: LogisticRegression's small products only lose time to
    # threading, badly so on a busy two-core machine.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        _check_default_pipeline_beats_raw_pixels()


def _check_default_pipeline_beats_raw_pixels():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25, random_state=0)
    raw = LogisticRegression(max_iter=3000).fit(X_train, y_train).score(X_test, y_test)
    for seed in (0, 1, 2):
        model = make_pipeline(
            SeparableConvFeatures(random_state=seed), LogisticRegression(max_iter=3000)
        )
        assert model.fit(X_train, y_train).score(X_test, y_test) > raw + 0.01


def test_grid_search_over_kernel_size_and_filters(digits):
    X, y = digits
    model = make_pipeline(SeparableConvFeatures(random_state=0), LogisticRegression(max_iter=2000))
    grid = {"separableconvfeatures__kernel_size": [2, 3], "separableconvfeatures__filters": [8, 16]}
    search = GridSearchCV(model, grid, cv=2, n_jobs=2, error_score="raise").fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(search.cv_results_["mean_test_score"] > 0.7)
    best = search.best_estimator_.steps[0][1]
    assert best.n_features_out_ == 4 * search.best_params_["separableconvfeatures__filters"]


# --------------------------------------------------------------------------
# Errors


def fit_error(exc, match, X=None, **params):
    X = np.ones((3, 64)) if X is None else X
    with pytest.raises(exc, match=match):
        SeparableConvFeatures(**params).fit(X)


@pytest.mark.parametrize(
    "params, match",
    [
        (
            dict(filters=0),
            r"The 'filters' parameter of SeparableConvFeatures must be an int "
            r"in the range \[1, inf\)\. Got 0",
        ),
        (dict(depth_multiplier="many"), r"'depth_multiplier' parameter .* Got 'many'"),
        (dict(batch_size=0), r"'batch_size' parameter .* Got 0"),
        (dict(n_jobs=0), r"'n_jobs' parameter .* Got 0"),
        (dict(random_state="seed"), r"'random_state' parameter .* Got 'seed'"),
        (dict(pooling=2), r"'pooling' parameter .* Got 2"),
        (dict(image_shape="8x8"), r"'image_shape' parameter .* Got '8x8'"),
        (dict(kernel_size=2.5), r"'kernel_size' parameter .* Got 2.5"),
        (dict(padding=None), r"'padding' parameter .* Got None"),
        (dict(verbose=-1), r"The 'verbose' parameter of SeparableConvFeatures .* Got -1"),
        (dict(verbose=1.5), r"'verbose' parameter .* Got 1.5"),
        (dict(verbose="yes"), r"'verbose' parameter .* Got 'yes'"),
    ],
)
def test_invalid_parameter_types(params, match):
    fit_error(InvalidParameterError, match, **params)


@pytest.mark.parametrize(
    "params, match",
    [
        (
            dict(kernel_size=(3, 0)),
            r"`kernel_size` values must be positive integers; "
            r"received kernel_size=\(3, 0\)",
        ),
        (dict(kernel_size=(3, 3, 3)), r"`kernel_size` must be a positive integer or a tuple of 2"),
        (dict(strides=(1, 0)), r"`strides` values must be positive integers; received"),
        (dict(dilation_rate=[2, 2, 2]), r"`dilation_rate` must be a positive integer or a tuple"),
        (
            dict(padding="full"),
            r"`padding` must be one of 'valid', 'same'; received padding='full'",
        ),
        (
            dict(padding="valid", kernel_size=9),
            r"the output would be empty: input of spatial "
            r"shape \(8, 8\) with kernel \(9, 9\)",
        ),
        (
            dict(data_format="NHWC"),
            r"`data_format` must be one of 'channels_last', "
            r"'channels_first'; received data_format='NHWC'",
        ),
        (
            dict(activation="tanh"),
            r"`activation` must be None, one of .* received "
            r"activation='tanh'",
        ),
        (
            dict(pooling="sum"),
            r"`pooling` must be one of 'avg', 'max', 'both'; received "
            r"pooling='sum'",
        ),
        (
            dict(pooling=("max",)),
            r"`pooling` must be one of 'avg', 'max', 'both' or a pair "
            r"\(op, grid\) such as \('max', 2\); received pooling=\('max',\)",
        ),
        (dict(pooling=("sum", 2)), r"`pooling\[0\]` must be one of .* received pooling\[0\]='sum'"),
        (
            dict(pooling=("max", 0)),
            r"`pooling\[1\]` values must be positive integers; "
            r"received pooling\[1\]=0",
        ),
        (
            dict(image_shape=(8,)),
            r"`image_shape` must be a tuple of 2 or 3 positive integers.*"
            r"received image_shape=\(8,\)",
        ),
        (dict(image_shape=(0, 8)), r"received image_shape=\(0, 8\)"),
        (dict(image_shape=(8, 8.0)), r"received image_shape=\(8, 8.0\)"),
        (
            dict(image_shape=(8, 8, 3)),
            r"`image_shape`=\(8, 8, 3\) holds 192 values per image "
            r"but X has 64 features per row",
        ),
        (
            dict(depthwise_kernel=np.ones((3, 3, 1))),
            r"`depthwise_kernel` must be 4-D \(kernel_height",
        ),
        (
            dict(depthwise_kernel=np.ones((3, 3, 2, 1))),
            r"`depthwise_kernel` has 2 input channels "
            r"but `x` has 1",
        ),
        (
            dict(depth_multiplier=2, pointwise_kernel=np.ones((1, 1, 3, 4))),
            r"`pointwise_kernel` has 3 input channels but the depthwise step gives "
            r"C \* depth_multiplier = 2",
        ),
        (
            dict(filters=4, bias=np.ones(3)),
            r"`bias` must have shape \(4,\); received bias.shape=\(3,\)",
        ),
    ],
)
def test_invalid_values(params, match):
    fit_error(ValueError, match, **params)


@pytest.mark.parametrize(
    "params, match",
    [
        (
            dict(depthwise_kernel=np.ones((3, 3, 1, 2), dtype=complex)),
            r"`depthwise_kernel` must hold real numbers .* received an array of dtype complex128",
        ),
        (dict(pointwise_kernel=[["a"]]), r"`pointwise_kernel` must hold real numbers"),
        (dict(bias=np.array(["x"] * 64)), r"`bias` must hold real numbers"),
    ],
)
def test_non_numeric_filters(params, match):
    fit_error(TypeError, match, **params)


def test_image_shape_must_match_4d_batch():
    fit_error(
        ValueError,
        r"`image_shape`=\(4, 4\) does not match the images of X, of shape "
        r"\(8, 8, 1\)",
        X=np.ones((2, 8, 8, 1)),
        image_shape=(4, 4),
    )


@pytest.mark.parametrize("shape", [(2, 8, 8), (2, 8, 8, 1, 1)])
def test_input_rank(shape):
    fit_error(
        ValueError,
        re.escape(
            "X must be 2-D (n_samples, n_features) or a 4-D image "
            f"batch; received an array of shape {shape}"
        ),
        X=np.ones(shape),
    )


def test_one_dimensional_input():
    fit_error(ValueError, "Expected 2D array, got 1D array instead", X=np.ones(64))


def test_nan_input():
    X = np.ones((3, 64))
    X[1, 5] = np.nan
    fit_error(ValueError, "Input X contains NaN", X=X)


def test_transform_errors():
    est = SeparableConvFeatures(filters=2).fit(np.ones((2, 8, 8, 1)))
    with pytest.raises(
        ValueError,
        match=r"X holds images of shape \(4, 4, 4\) but "
        r"SeparableConvFeatures was fitted on images of "
        r"shape \(8, 8, 1\)",
    ):
        est.transform(np.ones((2, 4, 4, 4)))
    with pytest.raises(
        ValueError,
        match="X has 10 features, but SeparableConvFeatures is expecting 64 features as input",
    ):
        est.transform(np.ones((2, 10)))
    with pytest.raises(
        ValueError, match="input_features should have length equal to number of features"
    ):
        est.get_feature_names_out(["a", "b"])


def test_renamed_dataframe_columns():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.ones((3, 4)), columns=list("abcd"))
    est = SeparableConvFeatures(filters=2).fit(X)
    with pytest.raises(
        ValueError, match="The feature names should match those that were passed during fit"
    ):
        est.transform(X.rename(columns={"a": "z"}))


@pytest.mark.parametrize("method", ["transform", "feature_maps", "get_feature_names_out"])
def test_not_fitted(method):
    args = () if method == "get_feature_names_out" else (np.ones((2, 4)),)
    with pytest.raises(
        NotFittedError, match="This SeparableConvFeatures instance is not fitted yet"
    ):
        getattr(SeparableConvFeatures(), method)(*args)


def test_n_jobs_counting_back_past_the_cores_names_n_jobs():
    with pytest.raises(
        ValueError,
        match=r"`n_jobs` counts back past the first core: "
        r"n_jobs=-10000",
    ):
        SeparableConvFeatures(n_jobs=-10_000).fit_transform(np.ones((2, 64)))


# --------------------------------------------------------------------------
# Progress reports (verbose)


class FakeClock:
    """``monotonic`` for the progress reports: each reading is one second later."""

    def __init__(self):
        self.now = -1.0

    def __call__(self):
        self.now += 1.0
        return self.now


class FakeTqdm:
    """Records what a tqdm bar is asked to show."""

    bars = []

    def __init__(self, total, initial, desc, unit, file):
        self.total, self.n, self.desc, self.unit, self.file = total, initial, desc, unit, file
        self.initial = initial
        self.closed = False
        FakeTqdm.bars.append(self)

    def update(self, n):
        self.n += n

    def close(self):
        self.closed = True


@pytest.fixture
def no_tqdm(monkeypatch):
    # A None entry in sys.modules makes the import raise ImportError.
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


@pytest.fixture
def fake_tqdm(monkeypatch):
    module = types.ModuleType("tqdm.auto")
    module.tqdm = FakeTqdm
    FakeTqdm.bars = []
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", module)
    return FakeTqdm.bars


def six_batches(verbose, monkeypatch):
    """Transform 6 batches of one image, each taking one second of a fake clock."""
    monkeypatch.setattr(_progress, "monotonic", FakeClock())
    X = images(n=6, h=5, w=5, c=1)
    est = SeparableConvFeatures(filters=2, batch_size=1, verbose=verbose).fit(X)
    return est.transform(X)


def test_verbose_without_tqdm_prints_batches_and_time_left(no_tqdm, monkeypatch, capsys):
    # Batches end at 1, 2, ..., 6 s: nothing before 3 s, then a line every
    # 2 s and one for the last batch.  Time left = elapsed / done * batches left.
    six_batches(1, monkeypatch)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "[SeparableConvFeatures] batch 3/6, 3.0 s elapsed, about 3.0 s left",
        "[SeparableConvFeatures] batch 5/6, 5.0 s elapsed, about 1.0 s left",
        "[SeparableConvFeatures] batch 6/6, 6.0 s elapsed, about 0.0 s left",
    ]


def test_verbose_every_batch_once_the_interval_is_zero(no_tqdm, monkeypatch, capsys):
    monkeypatch.setattr(_progress, "_REPORT_AFTER_S", 0.0)
    monkeypatch.setattr(_progress, "_REPORT_EVERY_S", 0.0)
    X = images(n=5)
    SeparableConvFeatures(filters=2, batch_size=2, verbose=True).fit(X).transform(X)
    done = re.findall(r"^\[SeparableConvFeatures\] batch (\d)/3, ", capsys.readouterr().err, re.M)
    assert done == ["1", "2", "3"]


def test_verbose_with_tqdm_opens_a_bar_after_the_threshold(fake_tqdm, monkeypatch, capsys):
    six_batches(2, monkeypatch)
    assert capsys.readouterr().err == ""
    (bar,) = fake_tqdm
    assert (bar.desc, bar.unit, bar.file) == ("SeparableConvFeatures", "batch", sys.stderr)
    assert (bar.total, bar.initial, bar.n, bar.closed) == (6, 3, 6, True)


@pytest.mark.parametrize("tqdm_fixture", ["no_tqdm", "fake_tqdm"])
def test_verbose_zero_reports_nothing(tqdm_fixture, request, monkeypatch, capsys):
    bars = request.getfixturevalue(tqdm_fixture)
    six_batches(0, monkeypatch)
    assert capsys.readouterr() == ("", "")
    assert not bars


def test_verbose_short_transform_reports_nothing(no_tqdm, capsys):
    # The real clock: a transform of 5 small images ends well before 3 s.
    X = images()
    SeparableConvFeatures(filters=2, batch_size=1, verbose=1).fit(X).transform(X)
    assert capsys.readouterr() == ("", "")


def test_verbose_is_a_parameter_that_survives_clone_and_set_params():
    est = SeparableConvFeatures(verbose=2)
    assert est.get_params()["verbose"] == 2
    assert clone(est).verbose == 2
    assert est.set_params(verbose=False).verbose is False
    assert SeparableConvFeatures().verbose == 0


def test_verbose_dask_transform_prints_nothing_per_block(no_tqdm, monkeypatch, capsys):
    da = pytest.importorskip("dask.array")
    monkeypatch.setattr(_progress, "_REPORT_AFTER_S", 0.0)
    X = images(n=6)
    est = SeparableConvFeatures(filters=2, batch_size=1, verbose=1).fit(X)
    lazy = est.transform(da.from_array(X, chunks=(2, -1, -1, -1)))
    assert_allclose(lazy.compute(scheduler="sync"), est.set_params(verbose=0).transform(X))
    assert capsys.readouterr() == ("", "")


def test_verbose_with_the_real_tqdm(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(_progress, "_REPORT_AFTER_S", 0.0)
    X = images(n=6)
    SeparableConvFeatures(filters=2, batch_size=2, verbose=1).fit(X).transform(X)
    err = capsys.readouterr().err
    assert "SeparableConvFeatures" in err and "3/3" in err
