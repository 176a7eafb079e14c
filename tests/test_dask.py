"""sepconv.dask.transform: lazy shapes, chunks and dtypes, values from the reference."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import feature_reference
from sepconv import dask as sepconv_dask
from sepconv.transformer import SeparableConvFeatures

da = pytest.importorskip("dask.array")

RNG = np.random.default_rng(99)


def expected_features(est, images):
    return feature_reference.features(images, est.depthwise_kernel_, est.pointwise_kernel_,
                                      grid=(2, 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
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
    with pytest.raises(ValueError, match=r"X must be a 2-D \(n_samples, n_features\) or 4-D "
                                         r"image Dask array; received shape \(2, 2, 2\)"):
        sepconv_dask.transform(est, da.ones((2, 2, 2)))
